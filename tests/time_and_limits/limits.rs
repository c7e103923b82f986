//! Cardinality limits: values beyond the limit fold into `other` in
//! every family with a `queue` label, are counted, and change no total.

use std::collections::BTreeMap;

use serde_json::json;

use crate::common::*;
use crate::*;

/// A family name for one series: histogram and summary parts
/// (`_bucket`, `_sum`, `_count`) belong to their base family.
fn family(name: &str) -> &str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            return base;
        }
    }
    name
}

/// `[limits] queue = 3`: the first three queue values seen keep their
/// name; the fourth and fifth fold into `other` in every family with a
/// `queue` label, `deskpulse_label_overflow_total{label="queue"}` counts
/// the events whose queue value was folded, and no total changes.
#[test]
fn queues_beyond_the_limit_fold_into_other_everywhere() {
    let queues = ["q1", "q2", "q3", "q4", "q5"];
    let folded = |q: &str| q == "q4" || q == "q5";
    // Events carrying a queue value that gets folded (README: "events
    // whose queue … value was folded into other").
    let mut folded_events = 0u64;
    let mut s = Stream::new();
    let mut carry = |q: &str| {
        if folded(q) {
            folded_events += 1;
        }
    };
    for (n, q) in queues.iter().enumerate() {
        let base = T0 + n as i64 * MIN;
        // A ticket through its whole life: first response 2 min, a customer
        // reply and a next reply 1 min later, resolved, reopened, resolved
        // again, and a CSAT survey that takes its queue (§1.3).
        let t = format!("{q}-done");
        let tid = json!({"ticket_id": t});
        s.add(
            "ticket.created",
            base,
            json!({"ticket_id": t, "queue": q, "channel": "email", "category": "billing"}),
        );
        carry(q);
        s.add(
            "ticket.agent_replied",
            base + 2 * MIN,
            json!({"ticket_id": t, "agent_id": "a1"}),
        );
        s.add("ticket.customer_replied", base + 3 * MIN, tid.clone());
        s.add(
            "ticket.agent_replied",
            base + 4 * MIN,
            json!({"ticket_id": t, "agent_id": "a1"}),
        );
        s.add("ticket.resolved", base + 5 * MIN, tid.clone());
        s.add("ticket.reopened", base + 6 * MIN, tid.clone());
        s.add("ticket.resolved", base + 7 * MIN, tid.clone());
        s.add(
            "survey.csat",
            base + 8 * MIN,
            json!({"ticket_id": t, "score": 5}),
        );
        // A single-reply ticket resolved at once: a first contact resolution.
        let t = format!("{q}-fcr");
        s.add(
            "ticket.created",
            base + 10 * SEC,
            json!({"ticket_id": t, "queue": q, "channel": "chat"}),
        );
        carry(q);
        s.add(
            "ticket.agent_replied",
            base + MIN,
            json!({"ticket_id": t, "agent_id": "a2"}),
        );
        s.add("ticket.resolved", base + 90 * SEC, json!({"ticket_id": t}));
        // Open tickets: one never answered, one pending.
        let t = format!("{q}-open");
        s.add(
            "ticket.created",
            base + 20 * SEC,
            json!({"ticket_id": t, "queue": q, "priority": "high"}),
        );
        carry(q);
        let t = format!("{q}-pending");
        s.add(
            "ticket.created",
            base + 30 * SEC,
            json!({"ticket_id": t, "queue": q}),
        );
        carry(q);
        s.add(
            "ticket.agent_replied",
            base + 40 * SEC,
            json!({"ticket_id": t, "agent_id": "a3"}),
        );
        s.add(
            "ticket.status_changed",
            base + 50 * SEC,
            json!({"ticket_id": t, "status": "pending"}),
        );
        // Interactions: one handled from lifecycle events, one abandoned,
        // one still waiting, one summary record.
        let i = format!("{q}-call");
        s.add(
            "interaction.queued",
            base,
            json!({"interaction_id": i, "queue": q}),
        );
        carry(q);
        s.add(
            "interaction.answered",
            base + 15 * SEC,
            json!({"interaction_id": i, "agent_id": "a4"}),
        );
        s.add(
            "interaction.ended",
            base + 5 * MIN,
            json!({"interaction_id": i}),
        );
        s.add(
            "interaction.wrapup_ended",
            base + 6 * MIN,
            json!({"interaction_id": i}),
        );
        let i = format!("{q}-gone");
        s.add(
            "interaction.queued",
            base,
            json!({"interaction_id": i, "queue": q}),
        );
        carry(q);
        s.add(
            "interaction.abandoned",
            base + 40 * SEC,
            json!({"interaction_id": i}),
        );
        let i = format!("{q}-waiting");
        s.add(
            "interaction.queued",
            base + 30 * SEC,
            json!({"interaction_id": i, "queue": q}),
        );
        carry(q);
        let i = format!("{q}-summary");
        s.add(
            "interaction.completed",
            base + 9 * MIN,
            json!({"interaction_id": i, "queue": q, "channel": "chat",
                   "wait_s": 12, "talk_s": 180, "hold_s": 20, "acw_s": 40}),
        );
        carry(q);
    }
    // Transfers: a ticket of q1 moved to q5 (folded: counted), and one of q4
    // moved to q2 (a kept value: not counted) by ticket.updated; both then
    // resolve under their new queue (§7.3).
    s.add(
        "ticket.created",
        T0 + 20 * MIN,
        json!({"ticket_id": "moved-out", "queue": "q1"}),
    );
    carry("q1");
    s.add(
        "ticket.assigned",
        T0 + 21 * MIN,
        json!({"ticket_id": "moved-out", "agent_id": "a1", "queue": "q5"}),
    );
    carry("q5");
    s.add(
        "ticket.resolved",
        T0 + 22 * MIN,
        json!({"ticket_id": "moved-out"}),
    );
    s.add(
        "ticket.created",
        T0 + 20 * MIN,
        json!({"ticket_id": "moved-in", "queue": "q4"}),
    );
    carry("q4");
    s.add(
        "ticket.updated",
        T0 + 21 * MIN,
        json!({"ticket_id": "moved-in", "queue": "q2"}),
    );
    carry("q2");
    s.add(
        "ticket.resolved",
        T0 + 22 * MIN,
        json!({"ticket_id": "moved-in"}),
    );
    // Rejected events change no state (§7.1), so they fold nothing: a
    // duplicate ticket.created and a transfer of an unknown ticket, both
    // naming new queue values.
    s.add(
        "ticket.created",
        T0 + 23 * MIN,
        json!({"ticket_id": "q1-open", "queue": "q8"}),
    );
    s.add(
        "ticket.assigned",
        T0 + 23 * MIN,
        json!({"ticket_id": "nobody", "agent_id": "a1", "queue": "q9"}),
    );
    let lines = s.lines();
    // Per queue: 4 ticket.created + 3 interaction.queued + 1 completed = 8
    // events with a queue; q4 and q5: 16; plus the transfer to q5 and
    // moved-in's creation in q4: 18.
    assert_eq!(folded_events, 2 * 8 + 2);

    let limited = replay_with_config(&lines, "[limits]\nqueue = 3\n");
    let plain = replay(&lines);
    let (lm, pm) = (&limited.metrics, &plain.metrics);
    for run in [&limited, &plain] {
        assert_eq!(run.rejected("duplicate_ticket"), 1.0);
        assert_eq!(run.rejected("unknown_ticket"), 1.0);
        assert_eq!(run.rejected_all(), 2.0, "{}", run.stderr);
    }
    assert_eq!(
        lm.value("deskpulse_label_overflow_total", &[("label", "queue")]),
        folded_events as f64
    );
    assert_eq!(
        pm.value("deskpulse_label_overflow_total", &[("label", "queue")]),
        0.0
    );

    // Every series with a queue label names a kept queue or `other`, and
    // every family with a queue label without the limit has an `other`
    // series with it.
    let kept = ["q1", "q2", "q3", "other"];
    let mut families_with_queue: BTreeMap<String, bool> = BTreeMap::new();
    for (name, labels) in pm.series.keys() {
        if labels.contains_key("queue") && !name.starts_with("deskpulse_") {
            families_with_queue.insert(family(name).to_owned(), false);
        }
    }
    for (name, labels) in lm.series.keys() {
        if let Some(q) = labels.get("queue") {
            assert!(
                kept.contains(&q.as_str()),
                "{name}{labels:?}: queue {q:?} beyond the limit"
            );
            if q == "other" {
                families_with_queue.insert(family(name).to_owned(), true);
            }
        }
    }
    // The families SPEC §5.1 gives a queue label that this stream feeds.
    for expected in [
        "support_tickets_created_total",
        "support_tickets_resolved_total",
        "support_tickets_reopened_total",
        "support_first_contact_resolutions_total",
        "support_csat_responses_total",
        "support_interactions_total",
        "support_first_response_seconds",
        "support_next_reply_seconds",
        "support_resolution_seconds",
        "support_handle_seconds",
        "support_answer_wait_seconds",
        "support_first_response_window_seconds",
        "support_next_reply_window_seconds",
        "support_resolution_window_seconds",
        "support_handle_window_seconds",
        "support_answer_wait_window_seconds",
        "support_resolution_ratio",
        "support_csat_ratio",
        "support_tickets_open",
        "support_oldest_open_ticket_age_seconds",
        "support_oldest_unanswered_ticket_age_seconds",
        "support_interactions_waiting",
        "support_longest_wait_seconds",
    ] {
        assert!(
            families_with_queue.contains_key(expected),
            "{expected} has no queue label without the limit"
        );
    }
    let missing: Vec<&String> = families_with_queue
        .iter()
        .filter(|(_, has_other)| !**has_other)
        .map(|(f, _)| f)
        .collect();
    assert!(
        missing.is_empty(),
        "no queue=\"other\" series in {missing:?}"
    );

    // Folding is relabelling: take the unlimited run, rename q4 and q5 to
    // `other` and merge: counters, histogram buckets/_sum/_count, windowed
    // `_sum`/`_count`, backlog and waiting add up; ages take the oldest.
    // The limited run must show exactly that.
    let is_age = |name: &str| {
        name == "support_oldest_open_ticket_age_seconds"
            || name == "support_oldest_unanswered_ticket_age_seconds"
            || name == "support_longest_wait_seconds"
    };
    let additive = |name: &str| {
        (name.ends_with("_total") && name.starts_with("support_"))
            || name.ends_with("_bucket")
            || (name.starts_with("support_")
                && (name.ends_with("_sum") || name.ends_with("_count")))
            || name == "support_tickets_open"
            || name == "support_interactions_waiting"
    };
    let mut expected: BTreeMap<(String, Labels), f64> = BTreeMap::new();
    for ((name, labels), &v) in &pm.series {
        let Some(q) = labels.get("queue") else {
            continue;
        };
        if !(additive(name) || is_age(name)) {
            continue;
        }
        let mut labels = labels.clone();
        if folded(q) {
            labels.insert("queue".into(), "other".into());
        }
        let entry = expected.entry((name.clone(), labels));
        if is_age(name) {
            let slot = entry.or_insert(f64::NEG_INFINITY);
            *slot = slot.max(v);
        } else {
            *entry.or_insert(0.0) += v;
        }
    }
    let actual: BTreeMap<(String, Labels), f64> = lm
        .series
        .iter()
        .filter(|((name, labels), _)| {
            labels.contains_key("queue") && (additive(name) || is_age(name))
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    // 5 queues' worth of series fed: the comparison is not vacuous.
    assert!(
        expected
            .keys()
            .filter(|(_, l)| l.get("queue").map(String::as_str) == Some("other"))
            .count()
            >= 50,
        "few series of queue other: {}",
        expected.len()
    );
    for (key, want) in &expected {
        let got = actual.get(key).copied();
        assert!(
            got.is_some_and(|g| (g - want).abs() <= 1e-9 * want.abs().max(1.0)),
            "{key:?}: expected {want} (q4, q5 merged), got {got:?}"
        );
    }
    for key in actual.keys() {
        assert!(expected.contains_key(key), "unexpected series {key:?}");
    }

    // Totals over all queues, hand-counted, are those of the unlimited run.
    // Per queue: 4 created, 3 resolutions (2 of done, 1 of fcr), 1 reopen,
    // 2 first contact resolution candidates of which fcr is one (done had
    // a customer reply after its reply), 1 CSAT; plus moved-out and
    // moved-in: 2 created, 2 resolved.
    let counters = [
        ("support_tickets_created_total", 5.0 * 4.0 + 2.0),
        ("support_tickets_resolved_total", 5.0 * 3.0 + 2.0),
        ("support_tickets_reopened_total", 5.0),
        ("support_first_contact_resolutions_total", 5.0),
        ("support_csat_responses_total", 5.0),
        // answered: call + summary; abandoned: gone.
        ("support_interactions_total", 5.0 * 3.0),
        // first responses: done, fcr, pending.
        ("support_first_response_seconds_count", 5.0 * 3.0),
        ("support_next_reply_seconds_count", 5.0),
        // first resolutions: done, fcr, and the two moved tickets.
        ("support_resolution_seconds_count", 5.0 * 2.0 + 2.0),
        ("support_handle_seconds_count", 5.0 * 2.0),
        ("support_answer_wait_seconds_count", 5.0 * 2.0),
    ];
    for (name, total) in counters {
        assert_eq!(pm.sum(name, &[]), total, "{name} without the limit");
        assert_eq!(lm.sum(name, &[]), total, "{name} with queue = 3");
    }
    // Sums of durations: the same instants in both runs.
    for name in [
        "support_first_response_seconds_sum",
        "support_resolution_seconds_sum",
        "support_handle_seconds_sum",
        "support_answer_wait_seconds_sum",
    ] {
        assert_close(lm.sum(name, &[]), pm.sum(name, &[]), name);
    }
    // handle: call 6 min − 15 s = 345 s, summary 180 + 20 + 40 = 240 s.
    assert_eq!(
        lm.sum("support_handle_seconds_sum", &[]),
        5.0 * (345.0 + 240.0)
    );

    // Hand-derived values of `other` = q4 + q5 + moved-out (now q5):
    // created 4 + 4 + moved-in (created in q4, moved away afterwards: the
    // counter keeps the queue at creation) = 9.
    assert_eq!(
        lm.sum("support_tickets_created_total", &[("queue", "other")]),
        9.0
    );
    // resolved: 3 + 3 + moved-out = 7; moved-in resolved under q2.
    assert_eq!(
        lm.sum("support_tickets_resolved_total", &[("queue", "other")]),
        7.0
    );
    assert_close(
        lm.value(
            "support_resolution_ratio",
            &[("queue", "other"), ("window", "1h")],
        ),
        7.0 / 9.0,
        "resolution ratio of other",
    );
    assert_close(
        lm.value(
            "support_csat_ratio",
            &[("queue", "other"), ("window", "1h")],
        ),
        1.0,
        "CSAT of other",
    );
    // Backlog of other: open + pending of q4 and q5 = 4; waiting: 2.
    assert_eq!(lm.sum("support_tickets_open", &[("queue", "other")]), 4.0);
    assert_eq!(
        lm.value("support_interactions_waiting", &[("queue", "other")]),
        2.0
    );
    // The whole-centre windowed series do not depend on the limit.
    for name in [
        "support_handle_window_seconds_count",
        "support_resolution_window_seconds_sum",
        "support_resolution_ratio",
        "support_first_contact_resolution_ratio",
    ] {
        assert_eq!(
            lm.get(name, &window("1h")),
            pm.get(name, &window("1h")),
            "{name}"
        );
    }
}

#[test]
fn a_missing_queue_reads_unknown_beyond_the_limit() {
    // `unknown` is deskpulse's value for a missing queue, not an input
    // value: with the limit (2) taken by q1 and q2, q3 folds into `other`,
    // but NPS surveys (which name no ticket, so no queue) stay `unknown`.
    let mut s = Stream::new();
    for (i, queue) in ["q1", "q2", "q3"].iter().enumerate() {
        s.add(
            "ticket.created",
            T0 + i as i64 * SEC,
            json!({"ticket_id": format!("t{i}"), "queue": queue}),
        );
    }
    // Scores 10 and 0: one promoter, one detractor → 50 % − 50 % = 0.
    s.add("survey.nps", T0 + 10 * SEC, json!({"score": 10}));
    s.add("survey.nps", T0 + 11 * SEC, json!({"score": 0}));
    let run = replay_with_config(&s.lines(), "[limits]\nqueue = 2\n");
    let m = &run.metrics;
    assert_close(
        m.value(
            "support_nps_score",
            &[("queue", "unknown"), ("window", "1h")],
        ),
        0.0,
        "NPS under queue=unknown",
    );
    assert_eq!(m.count("support_nps_score", &[("queue", "other")]), 0);
    // Only q3's ticket.created was folded.
    assert_close(
        m.value("deskpulse_label_overflow_total", &[("label", "queue")]),
        1.0,
        "folded events",
    );
}
