//! SLA deadlines in live mode (SPEC §4.4) against a real Kafka-protocol
//! broker (started by `tests/with-broker`): a caught-up partition fires
//! by the wall clock with no event needed; a partition catching up on a
//! backlog fires by its event-time clock, so replies still waiting in the
//! backlog are judged at their own `ts`; and firing by the wall clock
//! moves no other clock.

mod common;

use std::time::{Duration, Instant};

use common::kafka::{
    processed, produce, produce_to_in_batches, topic, Deskpulse, ONE_BATCH_A_FETCH,
};
use common::{event, first_response_sla, Metrics, TempFile, MIN, SEC};
use deskpulse::source::wall_ms;
use serde_json::json;

/// Normal-priority tickets (the default) must get a first response in 3 s.
const TARGET_MS: i64 = 3 * SEC;
const PATIENCE: Duration = Duration::from_secs(120);
/// From producing a ticket to giving up on its breach: well past its
/// target, so that a breach that never comes fails soon.
const BREACH_PATIENCE: Duration = Duration::from_secs(15);
/// SPEC §4.4: a breach shows within one second of its deadline.
const WITHIN_MS: i64 = 1_000;

/// `deskpulse run` with the SLA config on a topic of its own; the config
/// file lives as long as the returned guard.
fn run_with_sla(topic: &str, more_args: &[&str]) -> (Deskpulse, TempFile) {
    let config = TempFile::new(".toml", first_response_sla("3s").as_bytes());
    let path = config.0.to_str().expect("the temp dir is a UTF-8 path");
    let mut args = vec!["--topics", topic, "--group-id", topic, "--config", path];
    args.extend_from_slice(more_args);
    (Deskpulse::run(&args), config)
}

fn created(event_id: &str, ticket: &str, queue: &str, ts: i64) -> String {
    event(
        event_id,
        "ticket.created",
        ts,
        json!({"ticket_id": ticket, "queue": queue, "channel": "email"}),
    )
}

fn replied(event_id: &str, ticket: &str, ts: i64) -> String {
    event(
        event_id,
        "ticket.agent_replied",
        ts,
        json!({"ticket_id": ticket, "agent_id": "ann"}),
    )
}

/// `name` (a first-response SLA counter or gauge) summed over `queue`.
fn first_response(m: &Metrics, name: &str, queue: &str) -> f64 {
    m.sum(name, &[("sla", "first_response"), ("queue", queue)])
}

/// The wall-clock instant the scrape describes.
fn export_ms(m: &Metrics) -> i64 {
    (m.value("deskpulse_export_time_seconds", &[]) * 1000.0).round() as i64
}

#[test]
fn a_caught_up_partition_breaches_by_the_wall_clock_within_a_second_with_no_event() {
    let topic = topic("sla-wall", 1);
    let (deskpulse, _config) = run_with_sla(&topic, &[]);
    deskpulse.wait_ready();
    let ts = wall_ms();
    // Longer than the 8 bytes kept inline with the clocks.
    let ticket = "ZD-2026-000000123";
    produce(&topic, &[created("e1", ticket, "support", ts)]);
    // The last instant within the target; it breaches once this passes.
    let deadline = ts + TARGET_MS;
    // The first scrape that shows it, every ~50 ms.
    let shown = deskpulse.wait_until(BREACH_PATIENCE, "the breach shows", |m| {
        first_response(m, "support_sla_breaches_total", "support") > 0.0
    });
    let delay = export_ms(&shown) - deadline;
    assert!(
        delay > 0,
        "breached {delay} ms after its deadline, i.e. before it passed"
    );
    eprintln!("breach shown {delay} ms after its deadline");
    assert!(
        delay <= WITHIN_MS,
        "the breach showed {delay} ms after its deadline; stderr:\n{}",
        deskpulse.stderr()
    );
    assert_eq!(
        first_response(&shown, "support_sla_breaches_total", "support"),
        1.0
    );
    assert_eq!(processed(&shown), 1.0, "no event but the ticket's creation");
    let gauge = shown.get(
        "support_tickets_sla_breached",
        &[("sla", "first_response"), ("queue", "support")],
    );
    assert_eq!(
        gauge,
        Some(1.0),
        "support_tickets_sla_breached{{sla=\"first_response\",queue=\"support\"}} in the same scrape (None: the family is not exported)"
    );
    // In OpenMetrics the breach counter names the ticket, at its deadline.
    let scrape = deskpulse.get_accepting("/metrics", "application/openmetrics-text;version=1.0.0");
    let exemplar = format!(
        r#"1 # {{ticket_id="{ticket}"}} 1 {}.{:03}"#,
        deadline / 1000,
        deadline % 1000
    );
    let breach_line = scrape
        .body
        .lines()
        .find(|l| l.starts_with("support_sla_breaches_total{"))
        .unwrap_or_else(|| panic!("no breach counter in:\n{}", scrape.body));
    assert!(
        breach_line.ends_with(&exemplar),
        "{breach_line:?} should end with {exemplar:?}"
    );
}

/// Messages per record batch of a backlog.
const BATCH: usize = 100;
#[test]
fn a_partition_catching_up_on_a_backlog_breaches_no_reply_still_in_it() {
    // One partition, produced before deskpulse starts: ticket `slow` is
    // created 60 s ago and answered 2 s later (met), with thousands of
    // other tickets between, all created before any of them is answered,
    // each answered 1 s after its creation (met). Firing by the wall clock
    // while reading this (a hundred fetches, over many ticks) would breach
    // every ticket created and not yet answered at that moment; so would
    // taking the waits between fetches for the partition's end. Ticket
    // `unanswered` is never answered: its deadline passes only in
    // wall-clock time, so its breach shows that the partition, once caught
    // up, does fire by the wall clock.
    const FILLERS: i64 = 5_000;
    let start = wall_ms() - MIN;
    let mut lines = vec![created("slow-c", "slow", "support", start)];
    let spread = |i: i64| start + i * SEC / FILLERS;
    lines.extend(
        (0..FILLERS).map(|i| created(&format!("c{i}"), &format!("f{i}"), "support", spread(i))),
    );
    lines
        .extend((0..FILLERS).map(|i| replied(&format!("r{i}"), &format!("f{i}"), spread(i) + SEC)));
    lines.push(replied("slow-r", "slow", start + 2 * SEC));
    lines.push(created("u-c", "unanswered", "unanswered", start + 2 * SEC));
    let topic = topic("sla-backlog", 1);
    produce_to_in_batches(&topic, 0, &lines, BATCH);

    let started = Instant::now();
    let (deskpulse, _config) = run_with_sla(&topic, &ONE_BATCH_A_FETCH);
    let end = deskpulse.wait_until(PATIENCE, "the backlog read and caught up", |m| {
        processed(m) >= lines.len() as f64
            && first_response(m, "support_sla_breaches_total", "unanswered") > 0.0
    });
    eprintln!(
        "{} events read and caught up in {:?}",
        lines.len(),
        started.elapsed()
    );
    assert_eq!(
        first_response(&end, "support_sla_breaches_total", "support"),
        0.0,
        "no reply waiting in the backlog is breached; stderr:\n{}",
        deskpulse.stderr()
    );
    assert_eq!(
        first_response(&end, "support_sla_met_total", "support"),
        (FILLERS + 1) as f64,
        "every ticket answered within its target is met"
    );
    assert_eq!(
        first_response(&end, "support_sla_breaches_total", "unanswered"),
        1.0
    );
}

#[test]
fn firing_by_the_wall_clock_moves_no_event_time_clock() {
    // A ticket created 10 min ago breaches by the wall clock at once. Its
    // reply, 5 s after its creation, is then within the allowed lateness
    // (5 min) of the partition's event-time clock, the largest `ts` read;
    // a tick that moved that clock to the wall clock would count it late
    // and keep it out of the windows.
    let topic = topic("sla-clock", 1);
    let (deskpulse, _config) = run_with_sla(&topic, &[]);
    deskpulse.wait_ready();
    let ts = wall_ms() - 10 * MIN;
    produce(&topic, &[created("e1", "old", "support", ts)]);
    deskpulse.wait_until(PATIENCE, "the breach shows", |m| {
        first_response(m, "support_sla_breaches_total", "support") > 0.0
    });
    produce(&topic, &[replied("e2", "old", ts + 5 * SEC)]);
    let m = deskpulse.wait_until(PATIENCE, "the reply read", |m| processed(m) >= 2.0);
    assert_eq!(m.value("deskpulse_events_late_total", &[]), 0.0);
    assert_eq!(
        m.value(
            "support_first_response_window_seconds_count",
            &[("window", "1h")]
        ),
        1.0,
        "the late reply is in the last hour's window"
    );
    assert_eq!(
        first_response(&m, "support_sla_breaches_total", "support"),
        1.0
    );
    assert_eq!(first_response(&m, "support_sla_met_total", "support"), 0.0);
}
