//! Ratios as a whole: a custom ratio from the config, and ratios whose
//! denominator is empty.

use serde_json::json;

use crate::common::*;

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
