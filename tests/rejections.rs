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

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::{json, Value};

/// The `ts` of bad lines: one day after the base stream ends.
const BAD_TS: i64 = T0 + 24 * HOUR;

/// A valid stream touching every kind of state; its last event is at
/// `T0 + 30 min`.
fn base_stream() -> Stream {
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

fn base_lines() -> Vec<String> {
    base_stream().lines()
}

/// The index of the base line of this `type` naming this ticket or
/// interaction.
fn index_of(lines: &[String], event_type: &str, ticket_or_interaction: &str) -> usize {
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

fn event_id_of(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap();
    v["event_id"].as_str().unwrap().to_owned()
}

/// Epoch ms two hours past the wall clock: `future_ts` (§7.1 allows 1 h).
fn future_ms() -> i64 {
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
fn with_bad_line(lines: &[String], at: usize, bad: &[u8]) -> Vec<u8> {
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

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
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
const STATE_KINDS: [&str; 5] = [
    "tickets",
    "interactions",
    "agents",
    "customers",
    "event_ids",
];

/// `deskpulse_state_entries{kind}`, checking every kind is exported (so
/// that comparing two runs' state sizes never compares nothing).
fn state_entries(run: &Run) -> BTreeMap<(String, Labels), f64> {
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
fn kpis(run: &Run) -> BTreeMap<(String, Labels), f64> {
    let mut series = run.metrics.with_prefix("support_");
    series.extend(run.metrics.with_prefix("deskpulse_events_total"));
    series.extend(state_entries(run));
    series
}

/// Asserts two maps of series are equal, naming the first differences.
#[track_caller]
fn assert_same_series(
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
enum Fate<'a> {
    /// Rejected with this reason.
    Rejected(&'a str),
    /// Dropped as a duplicate `event_id`, counted as such, not rejected.
    Duplicate,
}

/// Inserts each of `bad_lines` (one run each) before line `at` of the
/// base stream and checks it meets `fate` and changes nothing.
#[track_caller]
fn check_bad_at(at: usize, fate: Fate, bad_lines: &[Vec<u8>]) {
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
fn check_rejected_at(at: usize, reason: &str, bad_lines: &[Vec<u8>]) {
    check_bad_at(at, Fate::Rejected(reason), bad_lines);
}

#[track_caller]
fn check_rejected(reason: &str, bad_lines: &[&str]) {
    let at = base_lines().len() / 2;
    let bad: Vec<Vec<u8>> = bad_lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    check_rejected_at(at, reason, &bad);
}

#[test]
fn invalid_json() {
    let huge = format!(r#"{{"event_id":"@ID@","pad":"{}"#, "x".repeat(4 << 20));
    let mut lines: Vec<Vec<u8>> = [
        r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":"zz""#,
        r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":"zz"}}"#,
        r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@} {"event_id":"x"}"#,
        "not json at all",
        r#"[{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":"zz"}]"#,
        r#"[1,2,3]"#,
        r#""a string""#,
        "42",
        "null",
        "{'event_id':'@ID@'}",
        huge.as_str(),
    ]
    .iter()
    .map(|l| l.as_bytes().to_vec())
    .collect();
    // Invalid UTF-8 inside an otherwise valid event (§1: input is UTF-8).
    let mut latin1 =
        br#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":"caf"#.to_vec();
    latin1.extend_from_slice(b"\xe9\xff\xfe\"}");
    lines.push(latin1);
    lines.push(b"\xff\xfe\x00\x01garbage".to_vec());
    check_rejected_at(base_lines().len() / 2, "invalid_json", &lines);
}

#[test]
fn missing_field() {
    check_rejected(
        "missing_field",
        &[
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"queue":"billing"}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":null}"#,
            r#"{"type":"ticket.created","ts":@TS@,"ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","ts":@TS@,"ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"survey.csat","ts":@TS@,"ticket_id":"t1"}"#,
            r#"{"event_id":"@ID@","type":"interaction.answered","ts":@TS@,"interaction_id":"i3"}"#,
            r#"{"event_id":"@ID@","type":"interaction.completed","ts":@TS@,"interaction_id":"i8","wait_s":3}"#,
            r#"{}"#,
        ],
    );
}

#[test]
fn invalid_field() {
    check_rejected(
        "invalid_field",
        &[
            // A nested object where a string is expected.
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":{"id":"zz"}}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":"zz","queue":{"name":"q"}}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":"zz","queue":["q"]}"#,
            r#"{"event_id":7,"type":"ticket.created","ts":@TS@,"ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":5,"ts":@TS@,"ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":1.7e12,"ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":true,"ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":"zz","priority":"p1"}"#,
            r#"{"event_id":"@ID@","type":"ticket.agent_replied","ts":@TS@,"ticket_id":"t2","agent_id":"ann","public":"yes"}"#,
            // §7.2: scores must be JSON integers.
            r#"{"event_id":"@ID@","type":"survey.csat","ts":@TS@,"score":4.0}"#,
            r#"{"event_id":"@ID@","type":"survey.nps","ts":@TS@,"score":"9"}"#,
            r#"{"event_id":"@ID@","type":"interaction.completed","ts":@TS@,"interaction_id":"i8","wait_s":"3","talk_s":4}"#,
        ],
    );
}

#[test]
fn invalid_ts() {
    check_rejected(
        "invalid_ts",
        &[
            // §7.2: an RFC 3339 string must carry an offset.
            r#"{"event_id":"@ID@","type":"ticket.created","ts":"2023-11-15T22:13:20","ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":"yesterday","ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":"","ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":"2023-13-45T99:00:00Z","ticket_id":"zz"}"#,
        ],
    );
}

#[test]
fn future_ts() {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let future = wall + 2 * HOUR;
    // The same as RFC 3339 with an offset, a day further.
    let rfc = chrono::DateTime::from_timestamp_millis(future + 24 * HOUR)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339();
    let lines = [
        format!(r#"{{"event_id":"@ID@","type":"ticket.created","ts":{future},"ticket_id":"zz"}}"#),
        format!(r#"{{"event_id":"@ID@","type":"survey.nps","ts":"{rfc}","score":9}}"#),
        r#"{"event_id":"@ID@","type":"ticket.created","ts":4102444800000,"ticket_id":"zz"}"#
            .to_owned(),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    check_rejected("future_ts", &lines);
}

#[test]
fn out_of_range() {
    check_rejected(
        "out_of_range",
        &[
            r#"{"event_id":"@ID@","type":"survey.csat","ts":@TS@,"score":6}"#,
            r#"{"event_id":"@ID@","type":"survey.csat","ts":@TS@,"score":0,"ticket_id":"t1"}"#,
            r#"{"event_id":"@ID@","type":"survey.nps","ts":@TS@,"score":11}"#,
            r#"{"event_id":"@ID@","type":"survey.nps","ts":@TS@,"score":-1}"#,
            r#"{"event_id":"@ID@","type":"survey.ces","ts":@TS@,"score":8}"#,
            r#"{"event_id":"@ID@","type":"review.iqs","ts":@TS@,"score":101}"#,
            r#"{"event_id":"@ID@","type":"survey.csat","ts":@TS@,"score":9999999999999999999}"#,
            r#"{"event_id":"@ID@","type":"interaction.completed","ts":@TS@,"interaction_id":"i8","wait_s":-1,"talk_s":4}"#,
        ],
    );
}

/// JSON integers too large even for u64 are still integers (§7.2): a
/// score is out of range, an epoch-ms `ts` is unparsable.
#[test]
fn integers_beyond_64_bits() {
    check_rejected(
        "out_of_range",
        &[r#"{"event_id":"@ID@","type":"survey.csat","ts":@TS@,"score":99999999999999999999}"#],
    );
    check_rejected(
        "invalid_ts",
        &[
            r#"{"event_id":"@ID@","type":"ticket.created","ts":9999999999999999999,"ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"ticket.created","ts":99999999999999999999,"ticket_id":"zz"}"#,
        ],
    );
}

#[test]
fn unknown_type() {
    let huge = format!(
        r#"{{"event_id":"@ID@","type":"ticket.huge","ts":@TS@,"pad":"{}"}}"#,
        "y".repeat(3 << 20)
    );
    check_rejected(
        "unknown_type",
        &[
            r#"{"event_id":"@ID@","type":"ticket.teleported","ts":@TS@,"ticket_id":"t1"}"#,
            r#"{"event_id":"@ID@","type":"","ts":@TS@}"#,
            r#"{"event_id":"@ID@","type":"TICKET.CREATED","ts":@TS@,"ticket_id":"zz"}"#,
            huge.as_str(),
        ],
    );
}

#[test]
fn unknown_ticket() {
    check_rejected(
        "unknown_ticket",
        &[
            r#"{"event_id":"@ID@","type":"ticket.agent_replied","ts":@TS@,"ticket_id":"ghost","agent_id":"ann"}"#,
            r#"{"event_id":"@ID@","type":"ticket.resolved","ts":@TS@,"ticket_id":"ghost"}"#,
            r#"{"event_id":"@ID@","type":"ticket.status_changed","ts":@TS@,"ticket_id":"ghost","status":"open"}"#,
        ],
    );
    // A closed ticket's state is released (§7.12): later events for it
    // are unknown_ticket.
    let lines = base_lines();
    let after_close = index_of(&lines, "ticket.closed", "t3") + 1;
    check_rejected_at(
        after_close,
        "unknown_ticket",
        &[
            br#"{"event_id":"@ID@","type":"ticket.reopened","ts":@TS@,"ticket_id":"t3"}"#.to_vec(),
            br#"{"event_id":"@ID@","type":"ticket.customer_replied","ts":@TS@,"ticket_id":"t3"}"#
                .to_vec(),
        ],
    );
}

#[test]
fn unknown_interaction() {
    check_rejected(
        "unknown_interaction",
        &[
            r#"{"event_id":"@ID@","type":"interaction.answered","ts":@TS@,"interaction_id":"ghost","agent_id":"ann"}"#,
            r#"{"event_id":"@ID@","type":"interaction.abandoned","ts":@TS@,"interaction_id":"ghost"}"#,
        ],
    );
    // An abandoned interaction is over: a later event for it is unknown.
    let lines = base_lines();
    let after = index_of(&lines, "interaction.abandoned", "i2") + 1;
    check_rejected_at(
        after,
        "unknown_interaction",
        &[br#"{"event_id":"@ID@","type":"interaction.answered","ts":@TS@,"interaction_id":"i2","agent_id":"ann"}"#.to_vec()],
    );
}

#[test]
fn duplicate_ticket() {
    // t2 is open from 1 min on; the middle of the stream is later.
    let lines = base_lines();
    let at = lines.len() / 2;
    assert!(at > index_of(&lines, "ticket.created", "t2"));
    check_rejected(
        "duplicate_ticket",
        &[
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":"t2","queue":"other"}"#,
        ],
    );
}

// §7.1 precedence: a line with two (or more) defects gets the reason of
// the check that comes first in §7.1's order, which is:
//
//   invalid_json, then duplicate `event_id` (dropped, not rejected), then
//   missing_field, invalid_field, invalid_ts, future_ts, out_of_range,
//   unknown_type, unknown_ticket, unknown_interaction, duplicate_ticket.
//
// Each expectation below is derived from that order alone: the comment on
// a line names its defects, and the expected reason is the earlier one.
// `ghost` is a ticket and an interaction the base stream never saw; `t2` is
// open in the middle of the base stream (see `duplicate_ticket`); `zz` is
// a new ticket.

#[test]
fn precedence_missing_field_before_every_later_check() {
    check_rejected(
        "missing_field",
        &[
            // No ticket_id; unparsable ts (invalid_ts).
            r#"{"event_id":"@ID@","type":"ticket.created","ts":"yesterday","queue":"billing"}"#,
            // No ticket_id; ill-typed optional priority (invalid_field).
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"priority":"p1"}"#,
            // No ticket_id; ill-typed event_id (invalid_field).
            r#"{"event_id":7,"type":"ticket.created","ts":@TS@}"#,
            // No ts; ill-typed ticket_id (invalid_field).
            r#"{"event_id":"@ID@","type":"ticket.created","ticket_id":{"id":"zz"}}"#,
            // No ticket_id; ts in the future (future_ts).
            r#"{"event_id":"@ID@","type":"ticket.resolved","ts":@FUTURE@}"#,
            // A null score is a missing one; ts in the future (future_ts).
            r#"{"event_id":"@ID@","type":"survey.csat","ts":@FUTURE@,"score":null}"#,
            // No talk_s; negative wait_s (out_of_range).
            r#"{"event_id":"@ID@","type":"interaction.completed","ts":@TS@,"interaction_id":"i8","wait_s":-1}"#,
            // No ts; unknown type (unknown_type).
            r#"{"event_id":"@ID@","type":"ticket.teleported","ticket_id":"t1"}"#,
            // No agent_id; ticket never created (unknown_ticket).
            r#"{"event_id":"@ID@","type":"ticket.assigned","ts":@TS@,"ticket_id":"ghost"}"#,
            // No agent_id; interaction never queued (unknown_interaction).
            r#"{"event_id":"@ID@","type":"interaction.answered","ts":@TS@,"interaction_id":"ghost"}"#,
            // No ts; t2 is already open (duplicate_ticket).
            r#"{"event_id":"@ID@","type":"ticket.created","ticket_id":"t2"}"#,
        ],
    );
}

#[test]
fn precedence_invalid_field_before_every_later_check() {
    check_rejected(
        "invalid_field",
        &[
            // Ill-typed priority; unparsable ts (invalid_ts).
            r#"{"event_id":"@ID@","type":"ticket.created","ts":"yesterday","ticket_id":"zz","priority":"p1"}"#,
            // Ill-typed public; ts without an offset (invalid_ts, §7.2).
            r#"{"event_id":"@ID@","type":"ticket.agent_replied","ts":"2023-11-15T22:13:20","ticket_id":"t1","agent_id":"ann","public":"yes"}"#,
            // Ill-typed ticket_id; ts in the future (future_ts).
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@FUTURE@,"ticket_id":{"id":"zz"}}"#,
            // Ill-typed ticket_id; score above 5 (out_of_range).
            r#"{"event_id":"@ID@","type":"survey.csat","ts":@TS@,"score":9,"ticket_id":5}"#,
            // Ill-typed talk_s; negative wait_s (out_of_range).
            r#"{"event_id":"@ID@","type":"interaction.completed","ts":@TS@,"interaction_id":"i8","wait_s":-1,"talk_s":"4"}"#,
            // Ill-typed event_id; unknown type (unknown_type).
            r#"{"event_id":7,"type":"ticket.teleported","ts":@TS@}"#,
            // Ill-typed ts (a bool is neither string nor integer); unknown
            // type (unknown_type).
            r#"{"event_id":"@ID@","type":"ticket.teleported","ts":true}"#,
            // Ill-typed ts (a float); unknown type (unknown_type).
            r#"{"event_id":"@ID@","type":"survey.teleported","ts":1.7e12,"score":3}"#,
            // Ill-typed public; ticket never created (unknown_ticket).
            r#"{"event_id":"@ID@","type":"ticket.agent_replied","ts":@TS@,"ticket_id":"ghost","agent_id":"ann","public":"yes"}"#,
            // A status outside the enumeration; ticket never created
            // (unknown_ticket).
            r#"{"event_id":"@ID@","type":"ticket.status_changed","ts":@TS@,"ticket_id":"ghost","status":"closed"}"#,
            // Ill-typed agent_id; interaction never queued
            // (unknown_interaction).
            r#"{"event_id":"@ID@","type":"interaction.answered","ts":@TS@,"interaction_id":"ghost","agent_id":5}"#,
            // Ill-typed channel; t2 is already open (duplicate_ticket).
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@TS@,"ticket_id":"t2","channel":["chat"]}"#,
        ],
    );
}

#[test]
fn precedence_invalid_ts_before_every_later_check() {
    check_rejected(
        "invalid_ts",
        &[
            // No offset (§7.2), and read as UTC it would be far in the
            // future (future_ts): unparsable comes first.
            r#"{"event_id":"@ID@","type":"ticket.created","ts":"2999-01-01T00:00:00","ticket_id":"zz"}"#,
            r#"{"event_id":"@ID@","type":"survey.nps","ts":"2999-01-01T00:00:00.123","score":9}"#,
            // Unparsable ts; score above 10 (out_of_range).
            r#"{"event_id":"@ID@","type":"survey.nps","ts":"yesterday","score":11}"#,
            // Unparsable ts; unknown type (unknown_type).
            r#"{"event_id":"@ID@","type":"ticket.teleported","ts":"yesterday"}"#,
            // Unparsable ts; ticket never created (unknown_ticket).
            r#"{"event_id":"@ID@","type":"ticket.resolved","ts":"","ticket_id":"ghost"}"#,
            // Unparsable ts; interaction never queued (unknown_interaction).
            r#"{"event_id":"@ID@","type":"interaction.abandoned","ts":"2023-13-45T99:00:00Z","interaction_id":"ghost"}"#,
            // Unparsable ts; t2 is already open (duplicate_ticket).
            r#"{"event_id":"@ID@","type":"ticket.created","ts":"yesterday","ticket_id":"t2"}"#,
        ],
    );
}

#[test]
fn precedence_future_ts_before_every_later_check() {
    check_rejected(
        "future_ts",
        &[
            // Future ts; score above 5 (out_of_range).
            r#"{"event_id":"@ID@","type":"survey.csat","ts":@FUTURE@,"score":9}"#,
            // Future ts; score above 100 (out_of_range).
            r#"{"event_id":"@ID@","type":"review.iqs","ts":@FUTURE@,"score":101,"ticket_id":"t1"}"#,
            // Future ts; negative wait_s (out_of_range).
            r#"{"event_id":"@ID@","type":"interaction.completed","ts":@FUTURE@,"interaction_id":"i8","wait_s":-1,"talk_s":4}"#,
            // Future ts; unknown type (unknown_type).
            r#"{"event_id":"@ID@","type":"ticket.teleported","ts":@FUTURE@}"#,
            // Future ts; ticket never created (unknown_ticket).
            r#"{"event_id":"@ID@","type":"ticket.resolved","ts":@FUTURE@,"ticket_id":"ghost"}"#,
            // Future ts; interaction never queued (unknown_interaction).
            r#"{"event_id":"@ID@","type":"interaction.answered","ts":@FUTURE@,"interaction_id":"ghost","agent_id":"ann"}"#,
            // Future ts; t2 is already open (duplicate_ticket).
            r#"{"event_id":"@ID@","type":"ticket.created","ts":@FUTURE@,"ticket_id":"t2"}"#,
        ],
    );
}

// out_of_range against the later checks cannot be put on one line: score
// and seconds ranges belong to a known type (§1.3, §1.4), so an unknown
// type has no range to break; and the types that carry one (surveys,
// reviews, `interaction.completed`) are never unknown_ticket or
// unknown_interaction (§7.12, §7.10). Its place after future_ts and the
// earlier checks is covered above, and after duplicates below.

#[test]
fn precedence_unknown_type_before_state_checks() {
    check_rejected(
        "unknown_type",
        &[
            // Unknown type naming a ticket never created (unknown_ticket
            // were it a ticket event).
            r#"{"event_id":"@ID@","type":"ticket.teleported","ts":@TS@,"ticket_id":"ghost"}"#,
            r#"{"event_id":"@ID@","type":"TICKET.RESOLVED","ts":@TS@,"ticket_id":"ghost"}"#,
            // Unknown type (a trailing space) naming an interaction never
            // queued (unknown_interaction).
            r#"{"event_id":"@ID@","type":"interaction.answered ","ts":@TS@,"interaction_id":"ghost","agent_id":"ann"}"#,
            // Unknown type naming the open ticket t2 (duplicate_ticket were
            // it ticket.created).
            r#"{"event_id":"@ID@","type":"ticket.Created","ts":@TS@,"ticket_id":"t2"}"#,
        ],
    );
}

#[test]
fn precedence_unknown_ticket_before_unknown_interaction() {
    // A ticket event for a ticket never created that also names an
    // interaction never queued: the ticket check comes first. (A ticket
    // event does not read `interaction_id`, so this pins the order no
    // more than the reading of §1.2; and unknown_ticket against
    // duplicate_ticket cannot share a line: one needs ticket.created, the
    // other any other ticket type.)
    check_rejected(
        "unknown_ticket",
        &[
            r#"{"event_id":"@ID@","type":"ticket.resolved","ts":@TS@,"ticket_id":"ghost","interaction_id":"ghost"}"#,
            r#"{"event_id":"@ID@","type":"ticket.customer_replied","ts":@TS@,"ticket_id":"ghost","interaction_id":"i3"}"#,
        ],
    );
}

/// A duplicate `event_id` (here the id of the line just before, accepted
/// within the dedup horizon) is counted as a duplicate and dropped before
/// any other check (§7.1): whatever else is wrong with the line, it is not
/// rejected, and it changes nothing.
#[test]
fn precedence_duplicate_event_id_before_every_other_check() {
    let lines = base_lines();
    let at = lines.len() / 2;
    let bad: Vec<Vec<u8>> = [
        // Different, valid content.
        r#"{"event_id":"@DUP@","type":"ticket.created","ts":@TS@,"ticket_id":"zz"}"#,
        // missing_field.
        r#"{"event_id":"@DUP@","type":"ticket.created","ts":@TS@}"#,
        r#"{"event_id":"@DUP@","type":"ticket.created","ticket_id":"zz"}"#,
        r#"{"event_id":"@DUP@"}"#,
        // invalid_field.
        r#"{"event_id":"@DUP@","type":5,"ts":@TS@,"ticket_id":"zz"}"#,
        r#"{"event_id":"@DUP@","type":"ticket.created","ts":true,"ticket_id":"zz"}"#,
        r#"{"event_id":"@DUP@","type":"ticket.created","ts":@TS@,"ticket_id":"zz","priority":"p1"}"#,
        // invalid_ts.
        r#"{"event_id":"@DUP@","type":"ticket.created","ts":"yesterday","ticket_id":"zz"}"#,
        // future_ts.
        r#"{"event_id":"@DUP@","type":"ticket.created","ts":@FUTURE@,"ticket_id":"zz"}"#,
        // out_of_range.
        r#"{"event_id":"@DUP@","type":"survey.nps","ts":@TS@,"score":11}"#,
        // unknown_type.
        r#"{"event_id":"@DUP@","type":"ticket.teleported","ts":@TS@,"ticket_id":"t1"}"#,
        // unknown_ticket.
        r#"{"event_id":"@DUP@","type":"ticket.resolved","ts":@TS@,"ticket_id":"ghost"}"#,
        // unknown_interaction.
        r#"{"event_id":"@DUP@","type":"interaction.answered","ts":@TS@,"interaction_id":"ghost","agent_id":"ann"}"#,
        // duplicate_ticket.
        r#"{"event_id":"@DUP@","type":"ticket.created","ts":@TS@,"ticket_id":"t2"}"#,
    ]
    .iter()
    .map(|l| l.as_bytes().to_vec())
    .collect();
    check_bad_at(at, Fate::Duplicate, &bad);
}

#[test]
fn blank_lines_are_skipped_not_rejected() {
    let lines = base_lines();
    let base = replay(&lines);
    let mut input = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match i % 4 {
            0 => input.extend_from_slice(b"\n"),
            1 => input.extend_from_slice(b"   \t \n"),
            2 => input.extend_from_slice(b"\r\n"),
            _ => {}
        }
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    // And a blank line at the very end.
    input.extend_from_slice(b"\n");
    let run = replay_bytes(&input, None);
    run.assert_ok();
    assert_eq!(run.rejected_all(), 0.0, "{}", run.summary());
    assert_eq!(run.duplicates(), 0.0);
    assert_same_series(&kpis(&base), &kpis(&run), "blank lines");

    let mut unterminated = join(&lines);
    unterminated.pop();
    let run = replay_bytes(&unterminated, None);
    run.assert_ok();
    assert_same_series(&kpis(&base), &kpis(&run), "no final newline");
}

#[test]
fn duplicate_event_ids_change_nothing() {
    let lines = base_lines();
    let base = replay(&lines);
    let expected = kpis(&base);
    let reply = index_of(&lines, "ticket.agent_replied", "t1");
    let resolved = index_of(&lines, "ticket.resolved", "t1");
    let csat_line = lines
        .iter()
        .position(|l| l.contains("survey.csat"))
        .unwrap();
    let at = lines.len() - 1;

    // A redelivery of an earlier line, and of the very line before.
    for copied in [reply, resolved, csat_line, at - 1] {
        let mut dirty: Vec<String> = lines.clone();
        dirty.insert(at, lines[copied].clone());
        let run = replay(&dirty);
        assert_eq!(run.duplicates(), 1.0, "copy of line {copied}");
        assert_eq!(run.rejected_all(), 0.0);
        assert_same_series(&expected, &kpis(&run), &format!("copy of line {copied}"));
    }

    // Same event_id, different and even invalid content: dropped as a
    // duplicate before any other check (§7.1).
    let id = event_id_of(&lines[csat_line]);
    let mut dirty = lines.clone();
    dirty.insert(
        at,
        event("zz", "survey.csat", T0, json!({"score": 99})).replace("\"zz\"", &format!("{id:?}")),
    );
    let run = replay(&dirty);
    assert_eq!(run.duplicates(), 1.0);
    assert_eq!(run.rejected_all(), 0.0, "{}", run.summary());
    assert_same_series(&expected, &kpis(&run), "same id, bad score");

    // But invalid JSON is checked first, even for a known id.
    let mut dirty = lines.clone();
    let truncated = &lines[reply][..lines[reply].len() - 1];
    dirty.insert(at, truncated.to_owned());
    let run = replay(&dirty);
    assert_eq!(run.duplicates(), 0.0);
    assert_eq!(run.rejected("invalid_json"), 1.0);
    assert_same_series(&expected, &kpis(&run), "truncated copy");
}

/// The dedup horizon is 1 h of event time (§7.1): a copy read when the
/// clock is exactly 1 h past the original is a duplicate; 1 ms later it is
/// a new event (here late, so it counts in the cumulative counters only).
#[test]
fn dedup_horizon_is_one_hour_of_event_time() {
    let original = event("nps-1", "survey.nps", T0, json!({"score": 10}));
    for (clock_after, duplicate) in [(HOUR, true), (HOUR + 1, false)] {
        let lines = vec![
            original.clone(),
            event(
                "tick",
                "customer.signed_up",
                T0 + clock_after,
                json!({"customer_id": "c"}),
            ),
            original.clone(),
        ];
        let run = replay(&lines);
        let promoters = run
            .metrics
            .sum("support_nps_responses_total", &[("category", "promoter")]);
        if duplicate {
            assert_eq!(run.duplicates(), 1.0);
            assert_eq!(promoters, 1.0);
        } else {
            assert_eq!(run.duplicates(), 0.0, "beyond the horizon");
            assert_eq!(promoters, 2.0);
            assert_eq!(run.late(), 1.0);
        }
    }
}

/// §7.4: exactly 300 s behind the clock is on time; 301 s is late, skips
/// the windows, and still updates state, live gauges and cumulative
/// counters and histograms.
#[test]
fn late_events_skip_windows_but_count_cumulatively() {
    let stream = base_stream();
    let clock = stream.clock();
    let lines = stream.lines();
    let base = replay(&lines);
    let created_t2 = T0 + MIN;
    let resolve_t2 = |ts: i64| event("late-1", "ticket.resolved", ts, json!({"ticket_id": "t2"}));
    let t2_labels = [
        ("channel", "chat"),
        ("priority", "high"),
        ("queue", "tech2"),
    ];
    let windowed = |run: &Run| -> BTreeMap<(String, Labels), f64> {
        run.metrics
            .with_prefix("support_")
            .into_iter()
            .filter(|((_, labels), _)| labels.contains_key("window"))
            .collect()
    };
    let resolutions_1h = |run: &Run| {
        run.metrics.value(
            "support_resolution_window_seconds_count",
            &[("window", "1h")],
        )
    };

    // 300 s behind: on time, in the windows.
    let mut on_time = lines.clone();
    on_time.push(resolve_t2(clock - 300 * SEC));
    let run = replay(&on_time);
    assert_eq!(run.late(), 0.0);
    assert_eq!(resolutions_1h(&run), resolutions_1h(&base) + 1.0);

    // 301 s behind: late.
    let mut late = lines.clone();
    late.push(resolve_t2(clock - 301 * SEC));
    let run = replay(&late);
    assert_eq!(run.late(), 1.0);
    assert_eq!(run.rejected_all(), 0.0);
    assert_same_series(
        &windowed(&base),
        &windowed(&run),
        "windows skip a late event",
    );
    let m = &run.metrics;
    assert_eq!(
        m.value("support_tickets_resolved_total", &t2_labels),
        base.metrics
            .get("support_tickets_resolved_total", &t2_labels)
            .unwrap_or(0.0)
            + 1.0
    );
    let resolution_s = (clock - 301 * SEC - created_t2) as f64 / 1000.0;
    assert_eq!(m.value("support_resolution_seconds_count", &t2_labels), 1.0);
    assert_close(
        m.value("support_resolution_seconds_sum", &t2_labels),
        resolution_s,
        "late resolution time in the cumulative histogram",
    );
    assert_eq!(
        m.sum("support_tickets_open", &[]),
        base.metrics.sum("support_tickets_open", &[]) - 1.0,
        "the late resolution updates the backlog"
    );
    assert_eq!(
        m.value(
            "support_tickets_open",
            &[
                ("queue", "tech2"),
                ("priority", "high"),
                ("status", "pending")
            ]
        ),
        0.0
    );
}

#[test]
fn nothing_but_garbage_exits_cleanly() {
    let mut rng = Rng::new(7);
    let mut input = Vec::new();
    let mut lines = 0;
    for _ in 0..500 {
        let len = rng.range(1, 300) as usize;
        // Never a newline inside, and never only whitespace.
        input.push(b'~');
        for _ in 0..len {
            let b = rng.below(256) as u8;
            input.push(if b == b'\n' { b'?' } else { b });
        }
        input.push(b'\n');
        lines += 1;
    }
    let run = replay_bytes(&input, None);
    run.assert_ok();
    assert_eq!(run.rejected("invalid_json"), lines as f64);
    assert_eq!(run.metrics.sum("deskpulse_events_total", &[]), 0.0);

    let empty = replay_bytes(b"", None);
    empty.assert_ok();
    assert_eq!(empty.rejected_all(), 0.0);
}
