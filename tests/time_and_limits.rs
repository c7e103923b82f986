//! Time zones, label limits and custom sums, end to end through
//! `deskpulse replay -`:
//!
//! - the `today` window (SPEC §3, README "Behaviour where the spec is
//!   silent"): local midnight, previous-day events that arrive after it,
//!   and the 23- and 25-hour days of a DST change;
//! - cardinality limits (SPEC §5.3, config `[limits]`): values beyond the
//!   limit fold into `other` in every family with a `queue` label, are
//!   counted, and change no total;
//! - `[[custom_ratio]]` sums over a field that is missing or not a number.
//!
//! Instants are written as local wall time plus the zone's UTC offset,
//! converted with a civil-calendar formula of this file (not the program's
//! time-zone library), so that the expected windows follow from the
//! offsets stated in the comments.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::{json, Value};

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Epoch milliseconds of local wall time `y-m-d h:mi:s.ms` at UTC offset
/// `offset_min` minutes (east positive): local − offset = UTC.
fn local_ms(
    (y, m, d): (i64, i64, i64),
    (h, mi, s, ms): (i64, i64, i64, i64),
    offset_min: i64,
) -> i64 {
    days_from_civil(y, m, d) * 24 * HOUR + h * HOUR + mi * MIN + s * SEC + ms - offset_min * MIN
}

#[test]
fn civil_calendar_helper_matches_known_instants() {
    // T0 of tests/common is 2023-11-14T22:13:20Z.
    assert_eq!(local_ms((2023, 11, 14), (22, 13, 20, 0), 0), T0);
    // 2026-01-01T00:00:00Z = 1767225600 s.
    assert_eq!(local_ms((2026, 1, 1), (0, 0, 0, 0), 0), 1_767_225_600 * SEC);
    // Offsets: 01:00+01:00 is midnight UTC.
    assert_eq!(
        local_ms((2026, 1, 1), (1, 0, 0, 0), 60),
        1_767_225_600 * SEC
    );
}

/// An `interaction.completed` whose handle time is `talk_s` seconds
/// (no hold, no after-call work; §7.10): each event's handle time is a
/// distinct power of two times 100 s, so the `_sum` of a handle summary
/// says exactly which events a window holds.
fn completed(id: &str, ts: i64, talk_s: i64, queue: &str) -> String {
    event(
        id,
        "interaction.completed",
        ts,
        json!({"interaction_id": id, "queue": queue, "channel": "phone",
               "wait_s": 5, "talk_s": talk_s}),
    )
}

/// (`_sum`, `_count`) of `support_handle_window_seconds` for these labels;
/// a window without values may be left out (§7.13), which reads (0, 0).
fn handle_window(m: &Metrics, labels: &[(&str, &str)]) -> (f64, f64) {
    (
        m.get("support_handle_window_seconds_sum", labels)
            .unwrap_or(0.0),
        m.get("support_handle_window_seconds_count", labels)
            .unwrap_or(0.0),
    )
}

fn window(w: &str) -> [(&str, &str); 1] {
    [("window", w)]
}

/// Local midnight in Asia/Kolkata (UTC+05:30 all year, no DST; the half
/// hour keeps midnight off the UTC hour grid): only events of the current
/// local day count in `today`; rolling windows ignore midnight; a
/// previous-day event that arrives after midnight within the allowed
/// lateness skips `today` but lands in the rolling windows; a late one
/// lands in the cumulative histogram only.
#[test]
fn today_starts_at_local_midnight_and_previous_day_events_skip_it() {
    const IST: i64 = 5 * 60 + 30;
    let jan14 = |h, mi, s, ms| local_ms((2026, 1, 14), (h, mi, s, ms), IST);
    let jan15 = |h, mi, s, ms| local_ms((2026, 1, 15), (h, mi, s, ms), IST);

    // In the order read (replay's clock = largest ts so far):
    let before = jan14(23, 59, 59, 999); // 100 s, queue eve; clock 23:59:59.999
    let after = jan15(0, 0, 0, 0); //        200 s; clock 00:00:00.000
    let prev1 = jan14(23, 58, 0, 0); //      400 s: 2 min behind → on time
    let later = jan15(0, 3, 0, 0); //        800 s; clock 00:03:00
    let prev2 = jan14(23, 59, 0, 0); //     1600 s: 4 min behind → on time
    let too_late = jan14(23, 57, 59, 999); // 3200 s: 5 min 0.001 s behind → late (§7.4)
    let lines = [
        completed("before", before, 100, "eve"),
        completed("after", after, 200, "day"),
        completed("prev1", prev1, 400, "day"),
        completed("later", later, 800, "day"),
        completed("prev2", prev2, 1600, "day"),
        completed("too_late", too_late, 3200, "day"),
    ];
    let config = "[metrics]\ntimezone = \"Asia/Kolkata\"\ntoday = true\n";
    let run = replay_with_config(&lines, config);
    let m = &run.metrics;
    assert_eq!(run.rejected_all(), 0.0, "{}", run.stderr);
    assert_eq!(run.late(), 1.0, "only too_late is > 300 s behind");

    // today = events of 2026-01-15 local: after + later = 200 + 800.
    assert_eq!(handle_window(m, &window("today")), (1000.0, 2.0));
    // 1h and 24h ignore midnight: every on-time event,
    // 100 + 200 + 400 + 800 + 1600 = 3100 s over 5.
    assert_eq!(handle_window(m, &window("1h")), (3100.0, 5.0));
    assert_eq!(handle_window(m, &window("24h")), (3100.0, 5.0));
    // 5m: slots of 5 s aligned to the epoch; T = 00:03:00 local is a slot
    // start, so the window is [T − 59·5 s, T + 5 s) = [23:58:05, 00:03:05):
    // prev1 (23:58:00) is out: 3100 − 400 = 2700 over 4.
    assert_eq!(handle_window(m, &window("5m")), (2700.0, 4.0));
    // The late event still reaches the cumulative histogram (§7.4):
    // 3100 + 3200 = 6300 s over 6.
    assert_eq!(m.sum("support_handle_seconds_sum", &[]), 6300.0);
    assert_eq!(m.sum("support_handle_seconds_count", &[]), 6.0);

    // Per queue: `eve` had only the 23:59:59.999 event: nothing today,
    // one in 24h.
    assert_eq!(
        handle_window(m, &[("queue", "eve"), ("window", "today")]),
        (0.0, 0.0)
    );
    assert_eq!(
        handle_window(m, &[("queue", "eve"), ("window", "24h")]),
        (100.0, 1.0)
    );
    assert_eq!(
        handle_window(m, &[("queue", "day"), ("window", "today")]),
        (1000.0, 2.0)
    );

    // Exported as at the last millisecond of the day: the same `today`.
    let at_end = replay_with_args(
        &join(&lines),
        Some(config),
        &["--at", "2026-01-15T23:59:59.999+05:30"],
    );
    at_end.assert_ok();
    assert_eq!(
        handle_window(&at_end.metrics, &window("today")),
        (1000.0, 2.0)
    );
    // One millisecond later, at the next local midnight, `today` is a new,
    // empty day.
    let next_day = replay_with_args(
        &join(&lines),
        Some(config),
        &["--at", "2026-01-16T00:00:00+05:30"],
    );
    next_day.assert_ok();
    assert_eq!(
        handle_window(&next_day.metrics, &window("today")),
        (0.0, 0.0)
    );

    // CSAT in `today` (the ratio the brief names): an unsatisfied response
    // (score 1) just before midnight and a satisfied one (score 5) just
    // after: today 1 of 1 → 1.0, 24h 1 of 2 → 0.5; a previous-day
    // unsatisfied one arriving after midnight leaves today at 1.0 and
    // makes 24h 1 of 3.
    let csat =
        |id: &str, ts: i64, score: i64| event(id, "survey.csat", ts, json!({"score": score}));
    let lines = [
        csat("c1", before, 1),
        csat("c2", after, 5),
        csat("c3", prev1, 1),
    ];
    let run = replay_with_config(&lines, config);
    let m = &run.metrics;
    assert_close(
        m.value("support_csat_ratio", &window("today")),
        1.0,
        "today",
    );
    assert_close(
        m.value("support_csat_ratio", &window("24h")),
        1.0 / 3.0,
        "24h",
    );
}

/// Without `today = true` there is no `today` series at all; with the
/// default zone (UTC) midnight is 00:00Z.
#[test]
fn today_is_optional_and_defaults_to_utc() {
    let lines = [
        completed("a", local_ms((2026, 1, 14), (23, 59, 0, 0), 0), 100, "q"),
        completed("b", local_ms((2026, 1, 15), (0, 1, 0, 0), 0), 200, "q"),
    ];
    let run = replay(&lines);
    // UTC day of 2026-01-15: only b.
    assert_eq!(handle_window(&run.metrics, &window("today")), (200.0, 1.0));
    let off = replay_with_config(&lines, "[metrics]\ntoday = false\n");
    assert_eq!(
        off.metrics
            .series
            .keys()
            .filter(|(_, labels)| labels.get("window").map(String::as_str) == Some("today"))
            .count(),
        0
    );
}

/// Replays one `interaction.completed` per (ts, talk seconds) in queue
/// `q`, with `today` in Europe/Berlin, exported at `at`; nothing rejected.
fn berlin_handle_times(events: &[(i64, i64)], at: &str) -> Run {
    let config = "[metrics]\ntimezone = \"Europe/Berlin\"\ntoday = true\n";
    let mut s = Stream::new();
    for &(ts, talk) in events {
        s.add(
            "interaction.completed",
            ts,
            json!({"interaction_id": format!("i{ts}"), "queue": "q",
                   "wait_s": 5, "talk_s": talk}),
        );
    }
    let run = replay_with_args(&join(&s.lines()), Some(config), &["--at", at]);
    run.assert_ok();
    assert_eq!(run.rejected_all(), 0.0, "{}", run.stderr);
    run
}

/// Europe/Berlin: CET (UTC+1) in winter, CEST (UTC+2) from the last
/// Sunday of March at 02:00 local (01:00Z) to the last Sunday of October
/// at 03:00 local (01:00Z). 2026-03-29 has 23 hours, 2026-10-25 has 25.
/// On both, events at local 00:30 and 23:30 (and around the change) count
/// in `today` at 23:45 local, and one at 23:59 of the previous day does not.
#[test]
fn today_spans_the_23_and_25_hour_days_of_dst_changes() {
    const CET: i64 = 60;
    const CEST: i64 = 120;
    // 24h window: 60 slots of 24 min aligned to the epoch, covering
    // [(slot(T) − 59)·24 min, (slot(T) + 1)·24 min): it starts between
    // 24 h and 23 h 36 min before T.
    let slot = 24 * MIN;
    let window_24h_start = |t: i64| (t.div_euclid(slot) - 59) * slot;

    // --- 2026-03-29, 23 hours: midnight is 2026-03-28T23:00Z (CET).
    let prev = local_ms((2026, 3, 28), (23, 59, 0, 0), CET); //  100 s
    let early = local_ms((2026, 3, 29), (0, 30, 0, 0), CET); //  200 s
    let late = local_ms((2026, 3, 29), (23, 30, 0, 0), CEST); // 400 s

    // First instant after the gap: 03:00 CEST = 01:00Z, right after
    // 01:59:59.999 CET.
    let after_gap = local_ms((2026, 3, 29), (3, 0, 0, 0), CEST); // 800 s
    assert_eq!(
        after_gap - local_ms((2026, 3, 29), (1, 59, 59, 999), CET),
        1
    );
    let at = local_ms((2026, 3, 29), (23, 45, 0, 0), CEST);
    assert_eq!(
        local_ms((2026, 3, 30), (0, 0, 0, 0), CEST) - local_ms((2026, 3, 29), (0, 0, 0, 0), CET),
        23 * HOUR
    );
    let run = berlin_handle_times(
        &[(prev, 100), (early, 200), (after_gap, 800), (late, 400)],
        "2026-03-29T23:45:00+02:00",
    );
    let m = &run.metrics;
    // today: early + after_gap + late = 200 + 800 + 400 = 1400 s over 3.
    assert_eq!(handle_window(m, &window("today")), (1400.0, 3.0));
    // 24h at 23:45 CEST (21:45Z): prev (22:59Z the day before, 22 h 46 min
    // back) is inside, so 24h holds all four: 1500 s.
    assert!(window_24h_start(at) <= prev);
    assert_eq!(handle_window(m, &window("24h")), (1500.0, 4.0));

    // --- 2026-10-25, 25 hours: midnight is 2026-10-24T22:00Z (CEST).
    let prev = local_ms((2026, 10, 24), (23, 59, 0, 0), CEST); //  100 s
    let early = local_ms((2026, 10, 25), (0, 30, 0, 0), CEST); //  200 s
    let late = local_ms((2026, 10, 25), (23, 30, 0, 0), CET); //   400 s

    // 02:30 happens twice: first in CEST (00:30Z), then in CET (01:30Z).
    let first_0230 = local_ms((2026, 10, 25), (2, 30, 0, 0), CEST); //  800 s
    let second_0230 = local_ms((2026, 10, 25), (2, 30, 0, 0), CET); // 1600 s
    assert_eq!(second_0230 - first_0230, HOUR);
    let at = local_ms((2026, 10, 25), (23, 45, 0, 0), CET);
    assert_eq!(
        local_ms((2026, 10, 26), (0, 0, 0, 0), CET) - local_ms((2026, 10, 25), (0, 0, 0, 0), CEST),
        25 * HOUR
    );
    let run = berlin_handle_times(
        &[
            (prev, 100),
            (early, 200),
            (first_0230, 800),
            (second_0230, 1600),
            (late, 400),
        ],
        "2026-10-25T23:45:00+01:00",
    );
    let m = &run.metrics;
    // today: 200 + 800 + 1600 + 400 = 3000 s over 4.
    assert_eq!(handle_window(m, &window("today")), (3000.0, 4.0));
    assert_eq!(
        handle_window(m, &[("queue", "q"), ("window", "today")]),
        (3000.0, 4.0)
    );
    // 24h at 23:45 CET (22:45Z): a 25-hour day is longer than the window.
    // early (22:30Z the day before, 24 h 15 min back) and prev (21:59Z)
    // are outside; 800 + 1600 + 400 = 2800 s over 3 inside.
    assert!(window_24h_start(at) > early);
    assert!(window_24h_start(at) <= first_0230);
    assert_eq!(handle_window(m, &window("24h")), (2800.0, 3.0));
}

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

const SUM_CONFIG: &str = r#"
[[custom_ratio]]
name = "mean_cost"
numerator = { type = "cost.recorded", sum = "amount" }
denominator = { type = "cost.recorded" }

[[custom_ratio]]
name = "refund_share"
numerator = { type = "refund.recorded", sum = "amount" }
denominator = { type = "cost.recorded", sum = "amount" }

[[custom_ratio]]
name = "per_bad_amount"
numerator = { type = "cost.recorded" }
denominator = { type = "bad.recorded", sum = "amount" }
"#;

/// `sum` over a numeric field (config/deskpulse.toml: "adds up a numeric
/// field (events without it are skipped)"): an event where the field is
/// missing, `null` (absent, README), or not a JSON number (a string, even
/// a numeral, a bool, an array, an object) adds nothing to that side; the
/// event is still accepted and still counts in a counting side. A side
/// whose sum stays 0 is an empty denominator: no series.
#[test]
fn custom_sum_skips_missing_and_non_numeric_fields() {
    let amounts: [Option<Value>; 9] = [
        Some(json!(10)),
        Some(json!(2.5)),
        None,
        Some(json!("7")),
        Some(json!(true)),
        Some(Value::Null),
        Some(json!([1])),
        Some(json!({"value": 1})),
        Some(json!(-0.5)),
    ];
    let mut s = Stream::new();
    for (k, amount) in amounts.iter().enumerate() {
        let mut fields = json!({"ticket_ref": format!("t{k}")});
        if let Some(a) = amount {
            fields["amount"] = a.clone();
        }
        s.add("cost.recorded", T0 + k as i64 * MIN, fields);
    }
    for (k, amount) in [json!(3), json!("1"), json!(false)].iter().enumerate() {
        s.add(
            "refund.recorded",
            T0 + k as i64 * MIN,
            json!({"amount": amount}),
        );
    }
    for (k, amount) in [Some(json!("5")), Some(Value::Null), None]
        .iter()
        .enumerate()
    {
        let mut fields = json!({});
        if let Some(a) = amount {
            fields["amount"] = a.clone();
        }
        s.add("bad.recorded", T0 + k as i64 * MIN, fields);
    }
    assert!(s.clock() - T0 < 50 * MIN);

    let run = replay_with_config(&s.lines(), SUM_CONFIG);
    let m = &run.metrics;
    assert_eq!(run.rejected_all(), 0.0, "{}", run.stderr);
    assert_eq!(
        m.value("deskpulse_events_total", &[("type", "cost.recorded")]),
        9.0
    );
    // Numbers only: 10 + 2.5 − 0.5 = 12, over all 9 cost events counted.
    assert_close(
        m.value("support_custom_mean_cost", &window("1h")),
        12.0 / 9.0,
        "mean cost",
    );
    // Refund 3 (the "1" and false add nothing) over the cost sum 12.
    assert_close(
        m.value("support_custom_refund_share", &window("1h")),
        3.0 / 12.0,
        "refund share",
    );
    // No bad.recorded carries a number: denominator 0, no series.
    assert_eq!(m.count("support_custom_per_bad_amount", &[]), 0);
}
