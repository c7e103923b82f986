//! SLA clocks end to end through `deskpulse replay --config` (SPEC §4):
//! met and breached counters, pauses, re-targeting, deadlines that fire
//! with no event, and business hours. Expected verdicts are worked out
//! from §4.2–4.4 in the comments.

mod common;

use common::*;
use serde_json::json;

/// Every hour counts; normal: first response 1 h, resolution 8 h;
/// urgent: first response 15 min.
const PLAIN: &str = r#"
[[sla.policy]]
name = "all"
[sla.policy.targets]
normal = { first_response = "1h", resolution = "8h" }
urgent = { first_response = "15m" }
"#;

fn labels(sla: &str) -> [(&'static str, String); 4] {
    [
        ("sla", sla.to_owned()),
        ("channel", "email".to_owned()),
        ("priority", "normal".to_owned()),
        ("queue", "support".to_owned()),
    ]
}

fn count(m: &Metrics, name: &str, sla: &str) -> f64 {
    m.sum(name, &[("sla", sla)])
}

fn created(s: &mut Stream, ticket: &str, ts: i64) {
    s.add(
        "ticket.created",
        ts,
        json!({"ticket_id": ticket, "queue": "support", "channel": "email"}),
    );
}

fn reply(s: &mut Stream, ticket: &str, ts: i64) {
    s.add(
        "ticket.agent_replied",
        ts,
        json!({"ticket_id": ticket, "agent_id": "ann"}),
    );
}

#[test]
fn a_reply_at_the_deadline_is_met_and_one_ms_later_is_a_breach() {
    let mut s = Stream::new();
    created(&mut s, "on-time", T0);
    created(&mut s, "late", T0);
    // Deadline T0 + 1 h: the last instant within the target.
    reply(&mut s, "on-time", T0 + HOUR);
    reply(&mut s, "late", T0 + HOUR + 1);
    let run = replay_with_config(&s.lines(), PLAIN);
    let m = &run.metrics;
    let l = labels("first_response");
    let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(m.value("support_sla_met_total", &l), 1.0);
    assert_eq!(m.value("support_sla_breaches_total", &l), 1.0);
    // Resolution clocks run on (8 h): no verdict yet.
    assert_eq!(count(m, "support_sla_met_total", "resolution"), 0.0);
    assert_eq!(count(m, "support_sla_breaches_total", "resolution"), 0.0);
}

#[test]
fn a_breach_shows_at_the_export_instant_with_no_later_event() {
    let mut s = Stream::new();
    created(&mut s, "t1", T0);
    // At exactly the deadline the breach has not fired; 1 ms after, it has.
    for (export, breaches) in [(T0 + HOUR, 0.0), (T0 + HOUR + 1, 1.0)] {
        let run = replay_with_args(&join(&s.lines()), Some(PLAIN), &["--at", &rfc3339(export)]);
        run.assert_ok();
        assert_eq!(
            count(&run.metrics, "support_sla_breaches_total", "first_response"),
            breaches,
            "exported at {}",
            rfc3339(export)
        );
    }
    // At 8 h 1 ms the resolution clock has breached too, once each.
    let run = replay_with_args(
        &join(&s.lines()),
        Some(PLAIN),
        &["--at", &rfc3339(T0 + 8 * HOUR + 1)],
    );
    run.assert_ok();
    assert_eq!(
        count(&run.metrics, "support_sla_breaches_total", "first_response"),
        1.0
    );
    assert_eq!(
        count(&run.metrics, "support_sla_breaches_total", "resolution"),
        1.0
    );
}

#[test]
fn pending_pauses_and_a_priority_change_retargets() {
    let mut s = Stream::new();
    // t1: 10 min counted, pending for 2 h, then open: 50 min left from
    // T0 + 2 h 10 min, so a reply at T0 + 3 h is met (counted 1 h exactly).
    created(&mut s, "t1", T0);
    s.add(
        "ticket.status_changed",
        T0 + 10 * MIN,
        json!({"ticket_id": "t1", "status": "pending"}),
    );
    s.add(
        "ticket.status_changed",
        T0 + 130 * MIN,
        json!({"ticket_id": "t1", "status": "open"}),
    );
    reply(&mut s, "t1", T0 + 180 * MIN);
    // t2: 20 min counted when it becomes urgent (target 15 min): it
    // breaches at the change, with the labels after it (priority urgent).
    created(&mut s, "t2", T0);
    s.add(
        "ticket.updated",
        T0 + 20 * MIN,
        json!({"ticket_id": "t2", "priority": "urgent"}),
    );
    // t3: resolved without a reply before its first-response deadline:
    // that clock stops with no verdict; resolution met (30 min ≤ 8 h).
    created(&mut s, "t3", T0);
    s.add("ticket.resolved", T0 + 30 * MIN, json!({"ticket_id": "t3"}));
    // Export before anything else falls due: t1's resolution deadline is
    // T0 + 10 h; t2 has no urgent resolution target (dropped).
    let run = replay_with_args(
        &join(&s.lines()),
        Some(PLAIN),
        &["--at", "2023-11-15T01:13:20Z"],
    );
    run.assert_ok();
    let m = &run.metrics;
    assert_eq!(
        m.value(
            "support_sla_met_total",
            &[
                ("sla", "first_response"),
                ("channel", "email"),
                ("priority", "normal"),
                ("queue", "support")
            ]
        ),
        1.0,
        "t1 met after its pause"
    );
    assert_eq!(
        m.value(
            "support_sla_breaches_total",
            &[
                ("sla", "first_response"),
                ("channel", "email"),
                ("priority", "urgent"),
                ("queue", "support")
            ]
        ),
        1.0,
        "t2 breached at the change"
    );
    assert_eq!(
        count(m, "support_sla_breaches_total", "first_response"),
        1.0
    );
    assert_eq!(
        count(m, "support_sla_met_total", "first_response"),
        1.0,
        "t3 has no verdict"
    );
    assert_eq!(count(m, "support_sla_met_total", "resolution"), 1.0, "t3");
    assert_eq!(count(m, "support_sla_breaches_total", "resolution"), 0.0);
}

#[test]
fn business_hours_friday_evening_deadline_is_monday_morning() {
    // SPEC §4.3: Mon–Fri 09:00–18:00 Berlin; created Friday 2023-11-17
    // 17:55 CET (16:55Z) with 1 h: 5 min Friday, 55 min Monday, so the
    // deadline is Monday 2023-11-20 09:55 CET (08:55Z).
    let config = r#"
[[sla.policy]]
name = "office"
calendar = "office"
[sla.policy.targets]
normal = { first_response = "1h" }
[sla.calendar.office]
timezone = "Europe/Berlin"
hours = { mon = ["09:00-18:00"], tue = ["09:00-18:00"], wed = ["09:00-18:00"], thu = ["09:00-18:00"], fri = ["09:00-18:00"] }
"#;
    let friday = 1_700_240_100_000; // 2023-11-17T16:55:00Z
    let monday_0955 = friday + (2 * 24 + 16) * HOUR;
    let mut s = Stream::new();
    created(&mut s, "met", friday);
    created(&mut s, "late", friday);
    reply(&mut s, "met", monday_0955);
    reply(&mut s, "late", monday_0955 + 1);
    let run = replay_with_config(&s.lines(), config);
    let m = &run.metrics;
    assert_eq!(count(m, "support_sla_met_total", "first_response"), 1.0);
    assert_eq!(
        count(m, "support_sla_breaches_total", "first_response"),
        1.0
    );
    // Business time counted: 1 h when met, 1 h 1 ms when it stopped late;
    // the calendar time of the same replies is over 2.5 days each.
    let l = [
        ("channel", "email"),
        ("priority", "normal"),
        ("queue", "support"),
    ];
    let (sum, n) = window_sum_count(m, "support_first_response_business_seconds", &l);
    assert_eq!((n, sum), (2.0, 7200.001));
    let le_3600 = [l.as_slice(), &[("le", "3600")]].concat();
    assert_eq!(
        m.value("support_first_response_business_seconds_bucket", &le_3600),
        1.0,
        "1 h is inside le=3600, 1 h 1 ms is not"
    );
}

#[test]
fn without_a_policy_no_sla_series_is_exported() {
    let mut s = Stream::new();
    created(&mut s, "t1", T0);
    reply(&mut s, "t1", T0 + 2 * HOUR);
    let run = replay(&s.lines());
    assert!(
        run.metrics
            .series
            .keys()
            .all(|(name, _)| !name.contains("sla") && !name.contains("business")),
        "no SLA series without [[sla.policy]]"
    );
}

/// The breached and at-risk gauges of first response in queue `support`.
fn open_gauges(m: &Metrics) -> (f64, f64) {
    let l = [("sla", "first_response"), ("queue", "support")];
    (
        m.value("support_tickets_sla_breached", &l),
        m.value("support_tickets_sla_at_risk", &l),
    )
}

#[test]
fn at_risk_from_the_configured_fraction_then_breached_until_it_stops() {
    // at_risk = 0.8 of 1 h: at risk from 48 min counted; breached after
    // the deadline at 1 h; the late reply at 1 h 10 min stops the clock.
    let config = format!("[sla]\nat_risk = 0.8\n{PLAIN}");
    let mut s = Stream::new();
    created(&mut s, "t1", T0);
    reply(&mut s, "t1", T0 + 70 * MIN);
    let lines = join(&s.lines()[..1]);
    for (at, breached, at_risk) in [
        (T0 + 48 * MIN - 1, 0.0, 0.0),
        (T0 + 48 * MIN, 0.0, 1.0),
        (T0 + HOUR, 0.0, 1.0),
        (T0 + HOUR + 1, 1.0, 0.0),
    ] {
        let run = replay_with_args(&lines, Some(&config), &["--at", &rfc3339(at)]);
        run.assert_ok();
        assert_eq!(
            open_gauges(&run.metrics),
            (breached, at_risk),
            "(breached, at risk) at {}",
            rfc3339(at)
        );
    }
    let m = &replay_with_config(&s.lines(), &config).metrics;
    assert_eq!(open_gauges(m), (0.0, 0.0), "the late reply stopped it");
    assert_eq!(
        count(m, "support_sla_breaches_total", "first_response"),
        1.0
    );
    assert_eq!(count(m, "support_sla_met_total", "first_response"), 0.0);
    // Every queue seen and every kind some policy has a target for shows,
    // as 0 when nothing is breached; next_reply has no target anywhere.
    let resolution = [("sla", "resolution"), ("queue", "support")];
    assert_eq!(m.value("support_tickets_sla_at_risk", &resolution), 0.0);
    assert_eq!(m.value("support_tickets_sla_breached", &resolution), 0.0);
    assert_eq!(
        m.count("support_tickets_sla_breached", &[("sla", "next_reply")]),
        0
    );
}

#[test]
fn compliance_per_window_places_breaches_at_their_deadline_and_skips_late_met() {
    // First response 1 h (PLAIN); lateness 300 s by default.
    let mut s = Stream::new();
    for t in ["t1", "t2", "t3"] {
        created(&mut s, t, T0);
    }
    created(&mut s, "t6", T0 + 30 * MIN);
    created(&mut s, "t4", T0 + 50 * MIN);
    reply(&mut s, "t1", T0 + 30 * MIN); // met at T0+30m
                                        // The clock moves to T0+61m: t2 and t3 breach at their deadline T0+1h,
                                        // and t3's reply then stops it late (no second count).
    reply(&mut s, "t3", T0 + 61 * MIN);
    // The clock jumps to T0+2h: t6 breaches at its deadline, T0+90m.
    created(&mut s, "t5", T0 + 2 * HOUR);
    // Read after t3's reply, 6 min behind the clock: late. t4 met its
    // target (5 min counted): in the counter, not in the windows (§4.4).
    let mut lines = s.lines();
    let late_reply = json!({"ticket_id": "t4", "agent_id": "ann"});
    let late_reply = event("late", "ticket.agent_replied", T0 + 55 * MIN, late_reply);
    lines.insert(lines.len() - 1, late_reply);
    let run = replay_with_args(
        &join(&lines),
        Some(PLAIN),
        &["--at", &rfc3339(T0 + 121 * MIN)],
    );
    assert_eq!(run.assert_ok().late(), 1.0);
    let m = &run.metrics;
    assert_eq!(count(m, "support_sla_met_total", "first_response"), 2.0);
    assert_eq!(
        count(m, "support_sla_breaches_total", "first_response"),
        3.0
    );
    for queue in [None, Some("support")] {
        let ratio = |window: &str| {
            let mut l = vec![("sla", "first_response"), ("window", window)];
            l.extend(queue.map(|q| ("queue", q)));
            m.get("support_sla_compliance_ratio", &l)
        };
        // 5m holds none of them (t6's breach counted when it fired, at
        // T0+2h, would be here); 1h holds t6's breach at T0+90m only; 24h
        // holds t1 met and three breaches, not t4's late met.
        assert_eq!(ratio("5m"), None, "{queue:?}: absent when empty");
        assert_eq!(ratio("1h"), Some(0.0), "{queue:?}");
        assert_eq!(ratio("24h"), Some(0.25), "{queue:?}");
    }
    assert_eq!(
        m.count("support_sla_compliance_ratio", &[("sla", "resolution")]),
        0,
        "no resolution verdict yet"
    );
}
