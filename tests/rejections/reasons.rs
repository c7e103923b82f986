//! Each rejection reason of §7.1 alone, and blank lines, which are
//! skipped rather than rejected.

use serde_json::json;

use crate::common::*;
use crate::*;

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
