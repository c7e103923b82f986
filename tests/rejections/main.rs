//! Bad input (SPEC §1.6, §7.1): each rejection reason, duplicates, late
//! events and blank lines, end to end through `deskpulse replay -`.
//!
//! Every bad line is inserted into a valid stream, and the `support_*`
//! series, the accepted-events counters and the state sizes
//! (`deskpulse_state_entries{kind}`) of that run must equal those of the
//! same stream without it: a rejected event never moves the clock and
//! changes no state (§7.1). Bad
//! lines carry a `ts` one day past the stream's end, so a rejected event
//! that moved the clock would make every later event late; and they reuse
//! the `event_id` of the valid line that follows them, so one that was
//! remembered for dedup would drop that line as a duplicate.

#[path = "../common/mod.rs"]
mod common;
mod precedence;
mod reasons;

use std::collections::BTreeMap;

use common::*;
use serde_json::{json, Value};

/// The `ts` of bad lines: one day after the base stream ends.
pub(crate) const BAD_TS: i64 = T0 + 24 * HOUR;

/// A valid stream touching every kind of state; its last event is at
/// `T0 + 30 min`.
pub(crate) fn base_stream() -> Stream {
    let mut s = Stream::new();
    let m = |minutes: f64| T0 + (minutes * 60_000.0) as i64;
    s.add(
        "agent.status_changed",
        m(0.0),
        json!({"agent_id": "ann", "status": "available"}),
    );
    s.add("customer.signed_up", m(0.0), json!({"customer_id": "c1"}));
    s.add(
        "ticket.created",
        m(0.0),
        json!({"ticket_id": "t1", "queue": "billing", "channel": "email", "customer_id": "c1", "category": "refund"}),
    );
    s.add(
        "ticket.created",
        m(1.0),
        json!({"ticket_id": "t2", "queue": "tech", "channel": "chat", "priority": "low"}),
    );
    s.add(
        "interaction.queued",
        m(1.0),
        json!({"interaction_id": "i1", "queue": "voice"}),
    );
    s.add(
        "interaction.answered",
        m(1.3),
        json!({"interaction_id": "i1", "agent_id": "ann"}),
    );
    s.add(
        "agent.status_changed",
        m(1.3),
        json!({"agent_id": "ann", "status": "busy"}),
    );
    s.add(
        "ticket.agent_replied",
        m(2.0),
        json!({"ticket_id": "t1", "agent_id": "ann"}),
    );
    s.add(
        "ticket.created",
        m(2.0),
        json!({"ticket_id": "t3", "queue": "billing"}),
    );
    s.add(
        "ticket.assigned",
        m(2.5),
        json!({"ticket_id": "t2", "agent_id": "bob", "queue": "tech2"}),
    );
    s.add(
        "ticket.status_changed",
        m(3.0),
        json!({"ticket_id": "t2", "status": "pending"}),
    );
    s.add(
        "interaction.queued",
        m(3.0),
        json!({"interaction_id": "i2", "queue": "voice"}),
    );
    s.add(
        "interaction.hold_started",
        m(3.2),
        json!({"interaction_id": "i1"}),
    );
    s.add(
        "interaction.abandoned",
        m(3.7),
        json!({"interaction_id": "i2"}),
    );
    s.add(
        "interaction.hold_ended",
        m(3.9),
        json!({"interaction_id": "i1"}),
    );
    s.add(
        "ticket.customer_replied",
        m(4.0),
        json!({"ticket_id": "t1"}),
    );
    s.add("interaction.ended", m(5.0), json!({"interaction_id": "i1"}));
    s.add(
        "ticket.updated",
        m(5.0),
        json!({"ticket_id": "t2", "priority": "high"}),
    );
    s.add("customer.signed_up", m(5.0), json!({"customer_id": "c2"}));
    s.add(
        "ticket.agent_replied",
        m(6.0),
        json!({"ticket_id": "t1", "agent_id": "ann"}),
    );
    s.add(
        "interaction.wrapup_ended",
        m(6.0),
        json!({"interaction_id": "i1"}),
    );
    s.add(
        "agent.status_changed",
        m(6.0),
        json!({"agent_id": "ann", "status": "available"}),
    );
    s.add(
        "ticket.resolved",
        m(7.0),
        json!({"ticket_id": "t3", "outcome": "failure"}),
    );
    s.add("ticket.closed", m(8.0), json!({"ticket_id": "t3"}));
    s.add(
        "survey.nps",
        m(9.0),
        json!({"score": 9, "customer_id": "c1"}),
    );
    s.add("survey.ces", m(9.0), json!({"score": 6, "ticket_id": "t1"}));
    s.add(
        "ticket.resolved",
        m(10.0),
        json!({"ticket_id": "t1", "outcome": "success", "agent_id": "ann"}),
    );
    s.add(
        "review.iqs",
        m(10.0),
        json!({"score": 80, "ticket_id": "t1"}),
    );
    s.add(
        "interaction.completed",
        m(11.0),
        json!({"interaction_id": "i9", "queue": "voice", "channel": "chat", "agent_id": "cat", "wait_s": 12, "talk_s": 200.5, "hold_s": 10, "acw_s": 30}),
    );
    s.add(
        "survey.csat",
        m(12.0),
        json!({"score": 5, "ticket_id": "t1"}),
    );
    s.add(
        "survey.csat",
        m(12.5),
        json!({"score": 2, "customer_id": "c2"}),
    );
    s.add("customer.churned", m(15.0), json!({"customer_id": "c1"}));
    s.add(
        "interaction.queued",
        m(20.0),
        json!({"interaction_id": "i3", "queue": "voice"}),
    );
    s.add(
        "ticket.created",
        m(30.0),
        json!({"ticket_id": "t4", "queue": "tech"}),
    );
    s
}

pub(crate) fn base_lines() -> Vec<String> {
    base_stream().lines()
}

/// The index of the base line of this `type` naming this ticket or
/// interaction.
pub(crate) fn index_of(lines: &[String], event_type: &str, ticket_or_interaction: &str) -> usize {
    lines
        .iter()
        .position(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["type"] == event_type
                && (v["ticket_id"] == ticket_or_interaction
                    || v["interaction_id"] == ticket_or_interaction)
        })
        .unwrap_or_else(|| panic!("no {event_type} for {ticket_or_interaction}"))
}

pub(crate) fn event_id_of(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap();
    v["event_id"].as_str().unwrap().to_owned()
}

/// Epoch ms two hours past the wall clock: `future_ts` (§7.1 allows 1 h).
pub(crate) fn future_ms() -> i64 {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    wall + 2 * HOUR
}

/// The base lines with `bad` inserted before line `at`; in `bad`, `@ID@`
/// becomes the `event_id` of line `at` (not yet seen), `@DUP@` that of
/// line `at - 1` (accepted just before, so within the dedup horizon),
/// `@TS@` becomes [`BAD_TS`] and `@FUTURE@` [`future_ms`].
pub(crate) fn with_bad_line(lines: &[String], at: usize, bad: &[u8]) -> Vec<u8> {
    let id = event_id_of(&lines[at]);
    let bad = replace(bad, b"@ID@", id.as_bytes());
    let bad = replace(&bad, b"@TS@", BAD_TS.to_string().as_bytes());
    let bad = if bad.windows(5).any(|w| w == b"@DUP@") {
        let dup = event_id_of(&lines[at.checked_sub(1).expect("@DUP@ needs a line before")]);
        replace(&bad, b"@DUP@", dup.as_bytes())
    } else {
        bad
    };
    let bad = replace(&bad, b"@FUTURE@", future_ms().to_string().as_bytes());
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i == at {
            out.extend_from_slice(&bad);
            out.push(b'\n');
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

pub(crate) fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// The kinds of `deskpulse_state_entries`: every kind of state an event
/// can create.
pub(crate) const STATE_KINDS: [&str; 5] = [
    "tickets",
    "interactions",
    "agents",
    "customers",
    "event_ids",
];

/// `deskpulse_state_entries{kind}`, checking every kind is exported (so
/// that comparing two runs' state sizes never compares nothing).
pub(crate) fn state_entries(run: &Run) -> BTreeMap<(String, Labels), f64> {
    let name = "deskpulse_state_entries";
    let series: BTreeMap<(String, Labels), f64> = run
        .metrics
        .matching(name, &[])
        .map(|(labels, v)| ((name.to_owned(), labels.clone()), v))
        .collect();
    for kind in STATE_KINDS {
        assert!(
            run.metrics.has(name, &[("kind", kind)]),
            "no {name}{{kind={kind:?}}}; series of that name:\n{}",
            run.metrics.describe(name)
        );
    }
    series
}

/// The KPI series, the accepted-events counters and the state sizes: what
/// a bad line must leave unchanged. The state sizes catch a rejected event
/// that created a ticket, interaction, agent or customer, or whose
/// `event_id` was remembered, without (yet) changing any KPI.
pub(crate) fn kpis(run: &Run) -> BTreeMap<(String, Labels), f64> {
    let mut series = run.metrics.with_prefix("support_");
    series.extend(run.metrics.with_prefix("deskpulse_events_total"));
    series.extend(state_entries(run));
    series
}

/// Asserts two maps of series are equal, naming the first differences.
#[track_caller]
pub(crate) fn assert_same_series(
    expected: &BTreeMap<(String, Labels), f64>,
    actual: &BTreeMap<(String, Labels), f64>,
    what: &str,
) {
    if expected == actual {
        return;
    }
    let mut diffs = Vec::new();
    for (key, v) in expected {
        match actual.get(key) {
            None => diffs.push(format!("missing {key:?} (was {v})")),
            Some(a) if a != v && !(a.is_nan() && v.is_nan()) => {
                diffs.push(format!("{key:?}: {v} became {a}"))
            }
            _ => {}
        }
    }
    for (key, a) in actual {
        if !expected.contains_key(key) {
            diffs.push(format!("new {key:?} = {a}"));
        }
    }
    if diffs.is_empty() {
        return;
    }
    diffs.truncate(20);
    panic!("{what}: series differ:\n{}", diffs.join("\n"));
}

/// What must become of a bad line.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fate<'a> {
    /// Rejected with this reason.
    Rejected(&'a str),
    /// Dropped as a duplicate `event_id`, counted as such, not rejected.
    Duplicate,
}

/// Inserts each of `bad_lines` (one run each) before line `at` of the
/// base stream and checks it meets `fate` and changes nothing.
#[track_caller]
pub(crate) fn check_bad_at(at: usize, fate: Fate, bad_lines: &[Vec<u8>]) {
    let lines = base_lines();
    let base = replay(&lines);
    assert_eq!(base.rejected_all(), 0.0, "the base stream is valid");
    assert_eq!(base.duplicates(), 0.0);
    assert_eq!(base.late(), 0.0);
    let expected = kpis(&base);
    for bad in bad_lines {
        let shown = String::from_utf8_lossy(&bad[..bad.len().min(200)]).into_owned();
        let run = replay_bytes(&with_bad_line(&lines, at, bad), None);
        run.assert_ok();
        match fate {
            Fate::Rejected(reason) => {
                assert_eq!(
                    run.rejected(reason),
                    1.0,
                    "{shown:?} is {reason}; summary: {}",
                    run.summary()
                );
                assert_eq!(run.rejected_all(), 1.0, "{shown:?}: only one rejection");
                assert_eq!(run.duplicates(), 0.0, "{shown:?}");
                assert!(
                    run.summary().contains(&format!("{reason}=1")),
                    "the summary names the reason: {}",
                    run.summary()
                );
            }
            Fate::Duplicate => {
                assert_eq!(
                    run.duplicates(),
                    1.0,
                    "{shown:?} is a duplicate; summary: {}",
                    run.summary()
                );
                assert_eq!(
                    run.rejected_all(),
                    0.0,
                    "{shown:?}: a duplicate is dropped before any other check; summary: {}",
                    run.summary()
                );
            }
        }
        assert_eq!(run.late(), 0.0, "{shown:?}: the clock did not move");
        assert_same_series(&expected, &kpis(&run), &shown);
    }
}

/// Inserts each of `bad_lines` (one run each) before line `at` of the
/// base stream and checks it is rejected with `reason` and changes nothing.
#[track_caller]
pub(crate) fn check_rejected_at(at: usize, reason: &str, bad_lines: &[Vec<u8>]) {
    check_bad_at(at, Fate::Rejected(reason), bad_lines);
}

#[track_caller]
pub(crate) fn check_rejected(reason: &str, bad_lines: &[&str]) {
    let at = base_lines().len() / 2;
    let bad: Vec<Vec<u8>> = bad_lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    check_rejected_at(at, reason, &bad);
}
