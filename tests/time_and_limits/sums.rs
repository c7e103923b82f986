//! `[[custom_ratio]]` sums over a field that is missing or not a number.

use serde_json::{json, Value};

use crate::common::*;
use crate::*;

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
