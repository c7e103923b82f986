//! The survey and customer examples: CSAT, NPS, repeat customers,
//! tickets per customer and retention.

use serde_json::json;

use crate::common::*;

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
