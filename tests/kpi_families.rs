//! KPI families beyond the worked examples, end to end through
//! `deskpulse replay -`: next reply time (SPEC §7.6), CES and IQS for the
//! centre, per queue and per agent, per-agent handle time and CSAT with the
//! ticket's agent as the README defines it, agent status counts and
//! utilization, and the backlog gauges (§7.11) at a fixed `--at` instant.
//!
//! Every expected number is worked out below from the SPEC/README rules,
//! with the arithmetic in a comment; none is copied from the program.

mod common;

use common::*;
use serde_json::json;

/// An hour-aligned instant (2023-11-14T23:00:00Z = T0 + 46 min 40 s), so
/// 5 s, 1 min and 1 h slots all start on it.
const B: i64 = T0 + 46 * MIN + 40 * SEC;

#[test]
fn rfc3339_helper_and_base_instant() {
    assert_eq!(rfc3339(B), "2023-11-14T23:00:00.000Z");
    assert_eq!(B % HOUR, 0);
}

/// SPEC §7.6: next reply runs from the earliest customer reply not yet
/// answered; customer replies before the first agent reply start no clock;
/// a private reply is neither a reply nor a contact.
#[test]
fn next_reply_from_earliest_unanswered_customer_reply_private_replies_ignored() {
    let mut s = Stream::new();
    let reply = |s: &mut Stream, t: &str, at: i64, agent: &str, public: bool| {
        s.add(
            "ticket.agent_replied",
            at,
            json!({"ticket_id": t, "agent_id": agent, "public": public}),
        );
    };
    let customer = |s: &mut Stream, t: &str, at: i64| {
        s.add("ticket.customer_replied", at, json!({"ticket_id": t}));
    };
    for (t, queue) in [("a", "q1"), ("b", "q2"), ("c", "q1"), ("d", "q1")] {
        s.add(
            "ticket.created",
            B,
            json!({"ticket_id": t, "queue": queue, "channel": "email"}),
        );
    }
    // a: a customer reply before the first agent reply (+10 s) starts no
    // clock; FRT = 60 s. Three customer replies (+120, +180, +200) before
    // one answer at +300 give ONE next reply from the earliest:
    // 300 − 120 = 180 s. A further reply at +360 answers nothing.
    customer(&mut s, "a", B + 10 * SEC);
    reply(&mut s, "a", B + 60 * SEC, "ann", true);
    customer(&mut s, "a", B + 120 * SEC);
    customer(&mut s, "a", B + 180 * SEC);
    customer(&mut s, "a", B + 200 * SEC);
    reply(&mut s, "a", B + 300 * SEC, "ann", true);
    reply(&mut s, "a", B + 360 * SEC, "ann", true);
    // b (queue q2): FRT 30 s. Customer at +100; a private note at +130
    // does not answer it; the public reply at +160 does: 160 − 100 = 60 s.
    // Customer at +200, answered at +440: 240 s.
    reply(&mut s, "b", B + 30 * SEC, "bob", true);
    customer(&mut s, "b", B + 100 * SEC);
    reply(&mut s, "b", B + 130 * SEC, "bob", false);
    reply(&mut s, "b", B + 160 * SEC, "bob", true);
    customer(&mut s, "b", B + 200 * SEC);
    reply(&mut s, "b", B + 440 * SEC, "bob", true);
    // c: a private note at +20 does not end FRT; the customer reply at +40
    // comes before the first (public) agent reply at +90, so it starts no
    // clock and is no contact after the reply: FRT 90 s, no next reply,
    // resolved at +100 as an FCR (one public reply, no customer reply
    // after it).
    reply(&mut s, "c", B + 20 * SEC, "cat", false);
    customer(&mut s, "c", B + 40 * SEC);
    reply(&mut s, "c", B + 90 * SEC, "cat", true);
    s.add("ticket.resolved", B + 100 * SEC, json!({"ticket_id": "c"}));
    // d: FRT 50 s, then a private note: not a second reply, so the
    // resolution at +80 is still an FCR.
    reply(&mut s, "d", B + 50 * SEC, "dan", true);
    reply(&mut s, "d", B + 70 * SEC, "dan", false);
    s.add("ticket.resolved", B + 80 * SEC, json!({"ticket_id": "d"}));
    // a: three public replies → not an FCR.
    s.add("ticket.resolved", B + 400 * SEC, json!({"ticket_id": "a"}));
    assert_eq!(s.clock(), B + 440 * SEC);

    let run = replay(&s.lines());
    let m = &run.metrics;
    let base = "support_next_reply_window_seconds";
    // Next replies: a 180; b 60, 240 → count 3, sum 480, mean 160.
    for window in ["5m", "1h", "24h", "today"] {
        // The 5m window starts at slot(B+440 s) − 59 slots of 5 s
        // = B + (88 − 59)·5 s = B + 145 s: all three replies (+160, +300,
        // +440) are inside it.
        let (sum, count) = window_sum_count(m, base, &[("window", window)]);
        assert_eq!(count, 3.0, "{window} next-reply count");
        assert_close(sum, 480.0, &format!("{window} next-reply sum"));
        assert_close(sum / count, 160.0, &format!("{window} mean next reply"));
    }
    // Nearest rank over [60, 180, 240]: p50 → rank ⌈1.5⌉ = 2 → 180;
    // p90 → ⌈2.7⌉ = 3 → 240; p99 → 240.
    let q = |labels: &[(&str, &str)], quantile: &str| {
        let mut l = labels.to_vec();
        l.push(("quantile", quantile));
        m.value(base, &l)
    };
    let centre = [("window", "1h")];
    assert_quantile(q(&centre, "0.5"), 180.0, "p50");
    assert_quantile(q(&centre, "0.9"), 240.0, "p90");
    assert_quantile(q(&centre, "0.99"), 240.0, "p99");
    // Per queue: q1 holds a's 180 s; q2 holds b's 60 + 240 = 300 s.
    let (sum, count) = window_sum_count(m, base, &[("queue", "q1"), ("window", "1h")]);
    assert_eq!((sum, count), (180.0, 1.0), "q1");
    let (sum, count) = window_sum_count(m, base, &[("queue", "q2"), ("window", "1h")]);
    assert_eq!(count, 2.0, "q2 count");
    assert_close(sum, 300.0, "q2 sum");
    let q2 = [("queue", "q2"), ("window", "1h")];
    // [60, 240]: p50 → rank 1 → 60; p90 → rank 2 → 240.
    assert_quantile(q(&q2, "0.5"), 60.0, "q2 p50");
    assert_quantile(q(&q2, "0.9"), 240.0, "q2 p90");

    // The cumulative histogram holds the same three values.
    let cum = "support_next_reply_seconds";
    assert_eq!(m.sum(&format!("{cum}_count"), &[]), 3.0);
    assert_close(m.sum(&format!("{cum}_sum"), &[]), 480.0, "cumulative sum");
    let bucket = |le: &str| m.sum(&format!("{cum}_bucket"), &[("le", le)]);
    assert_eq!(bucket("60"), 1.0, "60 s ≤ le=60 (inclusive)");
    assert_eq!(bucket("300"), 3.0);
    assert_eq!(bucket("+Inf"), 3.0);
    let labels = [
        ("channel", "email"),
        ("priority", "normal"),
        ("queue", "q2"),
    ];
    assert_eq!(m.value(&format!("{cum}_count"), &labels), 2.0);
    assert_close(m.value(&format!("{cum}_sum"), &labels), 300.0, "q2 cum");

    // FRT: a 60, b 30, c 90 (not the private note's 20), d 50 → 4, 230 s.
    let (sum, count) = window_sum_count(
        m,
        "support_first_response_window_seconds",
        &[("window", "1h")],
    );
    assert_eq!(count, 4.0, "FRT count");
    assert_close(sum, 230.0, "FRT sum: private notes end no FRT");

    // FCR: c and d of the three first resolutions (a, c, d) → 2/3.
    assert_close(
        m.value(
            "support_first_contact_resolution_ratio",
            &[("window", "1h")],
        ),
        2.0 / 3.0,
        "FCR: private notes are no contact",
    );
    assert_eq!(
        m.sum("support_first_contact_resolutions_total", &[]),
        2.0,
        "FCR counter"
    );
}

/// CES and IQS for the centre and per queue (a survey naming a known ticket
/// takes its queue), IQS, CSAT and handle time per agent, with the ticket's
/// agent per the README: the assigned one, else the first public replier;
/// `ticket.resolved` with `agent_id` sets it; a survey's own `agent_id`
/// wins.
#[test]
fn ces_iqs_centre_queue_and_agent_with_ticket_agent_rules() {
    let mut s = Stream::new();
    let create = |s: &mut Stream, t: &str, queue: &str| {
        s.add(
            "ticket.created",
            B,
            json!({"ticket_id": t, "queue": queue, "channel": "chat"}),
        );
    };
    let reply = |s: &mut Stream, t: &str, at: i64, agent: &str, public: bool| {
        s.add(
            "ticket.agent_replied",
            at,
            json!({"ticket_id": t, "agent_id": agent, "public": public}),
        );
    };
    create(&mut s, "t1", "billing");
    create(&mut s, "t2", "tech");
    create(&mut s, "t3", "tech");
    create(&mut s, "t4", "billing");
    create(&mut s, "t5", "sales");
    // t1: assigned to ann, first public reply by bob → agent ann.
    s.add(
        "ticket.assigned",
        B + 10 * SEC,
        json!({"ticket_id": "t1", "agent_id": "ann"}),
    );
    reply(&mut s, "t1", B + 20 * SEC, "bob", true);
    // t2: never assigned; first public replier bob, then cat → agent bob.
    reply(&mut s, "t2", B + 30 * SEC, "bob", true);
    reply(&mut s, "t2", B + 40 * SEC, "cat", true);
    // t3: first public replier bob, resolved by dan → agent dan.
    reply(&mut s, "t3", B + 30 * SEC, "bob", true);
    s.add(
        "ticket.resolved",
        B + 50 * SEC,
        json!({"ticket_id": "t3", "agent_id": "dan"}),
    );
    // t4: assigned to ann (surveys with their own agent_id name eve).
    s.add(
        "ticket.assigned",
        B + 10 * SEC,
        json!({"ticket_id": "t4", "agent_id": "ann"}),
    );
    // t5: a private note by zed is no reply; first public replier cat.
    reply(&mut s, "t5", B + 20 * SEC, "zed", false);
    reply(&mut s, "t5", B + 30 * SEC, "cat", true);

    let at = B + 60 * SEC;
    let ces = |s: &mut Stream, ticket: Option<&str>, score: i64| {
        let mut extra = json!({"score": score});
        if let Some(t) = ticket {
            extra["ticket_id"] = json!(t);
        }
        s.add("survey.ces", at, extra);
    };
    // CES: t1 (billing) 6; t2, t3 (tech) 3, 5; an unknown ticket 2 and no
    // ticket 7 (both queue "unknown", §7.12).
    ces(&mut s, Some("t1"), 6);
    ces(&mut s, Some("t2"), 3);
    ces(&mut s, Some("t3"), 5);
    ces(&mut s, Some("nope"), 2);
    ces(&mut s, None, 7);

    let survey =
        |s: &mut Stream, kind: &str, ticket: Option<&str>, agent: Option<&str>, score: i64| {
            let mut extra = json!({"score": score});
            if let Some(t) = ticket {
                extra["ticket_id"] = json!(t);
            }
            if let Some(a) = agent {
                extra["agent_id"] = json!(a);
            }
            s.add(kind, at + 10 * SEC, extra);
        };
    // IQS:            queue    agent
    //   t1       80   billing  ann
    //   t2       70   tech     bob
    //   t3       90   tech     dan (set by the resolution)
    //   t4 (eve) 66   billing  eve (the review's own agent_id)
    //   t5       50   sales    cat
    //   t2      100   tech     bob
    //   — (ann)  40   unknown  ann
    survey(&mut s, "review.iqs", Some("t1"), None, 80);
    survey(&mut s, "review.iqs", Some("t2"), None, 70);
    survey(&mut s, "review.iqs", Some("t3"), None, 90);
    survey(&mut s, "review.iqs", Some("t4"), Some("eve"), 66);
    survey(&mut s, "review.iqs", Some("t5"), None, 50);
    survey(&mut s, "review.iqs", Some("t2"), None, 100);
    survey(&mut s, "review.iqs", None, Some("ann"), 40);
    // CSAT (satisfied ≥ 4): t1 5 ✓, t1 2 ✗, t4 1 ✗ → ann 1/3;
    // t4 with agent_id eve 5 ✓ → eve 1; t2 4 ✓ → bob 1; t3 3 ✗ → dan 0;
    // cat has none → no series.
    survey(&mut s, "survey.csat", Some("t1"), None, 5);
    survey(&mut s, "survey.csat", Some("t1"), None, 2);
    survey(&mut s, "survey.csat", Some("t4"), None, 1);
    survey(&mut s, "survey.csat", Some("t4"), Some("eve"), 5);
    survey(&mut s, "survey.csat", Some("t2"), None, 4);
    survey(&mut s, "survey.csat", Some("t3"), None, 3);

    // Handle time per agent (answering agent; wrap-up end − answer):
    // i1: ann answers at +110, wrap-up ends at +200 → 90 s.
    // i2: ann answers at +120, hold +130..+150, ends +240, wrap-up +250
    //     → 130 s (talk 90 without hold + hold 20 + ACW 10).
    // completed by bob: 100 + 20 + 30 = 150 s; by ann: 200 + 0 + 40 = 240 s.
    for (i, answered) in [("i1", 110), ("i2", 120)] {
        s.add(
            "interaction.queued",
            B + 100 * SEC,
            json!({"interaction_id": i, "queue": "voice"}),
        );
        s.add(
            "interaction.answered",
            B + answered * SEC,
            json!({"interaction_id": i, "agent_id": "ann"}),
        );
    }
    let step = |s: &mut Stream, kind: &str, at: i64, i: &str| {
        s.add(kind, B + at * SEC, json!({"interaction_id": i}));
    };
    step(&mut s, "interaction.ended", 170, "i1");
    step(&mut s, "interaction.wrapup_ended", 200, "i1");
    step(&mut s, "interaction.hold_started", 130, "i2");
    step(&mut s, "interaction.hold_ended", 150, "i2");
    step(&mut s, "interaction.ended", 240, "i2");
    step(&mut s, "interaction.wrapup_ended", 250, "i2");
    for (agent, at, talk, hold, acw) in [("bob", 300, 100, 20, 30), ("ann", 310, 200, 0, 40)] {
        s.add(
            "interaction.completed",
            B + at * SEC,
            json!({"interaction_id": format!("done-{agent}"), "queue": "voice", "channel": "phone", "agent_id": agent,
                   "wait_s": 5, "talk_s": talk, "hold_s": hold, "acw_s": acw}),
        );
    }

    let run = replay(&s.lines());
    assert_eq!(run.rejected_all(), 0.0, "{}", run.summary());
    let m = &run.metrics;
    let gauge = |name: &str, labels: &[(&str, &str)]| m.value(name, labels);

    // CES: centre (6+3+5+2+7)/5 = 23/5 = 4.6; billing 6; tech (3+5)/2 = 4;
    // unknown (2+7)/2 = 4.5.
    for window in ["5m", "1h", "24h"] {
        let w = ("window", window);
        assert_close(gauge("support_ces_score", &[w]), 4.6, "centre CES");
        assert_close(
            gauge("support_ces_score", &[("queue", "billing"), w]),
            6.0,
            "billing CES",
        );
        assert_close(
            gauge("support_ces_score", &[("queue", "tech"), w]),
            4.0,
            "tech CES",
        );
        assert_close(
            gauge("support_ces_score", &[("queue", "unknown"), w]),
            4.5,
            "unknown CES",
        );
    }
    assert!(
        !m.has("support_ces_score", &[("queue", "sales"), ("window", "1h")]),
        "no CES in sales: empty denominator, no series"
    );

    // IQS: centre (80+70+90+66+50+100+40)/7 = 496/7; billing (80+66)/2 =
    // 73; tech (70+90+100)/3 = 260/3; sales 50; unknown 40.
    let w = ("window", "1h");
    assert_close(gauge("support_iqs_score", &[w]), 496.0 / 7.0, "centre IQS");
    for (queue, expected) in [
        ("billing", 73.0),
        ("tech", 260.0 / 3.0),
        ("sales", 50.0),
        ("unknown", 40.0),
    ] {
        assert_close(
            gauge("support_iqs_score", &[("queue", queue), w]),
            expected,
            &format!("{queue} IQS"),
        );
    }
    // Per agent: ann (80+40)/2 = 60; bob (70+100)/2 = 85; dan 90; eve 66;
    // cat 50.
    for (agent, expected) in [
        ("ann", 60.0),
        ("bob", 85.0),
        ("dan", 90.0),
        ("eve", 66.0),
        ("cat", 50.0),
    ] {
        for window in ["5m", "1h"] {
            assert_close(
                gauge(
                    "support_agent_iqs_score",
                    &[("agent", agent), ("window", window)],
                ),
                expected,
                &format!("{agent} {window} IQS"),
            );
        }
    }
    // Per-agent CSAT.
    for (agent, expected) in [("ann", 1.0 / 3.0), ("eve", 1.0), ("bob", 1.0), ("dan", 0.0)] {
        assert_close(
            gauge(
                "support_agent_csat_ratio",
                &[("agent", agent), ("window", "1h")],
            ),
            expected,
            &format!("{agent} CSAT"),
        );
    }
    assert!(
        !m.has(
            "support_agent_csat_ratio",
            &[("agent", "cat"), ("window", "1h")]
        ),
        "cat has no CSAT response: no series"
    );
    // A private note's author is no replier and becomes no agent.
    assert_eq!(
        m.matching("support_agent_iqs_score", &[("agent", "zed")])
            .count()
            + m.matching(
                "support_agent_handle_window_seconds_count",
                &[("agent", "zed")]
            )
            .count(),
        0,
        "zed wrote only a private note"
    );

    // Handle time per agent: ann [90, 130, 240] → count 3, sum 460;
    // nearest rank p50 → rank 2 → 130, p90 → 240. bob [150].
    let h = "support_agent_handle_window_seconds";
    let (sum, count) = window_sum_count(m, h, &[("agent", "ann"), ("window", "1h")]);
    assert_eq!(count, 3.0, "ann handled 3");
    assert_close(sum, 460.0, "ann handle sum");
    let aq = |agent: &str, quantile: &str| {
        m.value(
            h,
            &[("agent", agent), ("window", "1h"), ("quantile", quantile)],
        )
    };
    assert_quantile(aq("ann", "0.5"), 130.0, "ann p50");
    assert_quantile(aq("ann", "0.9"), 240.0, "ann p90");
    let (sum, count) = window_sum_count(m, h, &[("agent", "bob"), ("window", "1h")]);
    assert_eq!((sum, count), (150.0, 1.0), "bob handle");
    assert_quantile(aq("bob", "0.5"), 150.0, "bob p50");
    // The centre holds all four: 90 + 130 + 150 + 240 = 610.
    let (sum, count) = window_sum_count(m, "support_handle_window_seconds", &[w]);
    assert_eq!(count, 4.0);
    assert_close(sum, 610.0, "centre handle sum");
}

/// `support_agents{status}` and utilization = busy ÷ not offline over the
/// window, with spans crossing the window's start and spans still open at
/// the `--at` instant (README: time in the current status counts up to the
/// export instant).
#[test]
fn agent_status_counts_and_utilization_clipped_to_the_window_and_export_instant() {
    // Export at A = 23:30:00Z, aligned to 5 s and 1 min slots. The 5m
    // window starts at slot(A) − 59 slots = A − 295 s; the 1h window at
    // A − 59 min; 24h (24 min slots) and today (UTC midnight) start
    // before every event here.
    let a = B + 30 * MIN;
    let mut s = Stream::new();
    let status = |s: &mut Stream, agent: &str, back_s: i64, status: &str| {
        s.add(
            "agent.status_changed",
            a - back_s * SEC,
            json!({"agent_id": agent, "status": status}),
        );
    };
    // ann: available A−400 s, busy A−200, available A−100 (open to A).
    status(&mut s, "ann", 400, "available");
    status(&mut s, "ann", 200, "busy");
    status(&mut s, "ann", 100, "available");
    // bob: busy A−1000, offline A−50.
    status(&mut s, "bob", 1000, "busy");
    status(&mut s, "bob", 50, "offline");
    // cat: offline A−250, away A−150 (open).
    status(&mut s, "cat", 250, "offline");
    status(&mut s, "cat", 150, "away");
    // dan: busy A−30 (open). eve: available A−10 (open).
    status(&mut s, "dan", 30, "busy");
    status(&mut s, "eve", 10, "available");
    // fay: busy A−600 (open), across the 5m window's start.
    status(&mut s, "fay", 600, "busy");
    assert_eq!(
        s.clock(),
        a - 10 * SEC,
        "--at lies 10 s after the last event"
    );

    let run = replay_with_args(&join(&s.lines()), None, &["--at", &rfc3339(a)]);
    run.assert_ok();
    let m = &run.metrics;
    // Now: ann available, bob offline, cat away, dan busy, eve available,
    // fay busy.
    for (st, n) in [
        ("available", 2.0),
        ("busy", 2.0),
        ("away", 1.0),
        ("offline", 1.0),
    ] {
        assert_eq!(m.value("support_agents", &[("status", st)]), n, "{st}");
    }

    // 5m window [A−295, A]:
    //   ann online 295 (95 available + 100 busy + 100 available), busy 100
    //   bob online = busy = A−295..A−50 = 245
    //   cat online 150 (away), busy 0; dan 30 and 30; eve online 10;
    //   fay (open, clipped to the start) 295 and 295.
    //   busy 100 + 245 + 30 + 295 = 670;
    //   online 295 + 245 + 150 + 30 + 10 + 295 = 1025.
    let u = |window: &str| m.value("support_agent_utilization_ratio", &[("window", window)]);
    assert_close(u("5m"), 670.0 / 1025.0, "5m utilization");
    // 1h, 24h and today hold every span whole:
    //   ann online 400, busy 100; bob 950 and 950; cat 150; dan 30, 30;
    //   eve 10; fay 600, 600: busy 100 + 950 + 30 + 600 = 1680;
    //   online 400 + 950 + 150 + 30 + 10 + 600 = 2140.
    for window in ["1h", "24h", "today"] {
        assert_close(u(window), 1680.0 / 2140.0, &format!("{window} utilization"));
    }
    // Utilization is for the whole centre only (README).
    assert_eq!(
        m.count("support_agent_utilization_ratio", &[("window", "1h")]),
        1
    );
}

/// Backlog (§7.11) by queue, priority and current status, and the oldest
/// open / oldest unanswered ages per queue, at a fixed `--at` instant.
#[test]
fn backlog_by_status_and_oldest_ages_per_queue_at_export_instant() {
    let a = B + 30 * MIN;
    let ago = |min: i64| a - min * MIN;
    let mut s = Stream::new();
    let create = |s: &mut Stream, t: &str, min: i64, queue: &str, priority: &str| {
        s.add(
            "ticket.created",
            ago(min),
            json!({"ticket_id": t, "queue": queue, "priority": priority}),
        );
    };
    let on = |s: &mut Stream, kind: &str, t: &str, min: i64, extra: serde_json::Value| {
        let mut e = extra;
        e["ticket_id"] = json!(t);
        s.add(kind, ago(min), e);
    };
    let public = json!({"agent_id": "ann"});
    // billing
    // b1 normal, created 50 min ago, answered, pending.
    create(&mut s, "b1", 50, "billing", "normal");
    on(&mut s, "ticket.agent_replied", "b1", 49, public.clone());
    on(
        &mut s,
        "ticket.status_changed",
        "b1",
        48,
        json!({"status": "pending"}),
    );
    // b2 created normal 40 min ago, updated to high, on hold, never answered.
    create(&mut s, "b2", 40, "billing", "normal");
    on(
        &mut s,
        "ticket.updated",
        "b2",
        39,
        json!({"priority": "high"}),
    );
    on(
        &mut s,
        "ticket.status_changed",
        "b2",
        38,
        json!({"status": "on_hold"}),
    );
    // b3 created 57 min ago, resolved unanswered → gone.
    create(&mut s, "b3", 57, "billing", "normal");
    on(&mut s, "ticket.resolved", "b3", 20, json!({}));
    // b4 created 58 min ago, closed unanswered → gone.
    create(&mut s, "b4", 58, "billing", "normal");
    on(&mut s, "ticket.closed", "b4", 10, json!({}));
    // b9 low, created in tech 35 min ago, moved to billing, only the
    // customer wrote: unanswered, open, billing.
    create(&mut s, "b9", 35, "tech", "low");
    on(&mut s, "ticket.customer_replied", "b9", 34, json!({}));
    on(
        &mut s,
        "ticket.assigned",
        "b9",
        33,
        json!({"agent_id": "bob", "queue": "billing"}),
    );
    // tech
    // b5 urgent, created 45 min ago, answered, pending, resolved, reopened
    // → back to open.
    create(&mut s, "b5", 45, "tech", "urgent");
    on(&mut s, "ticket.agent_replied", "b5", 44, public.clone());
    on(
        &mut s,
        "ticket.status_changed",
        "b5",
        43,
        json!({"status": "pending"}),
    );
    on(&mut s, "ticket.resolved", "b5", 35, json!({}));
    on(&mut s, "ticket.reopened", "b5", 25, json!({}));
    // b10 created 59 min ago, resolved unanswered → gone.
    create(&mut s, "b10", 59, "tech", "normal");
    on(&mut s, "ticket.resolved", "b10", 30, json!({}));
    // b6 normal, created 20 min ago, answered, pending then open again.
    create(&mut s, "b6", 20, "tech", "normal");
    on(&mut s, "ticket.agent_replied", "b6", 19, public.clone());
    on(
        &mut s,
        "ticket.status_changed",
        "b6",
        18,
        json!({"status": "pending"}),
    );
    on(
        &mut s,
        "ticket.status_changed",
        "b6",
        12,
        json!({"status": "open"}),
    );
    // b7 normal, created 15 min ago, no reply.
    create(&mut s, "b7", 15, "tech", "normal");
    // b8 low, created 18 min ago, only a private note: still unanswered.
    create(&mut s, "b8", 18, "tech", "low");
    on(
        &mut s,
        "ticket.agent_replied",
        "b8",
        5,
        json!({"agent_id": "ann", "public": false}),
    );
    assert_eq!(s.clock(), ago(5));

    let run = replay_with_args(&join(&s.lines()), None, &["--at", &rfc3339(a)]);
    run.assert_ok();
    assert_eq!(run.rejected_all(), 0.0, "{}", run.summary());
    let m = &run.metrics;
    let open = |queue: &str, priority: &str, status: &str| {
        m.get(
            "support_tickets_open",
            &[("queue", queue), ("priority", priority), ("status", status)],
        )
        .unwrap_or(0.0)
    };
    // billing: b1 normal/pending, b2 high/on_hold, b9 low/open; b3 and b4
    // gone.
    assert_eq!(open("billing", "normal", "pending"), 1.0, "b1");
    assert_eq!(open("billing", "high", "on_hold"), 1.0, "b2");
    assert_eq!(open("billing", "normal", "on_hold"), 0.0, "b2 is high now");
    assert_eq!(open("billing", "low", "open"), 1.0, "b9 moved to billing");
    assert_eq!(
        open("billing", "normal", "open"),
        0.0,
        "b3 resolved, b4 closed"
    );
    // tech: b5 urgent/open (reopened), b6 and b7 normal/open, b8 low/open.
    assert_eq!(open("tech", "urgent", "open"), 1.0, "b5 reopened is open");
    assert_eq!(open("tech", "urgent", "pending"), 0.0, "b5 not pending");
    assert_eq!(open("tech", "normal", "open"), 2.0, "b6, b7");
    assert_eq!(open("tech", "normal", "pending"), 0.0, "b6 open again");
    assert_eq!(open("tech", "low", "open"), 1.0, "b8");
    assert_eq!(
        open("tech", "low", "open") + open("tech", "low", "pending"),
        1.0
    );
    // 3 in billing + 4 in tech.
    assert_eq!(m.sum("support_tickets_open", &[]), 7.0);
    assert_eq!(m.sum("support_tickets_open", &[("queue", "billing")]), 3.0);

    // Ages at A (not at the last event, 5 min earlier), from creation:
    // oldest open: billing b1 50 min = 3000 s (b3 57 and b4 58 min are
    // gone); tech b5 45 min = 2700 s (b10 59 min is gone).
    let age = |name: &str, queue: &str| m.value(name, &[("queue", queue)]);
    let oldest_open = "support_oldest_open_ticket_age_seconds";
    assert_eq!(age(oldest_open, "billing"), 3000.0);
    assert_eq!(age(oldest_open, "tech"), 2700.0);
    // Oldest unanswered: billing b2 40 min = 2400 s (b9 35 min is younger;
    // b1 was answered); tech b8 18 min = 1080 s (a private note is no
    // reply; b7 15 min is younger; b9 moved out of tech).
    let oldest_unanswered = "support_oldest_unanswered_ticket_age_seconds";
    assert_eq!(age(oldest_unanswered, "billing"), 2400.0);
    assert_eq!(age(oldest_unanswered, "tech"), 1080.0);
}
