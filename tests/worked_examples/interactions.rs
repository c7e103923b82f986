//! The interaction examples: AHT from the lifecycle and from summaries,
//! service level and abandon ratio.

use serde_json::json;

use crate::common::*;
use crate::sum_count;

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
