//! The ticket examples: FRT, ART, FCR, resolution ratio and outcome
//! success.

use serde_json::json;

use crate::common::*;
use crate::sum_count;

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
