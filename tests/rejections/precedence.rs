//! §7.1 precedence: a line with two (or more) defects gets the reason of
//! the check that comes first in §7.1's order, which is:
//!
//!   invalid_json, then duplicate `event_id` (dropped, not rejected), then
//!   missing_field, invalid_field, invalid_ts, future_ts, out_of_range,
//!   unknown_type, unknown_ticket, unknown_interaction, duplicate_ticket.
//!
//! Each expectation below is derived from that order alone: the comment on
//! a line names its defects, and the expected reason is the earlier one.
//! `ghost` is a ticket and an interaction the base stream never saw; `t2` is
//! open in the middle of the base stream (see `duplicate_ticket`); `zz` is
//! a new ticket.

use crate::*;

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
