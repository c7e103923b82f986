//! Live mode against a real Kafka-protocol broker (started by
//! `tests/with-broker`), with deskpulse as a separate process scraped over
//! HTTP; and the demo, which brings its own embedded broker.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::kafka::{
    eventually, generated, generated_until, kafka, merged, processed, produce, produce_ends,
    produce_to, topic, wait_committed, Deskpulse,
};
use common::streams::{assert_same_series, by_ts, namespaced, support_series};
use common::{join, replay_with_args, rfc3339, Metrics, HOUR, SEC};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

const PATIENCE: Duration = Duration::from_secs(120);

#[test]
fn live_metrics_over_four_partitions_equal_replay_of_the_same_events() {
    // Four partitions, each one support centre of its own (ids prefixed,
    // so no ticket, agent or customer spans two), each stream in `ts`
    // order. Partitions 1 to 3 end a second or two before now, so the
    // scrape's 5m windows are full; partition 0 ends three hours ago: at
    // every offset it is hours behind the others (a backlog after an
    // outage). SPEC §3: each partition keeps its own clock, so none of
    // partition 0 is late, however far ahead the others' clocks are.
    //
    // The comparison. Replay has one stream and one clock, so what it
    // counts late depends on the order it is fed. Fed the union sorted by
    // `ts`, nothing is late, and since every partition is in `ts` order
    // and judged by its own clock, live counts nothing late either: the
    // two must then agree on every series. (A live mode judging partition
    // 0 by the clock of the others would count it late, keep it out of
    // the windows, and differ in every 24h window and today.) To show
    // the skew is real, the same events replayed with the
    // three leading partitions first (merged by `ts`) and partition 0
    // after them, as a consumer that reads the leading partitions first
    // would see them, on one clock, count all of partition 0 late and
    // differ. Replaying each partition alone and merging was not chosen:
    // quantiles and ratios cannot be merged from their expositions.
    let now = deskpulse::source::wall_ms();
    let streams: Vec<Vec<(i64, String)>> = (0..4)
        .map(|p| {
            let end = if p == 0 { now - 3 * HOUR } else { now - SEC };
            namespaced(
                &format!("p{p}-"),
                &generated_until(5_000, 7 + p as u64, end),
            )
        })
        .collect();
    let total: usize = streams.iter().map(Vec::len).sum();
    let topic = topic("equal", 4);
    for (p, stream) in streams.iter().enumerate() {
        let lines: Vec<&str> = stream.iter().map(|(_, l)| l.as_str()).collect();
        produce_to(&topic, p as i32, &lines);
    }
    let deskpulse = Deskpulse::run(&["--topics", &topic, "--group-id", &topic]);
    let live = deskpulse.wait_until(PATIENCE, "all events read", |m| {
        processed(m) >= total as f64
    });
    assert_eq!(live.sum("deskpulse_events_total", &[]), total as f64);
    assert_eq!(live.value("deskpulse_partitions_assigned", &[]), 4.0);
    assert_eq!(
        live.value("deskpulse_events_late_total", &[]),
        0.0,
        "a partition hours behind the others is not late"
    );
    let five_minutes: f64 = live
        .series
        .iter()
        .filter(|((name, labels), _)| {
            name.ends_with("_count") && labels.get("window").map(String::as_str) == Some("5m")
        })
        .map(|(_, v)| *v)
        .sum();
    assert!(
        five_minutes > 0.0,
        "the 5m windows hold the last minutes' events"
    );

    // The scrape's windows end at its wall-clock instant; replay the same
    // events as at that instant.
    let at_ms = (live.value("deskpulse_export_time_seconds", &[]) * 1000.0).round() as i64;
    let at = rfc3339(at_ms);
    let replayed = replay_with_args(&join(&by_ts(&streams)), None, &["--at", &at]);
    replayed.assert_ok();
    assert_eq!(replayed.late(), 0.0, "sorted by ts, nothing is late");

    let mut leading_first = by_ts(&streams[1..]);
    leading_first.extend(streams[0].iter().map(|(_, l)| l.clone()));
    let one_clock = replay_with_args(&join(&leading_first), None, &["--at", &at]);
    one_clock.assert_ok();
    assert_eq!(
        one_clock.late(),
        streams[0].len() as f64,
        "on one clock, the partition hours behind is late"
    );

    let (live, replayed, one_clock) = (
        support_series(&live),
        support_series(&replayed.metrics),
        support_series(&one_clock.metrics),
    );
    assert_ne!(
        one_clock, live,
        "lateness on one clock shows in the series compared"
    );
    assert!(
        replayed.len() > 1000,
        "many series compared: {}",
        replayed.len()
    );
    assert_same_series(&replayed, &live, "");
}

#[test]
fn sigterm_commits_and_a_restart_resumes_without_counting_twice() {
    let lines = generated(6_000, 11);
    let (first, second) = lines.split_at(4_000);
    let topic = topic("restart", 2);
    let group = ["--topics", &topic, "--group-id", &topic];
    let first_ends = produce_ends(&topic, first);

    let deskpulse = Deskpulse::run(&group);
    deskpulse.wait_until(PATIENCE, "the first part read", |m| {
        processed(m) >= first.len() as f64
    });
    let (status, stderr) = deskpulse.terminate();
    assert!(
        status.success(),
        "SIGTERM ends with exit 0, got {status:?}; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("committing"),
        "the stop commits; stderr:\n{stderr}"
    );

    assert_eq!(
        common::kafka::committed_now(&topic, &topic, &first_ends),
        first_ends,
        "the stop committed the end of every partition; stderr:\n{stderr}"
    );

    let ends = merged(&first_ends, &produce_ends(&topic, second));
    let deskpulse = Deskpulse::run(&group);
    // Committed at the end of every partition: everything before is
    // applied, read again or not, so the count below is final.
    wait_committed(&topic, &topic, &ends, || deskpulse.stderr());
    let after = deskpulse.metrics();
    assert_eq!(
        processed(&after),
        second.len() as f64,
        "the restart reads exactly what the first run did not"
    );
}

#[test]
fn a_second_instance_takes_half_the_partitions_and_nothing_is_counted_twice() {
    let lines = generated(8_000, 19);
    let (first, second) = lines.split_at(4_000);
    let topic = topic("rebalance", 4);
    let group = ["--topics", &topic, "--group-id", &topic];
    let first_ends = produce_ends(&topic, first);
    let one = Deskpulse::run(&group);
    one.wait_until(PATIENCE, "the first part read", |m| {
        processed(m) >= first.len() as f64
    });

    // The second member joins: two partitions move, committed where the
    // first stopped, so the newcomer reads nothing old; the first keeps
    // counting what it read there, so its counters do not go down.
    let two = Deskpulse::run(&group);
    let assigned = |d: &Deskpulse| d.metrics().value("deskpulse_partitions_assigned", &[]);
    let both = || format!("stderr:\n{}\n---\n{}", one.stderr(), two.stderr());
    eventually("partitions shared two and two", both, || {
        assigned(&one) == 2.0 && assigned(&two) == 2.0
    });
    let ends = merged(&first_ends, &produce_ends(&topic, second));
    let total = || processed(&one.metrics()) + processed(&two.metrics());
    // Committed at the end of every partition, by whichever instance owns
    // it: everything before is applied, so the total below is final.
    wait_committed(&topic, &topic, &ends, both);
    assert_eq!(
        total(),
        lines.len() as f64,
        "every message read once across the two"
    );
    assert!(
        processed(&two.metrics()) > 0.0,
        "the newcomer reads its partitions"
    );
    assert!(
        processed(&one.metrics()) > first.len() as f64,
        "the first keeps what it counted on the partitions that moved"
    );
}

#[test]
fn invalid_json_never_stalls_a_partition_and_reaches_the_dead_letter_topic() {
    let valid = generated(400, 13);
    let bad = [
        "not json",
        "{\"event_id\":",
        "[1, 2",
        "{\"event_id\":\"x\",}",
    ];
    let mut lines: Vec<&str> = Vec::new();
    for (i, line) in valid.iter().enumerate() {
        // Bad lines are keyed alike, so they share one partition with
        // valid events before and after them.
        if i % 100 == 50 {
            lines.push(bad[i / 100]);
        }
        lines.push(line);
    }
    let topic = topic("dirty", 2);
    let dead_letters = common::kafka::topic("dirty-dead", 1);
    produce(&topic, &lines);

    let deskpulse = Deskpulse::run(&[
        "--topics",
        &topic,
        "--group-id",
        &topic,
        "--dead-letter-topic",
        &dead_letters,
    ]);
    let m = deskpulse.wait_until(PATIENCE, "every message read", |m| {
        processed(m) >= lines.len() as f64
    });
    assert_eq!(
        m.value(
            "deskpulse_events_rejected_total",
            &[("reason", "invalid_json")]
        ),
        bad.len() as f64
    );
    assert_eq!(m.sum("deskpulse_events_total", &[]), valid.len() as f64);
    let m = deskpulse.wait_until(PATIENCE, "dead letters delivered", |m| {
        m.value("deskpulse_dead_letters_total", &[("result", "sent")]) >= bad.len() as f64
    });
    assert_eq!(
        m.value("deskpulse_dead_letters_total", &[("result", "failed")]),
        0.0
    );

    let mut copies = Vec::new();
    let reader = assigned_reader(&dead_letters, 0, 0);
    while copies.len() < bad.len() {
        let message = reader
            .poll(PATIENCE)
            .expect("a dead letter arrives")
            .expect("the dead-letter topic is readable");
        let headers: BTreeMap<String, String> = message
            .headers()
            .expect("dead letters carry headers")
            .iter()
            .map(|h| {
                let value = h.value.map(|v| String::from_utf8_lossy(v).into_owned());
                (h.key.to_owned(), value.unwrap_or_default())
            })
            .collect();
        let payload = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
        copies.push((payload, headers));
    }
    let mut payloads: Vec<&str> = copies.iter().map(|(p, _)| p.as_str()).collect();
    payloads.sort();
    let mut expected = bad.to_vec();
    expected.sort();
    assert_eq!(payloads, expected);
    // Tansu answers a fetch from the middle of a record batch with the
    // next batch, so the originals are read from the start of their
    // partitions and found by offset.
    for (payload, headers) in &copies {
        assert_eq!(headers["deskpulse-reason"], "invalid_json");
        assert_eq!(headers["deskpulse-topic"], topic);
        let partition: i32 = headers["deskpulse-partition"]
            .parse()
            .expect("a partition number");
        let offset: i64 = headers["deskpulse-offset"].parse().expect("an offset");
        let reader = assigned_reader(&topic, partition, 0);
        let original = loop {
            let message = reader
                .poll(PATIENCE)
                .expect("the original message is there")
                .expect("the topic is readable");
            if message.offset() >= offset {
                break message;
            }
        };
        assert_eq!(original.offset(), offset);
        assert_eq!(
            original.payload().unwrap_or_default(),
            payload.as_bytes(),
            "the headers point at the original message"
        );
    }
}

/// A consumer of one partition from `offset`, outside any group.
fn assigned_reader(topic: &str, partition: i32, offset: i64) -> BaseConsumer {
    let consumer: BaseConsumer = deskpulse::source::kafka::client_config(&kafka())
        .set("group.id", "deskpulse-tests")
        .set("enable.auto.commit", "false")
        .create()
        .expect("the test consumer starts");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Offset(offset))
        .expect("a valid partition and offset");
    consumer.assign(&list).expect("the partition is assigned");
    consumer
}

#[test]
fn readyz_turns_true_once_caught_up() {
    let lines = generated(50_000, 17);
    let topic = topic("ready", 4);
    produce(&topic, &lines);
    let deskpulse = Deskpulse::run(&["--topics", &topic, "--group-id", &topic]);
    let mut statuses = Vec::new();
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let status = deskpulse.get("/readyz").status;
        statuses.push(status);
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "not ready is 503");
        assert!(
            std::time::Instant::now() < deadline,
            "never ready; stderr:\n{}",
            deskpulse.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(statuses[0], 503, "not ready before the partitions are read");
    let m = deskpulse.metrics();
    assert_eq!(
        processed(&m),
        lines.len() as f64,
        "ready means every message was read"
    );
    assert_eq!(m.value("deskpulse_ready", &[]), 1.0);
    let lag: Vec<f64> = m
        .matching("deskpulse_consumer_lag_messages", &[])
        .map(|(_, v)| v)
        .collect();
    assert_eq!(lag, vec![0.0; 4], "no lag on any of the four partitions");
    assert_eq!(deskpulse.get("/healthz").status, 200);
}

#[test]
fn startup_errors_are_one_line_each() {
    for (args, says) in [
        (
            vec![
                "run",
                "--brokers",
                "127.0.0.1:1",
                "--set",
                "kafka.startup_timeout=2s",
            ],
            "check kafka.brokers",
        ),
        (
            vec![
                "run",
                "--brokers",
                &common::kafka::brokers(),
                "--topics",
                "no-such-topic",
            ],
            "\"no-such-topic\" does not exist",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(&args)
            .output()
            .expect("deskpulse runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} fails");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: one line, got:\n{stderr}"
        );
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn the_demo_serves_rising_counters_the_wallboard_and_the_api() {
    let demo = Deskpulse::demo(&["--rate", "400"]);
    let created = |m: &Metrics| m.sum("support_tickets_created_total", &[]);
    let first = demo.wait_until(Duration::from_secs(30), "tickets counted", |m| {
        created(m) > 0.0
    });
    let later = demo.wait_until(Duration::from_secs(30), "counters rising", |m| {
        created(m) > created(&first)
    });
    assert!(processed(&later) > processed(&first));
    demo.wait_until(Duration::from_secs(30), "ready", |m| {
        m.value("deskpulse_ready", &[]) == 1.0
    });

    let page = demo.get("/");
    assert_eq!(page.status, 200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(
        page.body.contains("api/v1/kpis"),
        "the page reads the JSON API"
    );

    let api = demo.get(
        "/api/v1/kpis?names=support_tickets_open,support_agents,deskpulse_consumer_lag_messages",
    );
    assert_eq!(api.status, 200);
    let json: serde_json::Value = serde_json::from_str(&api.body).expect("the API answers JSON");
    assert_eq!(json["prefix"], "support_");
    assert_eq!(json["ready"], true);
    let metrics = json["metrics"].as_object().expect("a metrics object");
    assert_eq!(
        metrics.len(),
        3,
        "exactly the names asked for: {:?}",
        metrics.keys()
    );
    let open: f64 = metrics["support_tickets_open"]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| s["value"].as_f64().expect("a value"))
        .sum();
    assert!(open > 0.0, "open tickets in the JSON");
    assert_eq!(
        metrics["deskpulse_consumer_lag_messages"]["samples"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );

    let open_metrics = demo.get_accepting(
        "/metrics",
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    );
    assert!(open_metrics
        .content_type
        .starts_with("application/openmetrics-text"));
    assert!(open_metrics.body.ends_with("# EOF\n"));
    assert!(open_metrics
        .body
        .contains("# TYPE support_tickets_created counter\n"));
    assert!(open_metrics
        .body
        .contains("\nsupport_tickets_created_total{"));
    let text = demo.get("/metrics");
    assert!(text.content_type.starts_with("text/plain; version=0.0.4"));
    assert!(text
        .body
        .contains("# TYPE support_tickets_created_total counter\n"));

    assert_eq!(demo.get("/healthz").status, 200);
    let (status, stderr) = demo.terminate();
    assert!(
        status.success(),
        "the demo stops cleanly on SIGTERM: {status:?}\n{stderr}"
    );
}
