//! The exposition against the real Prometheus tools: `promtool check
//! metrics` on a replay's text output and on a live scrape, and a real
//! Prometheus 2.42 server scraping a live `deskpulse run`: with OpenMetrics,
//! and with the shipped rules, firing an SLA alert after a breach.
//! `promtool` and `prometheus` come from Debian's prometheus package, which
//! `tests/with-broker` installs; these tests fail, never skip, without them
//! (and without the broker, for the live ones).

mod common;

use std::time::Duration;

use common::kafka::{generated, processed, produce, topic, Deskpulse};
use common::prometheus::{list, promtool, rule_files, shipped_rules, Prometheus, Promtool};
use deskpulse::source::wall_ms;
use serde_json::json;

/// The `Accept` header Prometheus 2.42 scrapes with (`scrapeAcceptHeader`
/// in its scrape/scrape.go): OpenMetrics preferred, text 0.0.4 after it.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// promtool's lint findings this project accepts, each with why. Empty: on
/// the replay and live expositions promtool 2.42 reports nothing, and any
/// new finding (a counter without `_total`, a non-base unit, a histogram
/// or summary name with a reserved suffix...) fails the test until it is
/// fixed or, when the name is the SPEC §5.1 contract, listed here.
const ACCEPTED_LINTS: &[(&str, &str)] = &[];

/// `promtool check metrics` on `exposition` (its stdin). It exits 1 on a
/// parse error, 3 on lint problems (one per line, `name message`), 0 clean.
/// Panics on a parse error or on any lint not in `ACCEPTED_LINTS`.
fn promtool_check_metrics(exposition: &str, what: &str) {
    let Promtool { status, report } = promtool(&["check", "metrics"], Some(exposition));
    let lints: Vec<&str> = report.lines().filter(|l| !l.trim().is_empty()).collect();
    match status.code() {
        Some(0) => assert!(lints.is_empty(), "{what}: promtool said:\n{report}"),
        Some(3) => {
            let unaccepted: Vec<&&str> = lints
                .iter()
                .filter(|line| !ACCEPTED_LINTS.iter().any(|(lint, _)| line.contains(lint)))
                .collect();
            assert!(
                unaccepted.is_empty(),
                "{what}: promtool lint problems not accepted: {unaccepted:#?}"
            );
        }
        _ => panic!("{what}: promtool check metrics failed ({status}):\n{report}"),
    }
}

/// 20,000 generated events through `deskpulse replay -`: hours of a
/// generated centre, so every KPI family of the default config is in it.
#[test]
fn promtool_accepts_a_full_replay() {
    let run = common::replay(&generated(20_000, 42));
    let text = run.stdout;
    let samples = sample_lines(&text);
    assert!(
        samples > 1_000,
        "a full replay exports many samples: {samples}"
    );
    promtool_check_metrics(&text, "replay");
}

/// Sample lines of an exposition (either format): neither comments,
/// metadata, `# EOF` nor blank. What Prometheus counts in
/// `scrape_samples_scraped`.
fn sample_lines(exposition: &str) -> usize {
    exposition
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// A real Prometheus scrapes a live `deskpulse run`: it negotiates
/// OpenMetrics, parses it (`up` is 1), and ingests exactly the samples
/// deskpulse serves.
#[test]
fn prometheus_scrapes_live_deskpulse_with_openmetrics() {
    let lines = generated(2_000, 42);
    let topic = topic("prometheus", 2);
    produce(&topic, &lines);
    let deskpulse = Deskpulse::run(&["--topics", &topic, "--group-id", &topic]);
    deskpulse.wait_ready();
    deskpulse.wait_until(Duration::from_secs(120), "all events read", |m| {
        processed(m) == lines.len() as f64
    });

    // What Prometheus will be served: with its Accept header, OpenMetrics.
    let served = |what: &str| {
        let r = deskpulse.get_accepting("/metrics", PROMETHEUS_ACCEPT);
        assert_eq!(r.status, 200, "{what}: /metrics: {}", r.body);
        assert_eq!(
            r.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8",
            "{what}: the content type for Prometheus's Accept header"
        );
        assert!(
            r.body.ends_with("\n# EOF\n"),
            "{what}: OpenMetrics ends with # EOF"
        );
        sample_lines(&r.body)
    };
    // The set of samples is stable once every event is read: the events
    // end 30 min before now (common::kafka::generated), so the 5m window
    // is already empty and the 1h, 24h and today windows keep all of them
    // for at least 29 more minutes (unless local midnight passes during
    // the test); the default config has no SLA policy, so no deadline
    // fires as wall time passes; ages and export time change value, not
    // presence; the consumer's lag and delay series exist once it has read
    // to the end. Counting before and after Prometheus's scrapes checks it.
    let before = served("before");
    assert!(
        before > 500,
        "a drained centre exports many samples: {before}"
    );

    // The text exposition of the same process, consumer health included,
    // passes promtool too.
    let text = deskpulse.get_accepting("/metrics", "text/plain;version=0.0.4");
    assert!(text.content_type.starts_with("text/plain; version=0.0.4"));
    assert_eq!(
        sample_lines(&text.body),
        before,
        "text and OpenMetrics samples"
    );
    promtool_check_metrics(&text.body, "live text scrape");

    let target = deskpulse
        .base
        .strip_prefix("http://")
        .expect("deskpulse serves http");
    let mut prometheus = Prometheus::start(target, &[]);
    // Two scrapes after the first, so the values read are of a scrape made
    // well after the drain.
    prometheus.wait("three scrapes of deskpulse", |p| {
        p.scalar("count_over_time(up{job=\"deskpulse\"}[1m])")
            .is_some_and(|n| n >= 3.0)
    });
    let up = prometheus.scalar("up{job=\"deskpulse\"}");
    let scraped = prometheus.scalar("scrape_samples_scraped{job=\"deskpulse\"}");
    let after = served("after");
    eprintln!("deskpulse served {before} samples; Prometheus: up {up:?}, scraped {scraped:?}");
    assert_eq!(before, after, "the served samples changed during the test");
    assert_eq!(
        up,
        Some(1.0),
        "up: the scrape failed; targets: {:?}; log:\n{}",
        prometheus.get("/api/v1/targets", &[]),
        prometheus.log()
    );
    assert_eq!(
        scraped,
        Some(before as f64),
        "scrape_samples_scraped against the {before} sample lines deskpulse serves"
    );

    // Prometheus parsed OpenMetrics, not text: it keeps a counter's
    // metadata under the OpenMetrics family name (without `_total`); from
    // text 0.0.4 it would be under `deskpulse_events_total`.
    let metadata = |metric: &str| {
        list(&prometheus.api(
            "/api/v1/targets/metadata",
            &[("match_target", "{job=\"deskpulse\"}"), ("metric", metric)],
        ))
    };
    let family = metadata("deskpulse_events");
    assert!(
        family.iter().any(|m| m["type"] == "counter"),
        "counter metadata under the OpenMetrics family name: {family:?}"
    );
    let text_name = metadata("deskpulse_events_total");
    assert!(
        text_name.is_empty(),
        "no metadata under the text-format name: {text_name:?}"
    );
    drop(prometheus);
    let _ = deskpulse.terminate();
}

/// The shipped rule files in a real Prometheus scraping a live `deskpulse
/// run`: a new SLA breach fires `SlaBreached`. Before it, with an older
/// breach already counted, no alert is pending or firing: the counter that
/// Prometheus first saw at 1 is not taken for a new breach.
#[test]
fn a_live_sla_breach_fires_the_shipped_alert() {
    let config = common::TempFile::new(".toml", common::first_response_sla("2s").as_bytes());
    // One partition, so that the event which moves the clock past a
    // deadline is read by the same partition as the ticket (each partition
    // fires its deadlines by its own clock, SPEC §4.4).
    let topic = topic("prometheus-sla", 1);
    let ticket = |id: &str, event_type: &str, ts: i64| {
        let extra = if event_type == "ticket.created" {
            json!({"ticket_id": id, "queue": "billing", "channel": "email"})
        } else {
            json!({"ticket_id": id, "agent_id": "ann"})
        };
        common::event(&format!("{id}-{event_type}"), event_type, ts, extra)
    };
    let breaches = |m: &common::Metrics| m.sum("support_sla_breaches_total", &[]);

    // An older breach: a reply 10 s after the ticket, its 2 s long gone.
    let now = wall_ms();
    produce(
        &topic,
        &[
            ticket("old", "ticket.created", now - 60_000),
            ticket("old", "ticket.agent_replied", now - 50_000),
        ],
    );
    let path = config.0.to_str().expect("a UTF-8 temp path");
    let deskpulse = Deskpulse::run(&["--config", path, "--topics", &topic, "--group-id", &topic]);
    deskpulse.wait_until(Duration::from_secs(60), "the older breach", |m| {
        processed(m) == 2.0 && breaches(m) == 1.0
    });
    // Ready, or DeskpulseNotReady would be pending below.
    deskpulse.wait_ready();

    let target = deskpulse
        .base
        .strip_prefix("http://")
        .expect("deskpulse serves http");
    let shipped = shipped_rules();
    let mut prometheus = Prometheus::start(target, &rule_files());
    let recent = "sla_queue:support_sla_breaches:increase5m";
    prometheus.wait("every shipped rule evaluated on the older breach", |p| {
        let rules = p.rules();
        if let Some(bad) = rules.iter().find(|r| r["health"] == "err") {
            panic!("a shipped rule fails in Prometheus: {bad}");
        }
        let healthy = rules.iter().filter(|r| r["health"] == "ok").count();
        healthy == shipped && p.scalar(recent).is_some()
    });
    // Counted before Prometheus first saw the counter, so not recent.
    assert_eq!(
        prometheus.scalar(recent),
        Some(0.0),
        "{recent} of the older breach"
    );
    let before = prometheus.alerts();
    assert!(
        before.is_empty(),
        "alerts before the new breach: {before:?}"
    );

    // A new ticket, then an event on its partition past its deadline.
    let now = wall_ms();
    produce(
        &topic,
        &[
            ticket("new", "ticket.created", now - 10_000),
            ticket("next", "ticket.created", now - 5_000),
        ],
    );
    deskpulse.wait_until(Duration::from_secs(60), "the new breach", |m| {
        breaches(m) >= 2.0
    });
    prometheus.wait("SlaBreached firing", |p| {
        p.alerts().iter().any(|a| {
            a["labels"]["alertname"] == "SlaBreached"
                && a["labels"]["sla"] == "first_response"
                && a["labels"]["queue"] == "billing"
                && a["state"] == "firing"
        })
    });
    drop(prometheus);
    let _ = deskpulse.terminate();
}
