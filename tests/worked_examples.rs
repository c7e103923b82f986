//! The worked examples of SPEC §2, end to end: events in through
//! `deskpulse replay -`, numbers read back from the exposition (§5.1).
//!
//! Every example keeps all of its events inside the window it reads
//! (replay's clock is the largest `ts`, §3), and streams are replayed in
//! `ts` order so that no event is late.

mod common;

use common::*;
use serde_json::json;

/// `_sum` and `_count` of a windowed summary or cumulative histogram,
/// added over the series whose labels include `labels`.
fn sum_count(m: &Metrics, base: &str, labels: &[(&str, &str)]) -> (f64, f64) {
    (
        m.sum(&format!("{base}_sum"), labels),
        m.sum(&format!("{base}_count"), labels),
    )
}

#[test]
fn exposition_parser_handles_escapes_and_label_order() {
    let text = "# HELP m a metric\n# TYPE m gauge\n\
                m{b=\"q\\\"uo\\\\te\\nnl\",a=\"1\"} 2.5\n\
                n 3\n\
                h_bucket{le=\"+Inf\"} 7\n\
                g{x=\"a,b}c\"} -Inf\n";
    let m = Metrics::parse(text);
    assert_eq!(m.get("m", &[("a", "1"), ("b", "q\"uo\\te\nnl")]), Some(2.5));
    assert_eq!(m.get("m", &[("b", "q\"uo\\te\nnl"), ("a", "1")]), Some(2.5));
    assert_eq!(m.get("m", &[("a", "1")]), None, "label sets match exactly");
    assert_eq!(m.get("n", &[]), Some(3.0));
    assert_eq!(m.get("h_bucket", &[("le", "+Inf")]), Some(7.0));
    assert_eq!(m.get("g", &[("x", "a,b}c")]), Some(f64::NEG_INFINITY));
}

#[test]
fn label_values_with_quote_backslash_and_newline_round_trip() {
    let queue = "we\"ird\\queue\nline";
    let mut s = Stream::new();
    s.add(
        "ticket.created",
        T0,
        json!({"ticket_id": "t1", "queue": queue, "channel": "chat"}),
    );
    let run = replay(&s.lines());
    let m = &run.metrics;
    assert_eq!(
        m.value(
            "support_tickets_created_total",
            &[
                ("channel", "chat"),
                ("priority", "normal"),
                ("queue", queue)
            ]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "support_resolution_ratio",
            &[("queue", queue), ("window", "1h")]
        ),
        0.0
    );
}

/// FRT: 50 tickets, 200 min in total → mean 4 min. 25 tickets in
/// `billing` (75 min, mean 3) and 25 in `tech` (125 min, mean 5).
#[test]
fn first_response_time_50_tickets_200_minutes_mean_4_minutes() {
    let mut s = Stream::new();
    let mut expected_total_ms = 0;
    for i in 0..50i64 {
        let (queue, base) = if i < 25 { ("billing", 2) } else { ("tech", 4) };
        let j = i % 25;
        let minutes = match j {
            24 => base + 1,
            _ if j % 2 == 0 => base,
            _ => base + 2,
        };
        let frt = minutes * MIN;
        expected_total_ms += frt;
        let t = format!("t{i}");
        let created = T0 + i * 30 * SEC;
        s.add(
            "ticket.created",
            created,
            json!({"ticket_id": t, "queue": queue, "channel": "email", "customer_id": format!("c{i}")}),
        );
        if i % 10 == 0 {
            // A private note is not a reply (§7.6): it does not end the clock.
            s.add(
                "ticket.agent_replied",
                created + 30 * SEC,
                json!({"ticket_id": t, "agent_id": "ann", "public": false}),
            );
        }
        if i % 7 == 0 {
            // A customer reply before the first agent reply starts no clock.
            s.add(
                "ticket.customer_replied",
                created + 45 * SEC,
                json!({"ticket_id": t}),
            );
        }
        s.add(
            "ticket.agent_replied",
            created + frt,
            json!({"ticket_id": t, "agent_id": "ann"}),
        );
        if i % 5 == 0 {
            // A second public reply changes no first response.
            s.add(
                "ticket.agent_replied",
                created + frt + 2 * MIN,
                json!({"ticket_id": t, "agent_id": "bob", "public": true}),
            );
        }
    }
    assert_eq!(expected_total_ms, 200 * MIN);
    assert!(s.clock() - T0 < 50 * MIN, "all inside the 1h window");

    let run = replay(&s.lines());
    let m = &run.metrics;
    let base = "support_first_response_window_seconds";
    for window in ["1h", "24h"] {
        let (sum, count) = window_sum_count(m, base, &[("window", window)]);
        assert_eq!(count, 50.0, "{window}");
        assert_close(sum, 12_000.0, &format!("{window} sum"));
        assert_close(sum / count, 240.0, &format!("{window} mean FRT"));
    }
    // Per queue (windowed_by = ["queue"] by default, §5.1).
    let (sum, count) = window_sum_count(m, base, &[("queue", "billing"), ("window", "1h")]);
    assert_eq!(count, 25.0);
    assert_close(sum / count, 180.0, "billing mean FRT");
    let (sum, count) = window_sum_count(m, base, &[("queue", "tech"), ("window", "1h")]);
    assert_eq!(count, 25.0);
    assert_close(sum / count, 300.0, "tech mean FRT");

    // Nearest-rank quantiles (§7.13) over 12×2, 1×3, 24×4, 1×5, 12×6 min.
    let q = |quantile: &str| m.value(base, &[("window", "1h"), ("quantile", quantile)]);
    assert_quantile(q("0.5"), 240.0, "p50");
    assert_quantile(q("0.9"), 360.0, "p90");
    assert_quantile(q("0.99"), 360.0, "p99");

    // The cumulative histogram holds the same 50 values.
    let (sum, count) = sum_count(m, "support_first_response_seconds", &[]);
    assert_eq!(count, 50.0);
    assert_close(sum, 12_000.0, "cumulative sum");
    let (sum, count) = sum_count(
        m,
        "support_first_response_seconds",
        &[("queue", "billing"), ("channel", "email")],
    );
    assert_eq!(count, 25.0);
    assert_close(sum, 4_500.0, "cumulative billing sum");
    let bucket = |le: &str| m.sum("support_first_response_seconds_bucket", &[("le", le)]);
    assert_eq!(bucket("60"), 0.0, "no FRT under a minute");
    assert_eq!(bucket("300"), 38.0, "FRT ≤ 5 min (le is inclusive)");
    assert_eq!(bucket("900"), 50.0);
    assert_eq!(bucket("+Inf"), 50.0);

    // No customer reply came after a first reply: no next-reply clock ran.
    let (_, count) = window_sum_count(m, "support_next_reply_window_seconds", &[("window", "1h")]);
    assert_eq!(count, 0.0);
}

/// ART: 50 tickets, 150 h in total → 3 h, measured once at the first
/// resolution; re-resolutions count in `tickets_resolved_total` only.
#[test]
fn resolution_time_50_tickets_150_hours_mean_3_hours_first_resolution_only() {
    let mut s = Stream::new();
    for i in 0..50i64 {
        let t = format!("t{i}");
        let created = T0 + i * 10 * MIN;
        let resolved = created + (i % 5 + 1) * HOUR;
        s.add(
            "ticket.created",
            created,
            json!({"ticket_id": t, "queue": "returns", "priority": "high"}),
        );
        s.add(
            "ticket.resolved",
            resolved,
            json!({"ticket_id": t, "agent_id": "ann"}),
        );
        if i % 10 == 0 {
            s.add(
                "ticket.reopened",
                resolved + 10 * MIN,
                json!({"ticket_id": t}),
            );
            s.add(
                "ticket.resolved",
                resolved + 40 * MIN,
                json!({"ticket_id": t, "agent_id": "ann"}),
            );
        }
    }
    assert!(s.clock() - T0 < 20 * HOUR, "all inside the 24h window");

    let run = replay(&s.lines());
    let m = &run.metrics;
    let (sum, count) =
        window_sum_count(m, "support_resolution_window_seconds", &[("window", "24h")]);
    assert_eq!(count, 50.0, "one resolution time per ticket");
    assert_close(sum / count, 3.0 * 3600.0, "mean ART");
    let (sum, count) = window_sum_count(
        m,
        "support_resolution_window_seconds",
        &[("queue", "returns"), ("window", "24h")],
    );
    assert_eq!(count, 50.0);
    assert_close(sum, 150.0 * 3600.0, "per-queue ART sum");

    let (sum, count) = sum_count(m, "support_resolution_seconds", &[]);
    assert_eq!(count, 50.0);
    assert_close(sum, 150.0 * 3600.0, "cumulative ART sum");

    assert_eq!(m.sum("support_tickets_resolved_total", &[]), 55.0);
    assert_eq!(m.sum("support_tickets_reopened_total", &[]), 5.0);
    assert_eq!(
        m.value(
            "support_tickets_resolved_total",
            &[
                ("channel", "unknown"),
                ("priority", "high"),
                ("queue", "returns")
            ]
        ),
        55.0
    );
    assert_eq!(
        m.value("support_agent_resolutions_total", &[("agent", "ann")]),
        55.0
    );
    // §7.7: resolution and reopen ratios count resolution events.
    assert_close(
        m.value("support_resolution_ratio", &[("window", "24h")]),
        55.0 / 50.0,
        "resolution ratio",
    );
    assert_close(
        m.value("support_reopen_ratio", &[("window", "24h")]),
        5.0 / 55.0,
        "reopen ratio",
    );
    // §7.7: resolved with no public agent reply is not an FCR.
    assert_eq!(
        m.value(
            "support_first_contact_resolution_ratio",
            &[("window", "24h")]
        ),
        0.0
    );
}

/// AHT from the interaction lifecycle: 100 calls, 500 min talk + 100 min
/// hold + 200 min after-call work → 8 min.
#[test]
fn handle_time_100_calls_from_lifecycle_events_mean_8_minutes() {
    let mut s = Stream::new();
    let (mut talk_total, mut hold_total, mut acw_total) = (0, 0, 0);
    let mut sales_handle_ms = 0;
    let mut wait_total_ms = 0;
    for i in 0..100i64 {
        let id = format!("call{i}");
        let queue = if i % 2 == 0 { "sales" } else { "support" };
        let talk = 5 * MIN + if i % 2 == 0 { 30 * SEC } else { -30 * SEC };
        let hold = MIN
            + if (i / 2) % 2 == 0 {
                30 * SEC
            } else {
                -30 * SEC
            };
        let acw = 2 * MIN
            + if (i / 5) % 2 == 0 {
                30 * SEC
            } else {
                -30 * SEC
            };
        talk_total += talk;
        hold_total += hold;
        acw_total += acw;
        if queue == "sales" {
            sales_handle_ms += talk + hold + acw;
        }
        let queued = T0 + i * 20 * SEC;
        let wait = (10 + (i % 3) * 10) * SEC;
        wait_total_ms += wait;
        let answered = queued + wait;
        let iid = json!({"interaction_id": id});
        s.add(
            "interaction.queued",
            queued,
            json!({"interaction_id": id, "queue": queue, "channel": "phone", "customer_id": format!("c{i}")}),
        );
        s.add(
            "interaction.answered",
            answered,
            json!({"interaction_id": id, "agent_id": format!("agent{}", i % 4)}),
        );
        // Talk is split around the hold; some calls hold twice.
        let mut at = answered;
        if i % 10 == 9 {
            let (t1, t2) = (talk / 3, talk / 3);
            let h1 = hold / 2;
            at += t1;
            s.add("interaction.hold_started", at, iid.clone());
            at += h1;
            s.add("interaction.hold_ended", at, iid.clone());
            at += t2;
            s.add("interaction.hold_started", at, iid.clone());
            at += hold - h1;
            s.add("interaction.hold_ended", at, iid.clone());
            at += talk - t1 - t2;
        } else {
            at += talk / 2;
            s.add("interaction.hold_started", at, iid.clone());
            at += hold;
            s.add("interaction.hold_ended", at, iid.clone());
            at += talk - talk / 2;
        }
        s.add("interaction.ended", at, iid.clone());
        s.add("interaction.wrapup_ended", at + acw, iid);
    }
    assert_eq!(
        (talk_total, hold_total, acw_total),
        (500 * MIN, 100 * MIN, 200 * MIN)
    );
    assert!(s.clock() - T0 < 50 * MIN, "all inside the 1h window");

    let run = replay(&s.lines());
    let m = &run.metrics;
    let base = "support_handle_window_seconds";
    let (sum, count) = window_sum_count(m, base, &[("window", "1h")]);
    assert_eq!(count, 100.0);
    assert_close(sum / count, 480.0, "mean AHT");
    let (sum, count) = window_sum_count(m, base, &[("queue", "sales"), ("window", "1h")]);
    assert_eq!(count, 50.0);
    assert_close(sum, sales_handle_ms as f64 / 1000.0, "sales handle sum");

    let (sum, count) = sum_count(m, "support_handle_seconds", &[]);
    assert_eq!(count, 100.0);
    assert_close(sum, 48_000.0, "cumulative handle sum");
    assert_eq!(
        m.sum("support_interactions_total", &[("outcome", "answered")]),
        100.0
    );
    assert_eq!(
        m.value(
            "support_interactions_total",
            &[
                ("outcome", "answered"),
                ("queue", "support"),
                ("channel", "phone")
            ]
        ),
        50.0
    );

    // ASA: answered − queued.
    let (sum, count) =
        window_sum_count(m, "support_answer_wait_window_seconds", &[("window", "1h")]);
    assert_eq!(count, 100.0);
    assert_close(sum, wait_total_ms as f64 / 1000.0, "answer wait sum");
    // Waits of 10 and 20 s are within the 20 s threshold; 30 s is not.
    let in_time = (0..100).filter(|i| i % 3 != 2).count() as f64;
    assert_close(
        m.value("support_service_level_ratio", &[("window", "1h")]),
        in_time / 100.0,
        "service level",
    );
}

/// AHT from `interaction.completed` summaries (§7.10): talk excludes hold.
#[test]
fn handle_time_100_completed_interactions_mean_8_minutes() {
    let mut s = Stream::new();
    let (mut talk_total, mut hold_total, mut acw_total) = (0.0, 0.0, 0.0);
    for i in 0..100i64 {
        let talk = if i % 2 == 0 { 270.5 } else { 329.5 };
        let acw = if (i / 2) % 2 == 0 { 100 } else { 140 };
        let mut fields = json!({
            "interaction_id": format!("chat{i}"),
            "queue": "callback",
            "channel": "phone",
            "agent_id": format!("agent{}", i % 3),
            "wait_s": 5 + i % 30,
            "talk_s": talk,
            "acw_s": acw,
        });
        // hold_s is optional (0 when absent): 25 without, 25 × 120 s, 50 × 60 s.
        let hold = match i % 4 {
            0 => None,
            2 => Some(120),
            _ => Some(60),
        };
        if let Some(h) = hold {
            fields["hold_s"] = json!(h);
        }
        talk_total += talk;
        hold_total += hold.unwrap_or(0) as f64;
        acw_total += acw as f64;
        s.add("interaction.completed", T0 + i * 20 * SEC, fields);
    }
    assert_eq!(
        (talk_total, hold_total, acw_total),
        (500.0 * 60.0, 100.0 * 60.0, 200.0 * 60.0)
    );

    let run = replay(&s.lines());
    let m = &run.metrics;
    for labels in [
        vec![("window", "1h")],
        vec![("queue", "callback"), ("window", "1h")],
    ] {
        let (sum, count) = window_sum_count(m, "support_handle_window_seconds", &labels);
        assert_eq!(count, 100.0, "{labels:?}");
        assert_close(sum / count, 480.0, "mean AHT");
    }
    let (sum, count) = sum_count(m, "support_handle_seconds", &[("queue", "callback")]);
    assert_eq!(count, 100.0);
    assert_close(sum, 48_000.0, "cumulative handle sum");
    // Each completed interaction is one answered interaction.
    assert_eq!(
        m.value(
            "support_interactions_total",
            &[
                ("outcome", "answered"),
                ("queue", "callback"),
                ("channel", "phone")
            ]
        ),
        100.0
    );
    let (_, count) = window_sum_count(m, "support_answer_wait_window_seconds", &[("window", "1h")]);
    assert_eq!(count, 100.0);
}

/// FCR: 80 of 100 first resolutions → 0.80; queue `a` 45/50, `b` 35/50.
#[test]
fn first_contact_resolution_80_of_100() {
    #[derive(Clone, Copy, PartialEq)]
    enum Shape {
        Plain,
        CustomerBeforeReply,
        PrivateNote,
        CustomerAfterReply,
        TwoPublicReplies,
    }
    use Shape::*;
    let mut shapes = Vec::new();
    for (queue, fcr, after, two) in [("a", 45, 3, 2), ("b", 35, 8, 7)] {
        for k in 0..fcr {
            shapes.push((queue, [Plain, CustomerBeforeReply, PrivateNote][k % 3]));
        }
        shapes.extend(std::iter::repeat_n((queue, CustomerAfterReply), after));
        shapes.extend(std::iter::repeat_n((queue, TwoPublicReplies), two));
    }
    assert_eq!(shapes.len(), 100);

    let mut s = Stream::new();
    for (i, &(queue, shape)) in shapes.iter().enumerate() {
        let t = format!("t{i}");
        let created = T0 + i as i64 * 20 * SEC;
        let tid = json!({"ticket_id": t});
        s.add(
            "ticket.created",
            created,
            json!({"ticket_id": t, "queue": queue}),
        );
        if shape == CustomerBeforeReply {
            s.add("ticket.customer_replied", created + MIN, tid.clone());
        }
        s.add(
            "ticket.agent_replied",
            created + 2 * MIN,
            json!({"ticket_id": t, "agent_id": "ann"}),
        );
        match shape {
            PrivateNote => {
                s.add(
                    "ticket.agent_replied",
                    created + 3 * MIN,
                    json!({"ticket_id": t, "agent_id": "ann", "public": false}),
                );
            }
            CustomerAfterReply => {
                s.add("ticket.customer_replied", created + 3 * MIN, tid.clone());
            }
            TwoPublicReplies => {
                s.add(
                    "ticket.agent_replied",
                    created + 3 * MIN,
                    json!({"ticket_id": t, "agent_id": "bob"}),
                );
            }
            _ => {}
        }
        s.add("ticket.resolved", created + 5 * MIN, tid.clone());
        if i == 0 {
            // FCR counts at the first resolution only (§7.7): a reopen, a
            // second reply and a second resolution change nothing.
            s.add("ticket.reopened", created + 10 * MIN, tid.clone());
            s.add(
                "ticket.agent_replied",
                created + 11 * MIN,
                json!({"ticket_id": t, "agent_id": "ann"}),
            );
            s.add("ticket.resolved", created + 12 * MIN, tid);
        }
    }
    assert!(s.clock() - T0 < 50 * MIN);

    let run = replay(&s.lines());
    let m = &run.metrics;
    let ratio = |labels: &[(&str, &str)]| m.value("support_first_contact_resolution_ratio", labels);
    assert_close(ratio(&[("window", "1h")]), 0.80, "FCR");
    assert_close(ratio(&[("window", "24h")]), 0.80, "FCR 24h");
    assert_close(
        ratio(&[("queue", "a"), ("window", "1h")]),
        0.90,
        "FCR queue a",
    );
    assert_close(
        ratio(&[("queue", "b"), ("window", "1h")]),
        0.70,
        "FCR queue b",
    );
    assert_eq!(m.sum("support_first_contact_resolutions_total", &[]), 80.0);
    assert_eq!(
        m.sum("support_first_contact_resolutions_total", &[("queue", "b")]),
        35.0
    );
    assert_eq!(m.sum("support_tickets_resolved_total", &[]), 101.0);
}

/// Resolution ratio: 450 resolved of 500 created in the window → 0.90.
/// 100 older tickets (3 h before) count in the 24h window only.
#[test]
fn resolution_ratio_450_of_500() {
    let mut s = Stream::new();
    for i in 0..100i64 {
        let t = format!("old{i}");
        s.add(
            "ticket.created",
            T0 + i * 10 * SEC,
            json!({"ticket_id": t, "queue": "old"}),
        );
        s.add(
            "ticket.resolved",
            T0 + i * 10 * SEC + MIN,
            json!({"ticket_id": t}),
        );
    }
    let n0 = T0 + 3 * HOUR;
    for i in 0..500i64 {
        let t = format!("t{i}");
        let queue = if i % 2 == 0 { "q1" } else { "q2" };
        let created = n0 + i * 5 * SEC;
        s.add(
            "ticket.created",
            created,
            json!({"ticket_id": t, "queue": queue}),
        );
        if i % 10 != 0 {
            s.add("ticket.resolved", created + MIN, json!({"ticket_id": t}));
        }
    }
    assert!(s.clock() - n0 < 45 * MIN);

    let run = replay(&s.lines());
    let m = &run.metrics;
    let ratio = |labels: &[(&str, &str)]| m.get("support_resolution_ratio", labels);
    assert_close(ratio(&[("window", "1h")]).unwrap(), 0.90, "1h");
    assert_close(ratio(&[("window", "24h")]).unwrap(), 550.0 / 600.0, "24h");
    assert_close(
        ratio(&[("queue", "q1"), ("window", "1h")]).unwrap(),
        0.80,
        "q1",
    );
    assert_close(
        ratio(&[("queue", "q2"), ("window", "1h")]).unwrap(),
        1.0,
        "q2",
    );
    assert_close(
        ratio(&[("queue", "old"), ("window", "24h")]).unwrap(),
        1.0,
        "old 24h",
    );
    // Nothing of queue `old` in the last hour: empty denominator, no series.
    assert_eq!(ratio(&[("queue", "old"), ("window", "1h")]), None);
    assert_eq!(m.sum("support_tickets_created_total", &[]), 600.0);
    assert_eq!(m.sum("support_tickets_resolved_total", &[]), 550.0);
    // Backlog (§7.11): the 50 unresolved tickets, all in q1, status open.
    assert_eq!(
        m.value(
            "support_tickets_open",
            &[("queue", "q1"), ("priority", "normal"), ("status", "open")]
        ),
        50.0
    );
    assert_eq!(m.sum("support_tickets_open", &[]), 50.0);
}

/// CSAT: 65 satisfied of 80 → 0.8125; surveys take their ticket's queue.
#[test]
fn csat_65_of_80() {
    let mut s = Stream::new();
    for (t, queue) in [("tb", "billing"), ("tt", "tech")] {
        s.add(
            "ticket.created",
            T0,
            json!({"ticket_id": t, "queue": queue, "channel": "chat"}),
        );
        s.add("ticket.resolved", T0 + MIN, json!({"ticket_id": t}));
    }
    // (ticket, satisfied, unsatisfied): billing 35/40, tech 30/40.
    let mut i = 0i64;
    for (t, satisfied, unsatisfied) in [("tb", 35, 5), ("tt", 30, 10)] {
        for k in 0..satisfied + unsatisfied {
            // Satisfied = score ≥ 4: scores 4 and 5 vs 1, 2 and 3.
            let score = if k < satisfied { 4 + k % 2 } else { 1 + k % 3 };
            s.add(
                "survey.csat",
                T0 + 2 * MIN + i * 20 * SEC,
                json!({"ticket_id": t, "score": score, "customer_id": format!("c{i}")}),
            );
            i += 1;
        }
    }
    assert!(s.clock() - T0 < 50 * MIN);

    let run = replay(&s.lines());
    let m = &run.metrics;
    let csat = |labels: &[(&str, &str)]| m.value("support_csat_ratio", labels);
    assert_close(csat(&[("window", "1h")]), 0.8125, "CSAT");
    assert_close(
        csat(&[("queue", "billing"), ("window", "1h")]),
        0.875,
        "billing",
    );
    assert_close(csat(&[("queue", "tech"), ("window", "1h")]), 0.75, "tech");
    assert_eq!(
        m.sum("support_csat_responses_total", &[("satisfied", "true")]),
        65.0
    );
    assert_eq!(
        m.value(
            "support_csat_responses_total",
            &[
                ("satisfied", "false"),
                ("channel", "chat"),
                ("priority", "normal"),
                ("queue", "tech")
            ]
        ),
        10.0
    );
    // No NPS survey: empty denominator, no series in any window.
    assert_eq!(m.count("support_nps_score", &[]), 0);
}

/// NPS: 60 promoters, 20 passives, 20 detractors of 100 → 40.
#[test]
fn nps_60_20_20_of_100_is_40() {
    let mut s = Stream::new();
    for i in 0..100i64 {
        let score = match i {
            0..=59 => 9 + i % 2,  // 9, 10: promoters
            60..=79 => 7 + i % 2, // 7, 8: passives
            _ => i % 7,           // 0..=6: detractors
        };
        s.add(
            "survey.nps",
            T0 + i * 20 * SEC,
            json!({"score": score, "customer_id": format!("c{i}")}),
        );
    }
    let run = replay(&s.lines());
    let m = &run.metrics;
    assert_close(
        m.value("support_nps_score", &[("window", "1h")]),
        40.0,
        "NPS",
    );
    for (category, n) in [("promoter", 60.0), ("passive", 20.0), ("detractor", 20.0)] {
        assert_eq!(
            m.sum("support_nps_responses_total", &[("category", category)]),
            n,
            "{category}"
        );
    }
}

/// Repeat customer ratio: 40 of 200 distinct customers have more than one
/// ticket → 0.20. Tickets without a customer do not count (§7.8).
#[test]
fn repeat_customer_ratio_40_of_200() {
    let mut s = Stream::new();
    let mut n = 0i64;
    let mut ticket = |s: &mut Stream, customer: Option<String>| {
        let mut fields = json!({"ticket_id": format!("t{n}"), "queue": "web"});
        if let Some(c) = customer {
            fields["customer_id"] = json!(c);
        }
        s.add("ticket.created", T0 + n * 10 * SEC, fields);
        n += 1;
    };
    for c in 0..200 {
        ticket(&mut s, Some(format!("cust{c}")));
        if c % 5 == 0 {
            ticket(&mut s, Some(format!("cust{c}")));
        }
        if c % 20 == 0 {
            ticket(&mut s, None);
        }
    }
    assert!(s.clock() - T0 < 50 * MIN);

    let run = replay(&s.lines());
    let m = &run.metrics;
    assert_close(
        m.value("support_repeat_customer_ratio", &[("window", "1h")]),
        0.20,
        "repeat ratio",
    );
    assert_close(
        m.value(
            "support_repeat_customer_ratio",
            &[("queue", "web"), ("window", "1h")],
        ),
        0.20,
        "repeat ratio in queue web",
    );
    assert_close(
        m.value("support_tickets_per_customer", &[("window", "1h")]),
        240.0 / 200.0,
        "tickets per customer",
    );
}

/// Tickets per customer: 500 tickets of 100 customers → 5.
#[test]
fn tickets_per_customer_500_over_100() {
    let mut s = Stream::new();
    let mut n = 0i64;
    for c in 0..100 {
        for _ in 0..(c % 5 + 3) {
            s.add(
                "ticket.created",
                T0 + n * 5 * SEC,
                json!({"ticket_id": format!("t{n}"), "customer_id": format!("cust{c}")}),
            );
            n += 1;
        }
    }
    assert_eq!(n, 500);
    for k in 0..7 {
        // No customer named: not counted (§7.8).
        s.add(
            "ticket.created",
            T0 + k * 5 * SEC,
            json!({"ticket_id": format!("anon{k}")}),
        );
    }
    assert!(s.clock() - T0 < 50 * MIN);

    let run = replay(&s.lines());
    let m = &run.metrics;
    assert_close(
        m.value("support_tickets_per_customer", &[("window", "1h")]),
        5.0,
        "tickets per customer",
    );
    assert_close(
        m.value("support_repeat_customer_ratio", &[("window", "1h")]),
        1.0,
        "every customer has 3 to 7 tickets",
    );
}

/// Outcome success: 90 of 100 installation resolutions succeed → 0.90,
/// counted under the ticket's category at resolution (§7.7).
#[test]
fn outcome_success_90_of_100_installations() {
    let mut s = Stream::new();
    let mut n = 0i64;
    let mut next = || {
        n += 1;
        (format!("t{n}"), T0 + n * 15 * SEC)
    };
    for i in 0..100 {
        let (t, at) = next();
        // Ten are filed as `general` and recategorised before resolution.
        let category = if i < 10 { "general" } else { "installation" };
        s.add(
            "ticket.created",
            at,
            json!({"ticket_id": t, "category": category, "queue": "field"}),
        );
        if i < 10 {
            s.add(
                "ticket.updated",
                at + MIN,
                json!({"ticket_id": t, "category": "installation"}),
            );
        }
        let outcome = if i % 10 == 5 { "failure" } else { "success" };
        s.add(
            "ticket.resolved",
            at + 3 * MIN,
            json!({"ticket_id": t, "outcome": outcome}),
        );
    }
    for _ in 0..10 {
        // Resolved without an outcome: not counted.
        let (t, at) = next();
        s.add(
            "ticket.created",
            at,
            json!({"ticket_id": t, "category": "installation"}),
        );
        s.add("ticket.resolved", at + 3 * MIN, json!({"ticket_id": t}));
    }
    // Billing: 4 successes, 15 failures, and one failure reopened and
    // re-resolved as a success: every resolution with an outcome counts.
    for i in 0..19 {
        let (t, at) = next();
        s.add(
            "ticket.created",
            at,
            json!({"ticket_id": t, "category": "billing"}),
        );
        let outcome = if i < 4 { "success" } else { "failure" };
        s.add(
            "ticket.resolved",
            at + 3 * MIN,
            json!({"ticket_id": t, "outcome": outcome}),
        );
        if i == 18 {
            s.add("ticket.reopened", at + 4 * MIN, json!({"ticket_id": t}));
            s.add(
                "ticket.resolved",
                at + 5 * MIN,
                json!({"ticket_id": t, "outcome": "success"}),
            );
        }
    }
    assert!(s.clock() - T0 < 50 * MIN);

    let run = replay(&s.lines());
    let m = &run.metrics;
    let ratio = |category: &str| {
        m.get(
            "support_outcome_success_ratio",
            &[("category", category), ("window", "1h")],
        )
    };
    assert_close(ratio("installation").unwrap(), 0.90, "installation");
    assert_close(ratio("billing").unwrap(), 5.0 / 20.0, "billing");
    assert_eq!(ratio("general"), None, "recategorised before resolution");
    assert_eq!(ratio("unknown"), None);
}

/// Retention: E 480, N 200, S 500 → 0.56 (§7.9): 500 customers sign up
/// 3 h before; in the last hour 200 sign up and 220 of the old ones
/// churn, so E = 500 + 200 − 220 = 480 and S = E − N + C = 500.
#[test]
fn retention_e480_n200_s500_is_056() {
    let mut s = Stream::new();
    for i in 0..500i64 {
        s.add(
            "customer.signed_up",
            T0 + i * 5 * SEC,
            json!({"customer_id": format!("old{i}")}),
        );
    }
    let w0 = T0 + 3 * HOUR;
    for i in 0..200i64 {
        s.add(
            "customer.signed_up",
            w0 + i * 10 * SEC,
            json!({"customer_id": format!("new{i}")}),
        );
    }
    for i in 0..220i64 {
        s.add(
            "customer.churned",
            w0 + i * 10 * SEC + 5 * SEC,
            json!({"customer_id": format!("old{i}")}),
        );
    }
    assert!(s.clock() - w0 < 50 * MIN);

    let run = replay(&s.lines());
    let m = &run.metrics;
    assert_close(
        m.value("support_retention_ratio", &[("window", "1h")]),
        0.56,
        "retention",
    );
    assert_close(
        m.value("support_churn_ratio", &[("window", "1h")]),
        220.0 / 500.0,
        "churn",
    );
    // Over 24 h every active customer signed up inside the window: S = 0,
    // an empty denominator, so no series (§5.1).
    assert_eq!(m.get("support_retention_ratio", &[("window", "24h")]), None);
    assert_eq!(m.get("support_churn_ratio", &[("window", "24h")]), None);
    assert_eq!(
        m.value("deskpulse_state_entries", &[("kind", "customers")]),
        480.0,
        "E: active customers now"
    );
}

const CUSTOM_CONFIG: &str = r#"
[[custom_ratio]]
name = "training_attendance"
help = "training sessions attended / invitations"
numerator = { type = "training.attended" }
denominator = { type = "training.invited" }

[[custom_ratio]]
name = "cost_per_email_ticket"
numerator = { type = "cost.recorded", sum = "amount" }
denominator = { type = "ticket.created", where = { channel = "email" } }
"#;

/// Custom ratio: 40 attended of 50 invited → 0.80 (config `[[custom_ratio]]`).
#[test]
fn custom_ratio_training_attendance_40_of_50() {
    let mut s = Stream::new();
    for i in 0..50i64 {
        s.add(
            "training.invited",
            T0 + i * 30 * SEC,
            json!({"agent_id": format!("a{i}"), "course": "returns"}),
        );
        if i % 5 != 0 {
            s.add(
                "training.attended",
                T0 + i * 30 * SEC + 5 * MIN,
                json!({"agent_id": format!("a{i}")}),
            );
        }
    }
    // Cost per email ticket: (10 + 20.5 + 5) over 4 email tickets.
    for (k, channel) in ["email", "chat", "email", "email", "phone", "email"]
        .iter()
        .enumerate()
    {
        s.add(
            "ticket.created",
            T0 + k as i64 * MIN,
            json!({"ticket_id": format!("t{k}"), "channel": channel}),
        );
    }
    for (k, amount) in [10.0, 20.5, 5.0].iter().enumerate() {
        s.add(
            "cost.recorded",
            T0 + k as i64 * MIN,
            json!({"amount": amount}),
        );
    }
    // The last event, 10 min after the others: the 5m window holds no
    // custom event, so its ratios have empty denominators.
    let last = s.clock() + 10 * MIN;
    s.add("customer.signed_up", last, json!({"customer_id": "c"}));
    assert!(last - T0 < 50 * MIN);

    let run = replay_with_config(&s.lines(), CUSTOM_CONFIG);
    let m = &run.metrics;
    assert_close(
        m.value("support_custom_training_attendance", &[("window", "1h")]),
        0.80,
        "attendance",
    );
    assert_close(
        m.value("support_custom_cost_per_email_ticket", &[("window", "1h")]),
        35.5 / 4.0,
        "cost per email ticket",
    );
    assert_eq!(
        m.get("support_custom_training_attendance", &[("window", "5m")]),
        None
    );
    assert_eq!(
        m.value("deskpulse_events_total", &[("type", "training.invited")]),
        50.0
    );
    assert_eq!(run.rejected_all(), 0.0);

    // Without the config these types are unknown (§1.1: counted, skipped).
    let plain = replay(&s.lines());
    assert_eq!(plain.rejected("unknown_type"), 50.0 + 40.0 + 3.0);
    assert_eq!(
        plain
            .metrics
            .count("support_custom_training_attendance", &[]),
        0
    );
}

/// Ten interactions in queue `voice`, threshold 20 s (§7.10):
/// answered after 10, 20, 21, 60 s and completed with waits 15, 25 s;
/// abandoned after 5, 20, 30 s; one blocked; one still waiting.
fn service_level_stream() -> Stream {
    let mut s = Stream::new();
    let mut start = T0;
    let mut call = |s: &mut Stream, end_type: &str, wait_s: i64| {
        let id = format!("i{start}");
        s.add(
            "interaction.queued",
            start,
            json!({"interaction_id": id, "queue": "voice"}),
        );
        let mut fields = json!({"interaction_id": id});
        if end_type == "interaction.answered" {
            fields["agent_id"] = json!("ann");
        }
        s.add(end_type, start + wait_s * SEC, fields);
        start += 2 * MIN;
    };
    for wait in [10, 20, 21, 60] {
        call(&mut s, "interaction.answered", wait);
    }
    for wait in [5, 20, 30] {
        call(&mut s, "interaction.abandoned", wait);
    }
    call(&mut s, "interaction.blocked", 3);
    for (k, wait) in [15, 25].iter().enumerate() {
        s.add(
            "interaction.completed",
            T0 + k as i64 * MIN,
            json!({"interaction_id": format!("c{k}"), "queue": "voice", "wait_s": wait, "talk_s": 100}),
        );
    }
    let waiting_since = start;
    s.add(
        "interaction.queued",
        waiting_since,
        json!({"interaction_id": "still-waiting", "queue": "voice"}),
    );
    s.add(
        "agent.status_changed",
        waiting_since + 40 * SEC,
        json!({"agent_id": "ann", "status": "available"}),
    );
    s
}

#[test]
fn service_level_and_abandon_ratio_hand_computed() {
    let s = service_level_stream();
    assert!(s.clock() - T0 < 50 * MIN);
    let run = replay(&s.lines());
    let m = &run.metrics;
    // Answered 6, of which in time (≤ 20 s) 3: 10, 20, 15 s. Abandoned 3,
    // of which after the threshold (> 20 s) 1: 30 s.
    for labels in [
        vec![("window", "1h")],
        vec![("queue", "voice"), ("window", "1h")],
    ] {
        assert_close(
            m.value("support_service_level_ratio", &labels),
            3.0 / 7.0,
            "service level",
        );
        assert_close(
            m.value("support_abandon_ratio", &labels),
            3.0 / 9.0,
            "abandon ratio",
        );
    }
    let outcome = |o: &str| m.sum("support_interactions_total", &[("outcome", o)]);
    assert_eq!(outcome("answered"), 6.0);
    assert_eq!(outcome("abandoned"), 3.0);
    assert_eq!(outcome("blocked"), 1.0);
    let (sum, count) =
        window_sum_count(m, "support_answer_wait_window_seconds", &[("window", "1h")]);
    assert_eq!(count, 6.0);
    assert_close(sum, (10 + 20 + 21 + 60 + 15 + 25) as f64, "answer wait sum");
    assert_eq!(
        m.value("support_interactions_waiting", &[("queue", "voice")]),
        1.0
    );
    assert_close(
        m.value("support_longest_wait_seconds", &[("queue", "voice")]),
        40.0,
        "longest wait",
    );
}

#[test]
fn service_level_threshold_comes_from_the_config() {
    let s = service_level_stream();
    let config = "[engine]\nservice_level_threshold = \"30s\"\n";
    let run = replay_with_config(&s.lines(), config);
    // In time (≤ 30 s): 10, 20, 21, 15, 25 s of 6 answered; no abandon
    // waited more than 30 s.
    assert_close(
        run.metrics
            .value("support_service_level_ratio", &[("window", "1h")]),
        5.0 / 6.0,
        "service level at 30 s",
    );
}

/// A ratio whose denominator is empty in a window is not exported
/// (§5.1, §7.13); one with an empty numerator is exported as 0.
#[test]
fn ratios_with_empty_denominators_are_absent() {
    let mut s = Stream::new();
    for i in 0..3 {
        s.add(
            "ticket.created",
            T0 + i * MIN,
            json!({"ticket_id": format!("t{i}"), "queue": "x"}),
        );
    }
    let run = replay(&s.lines());
    let m = &run.metrics;
    for name in [
        "support_csat_ratio",
        "support_nps_score",
        "support_ces_score",
        "support_iqs_score",
        "support_first_contact_resolution_ratio",
        "support_reopen_ratio",
        "support_service_level_ratio",
        "support_abandon_ratio",
        "support_repeat_customer_ratio",
        "support_tickets_per_customer",
        "support_outcome_success_ratio",
        "support_agent_utilization_ratio",
        "support_retention_ratio",
        "support_churn_ratio",
    ] {
        assert_eq!(m.count(name, &[]), 0, "{name}:\n{}", m.describe(name));
    }
    for window in ["5m", "1h", "24h"] {
        assert_eq!(
            m.value("support_resolution_ratio", &[("window", window)]),
            0.0
        );
        assert_eq!(
            m.value(
                "support_resolution_ratio",
                &[("queue", "x"), ("window", window)]
            ),
            0.0
        );
    }
}
