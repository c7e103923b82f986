//! The worked examples of SPEC §2, end to end: events in through
//! `deskpulse replay -`, numbers read back from the exposition (§5.1).
//!
//! Every example keeps all of its events inside the window it reads
//! (replay's clock is the largest `ts`, §3), and streams are replayed in
//! `ts` order so that no event is late.

#[path = "../common/mod.rs"]
mod common;
mod customers;
mod interactions;
mod ratios;
mod tickets;

use common::*;
use serde_json::json;

/// `_sum` and `_count` of a windowed summary or cumulative histogram,
/// added over the series whose labels include `labels`.
pub(crate) fn sum_count(m: &Metrics, base: &str, labels: &[(&str, &str)]) -> (f64, f64) {
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
