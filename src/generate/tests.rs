use std::collections::{HashMap, HashSet};

use super::*;
use crate::config::Config;
use crate::decode::{self, Field};
use crate::engine::{Applied, Engine};

fn lines(config: GeneratorConfig, n: usize) -> Vec<String> {
    Generator::new(config).take(n).collect()
}

fn raw(line: &str) -> decode::RawEvent<'_> {
    let mut raw = decode::RawEvent::default();
    decode::parse(line, &mut raw).expect("generated line is JSON");
    raw
}

fn ts_of(line: &str) -> i64 {
    decode::parse_ts(raw(line).get(Field::Ts)).expect("generated ts parses")
}

#[test]
fn a_long_stream_is_accepted_whole_in_order_with_every_type() {
    let n = 200_000;
    let config = GeneratorConfig::default();
    let start = config.start_ms;
    let mut engine = Engine::new(&Config::default());
    let wall = i64::MAX / 2;
    let mut previous = i64::MIN;
    let mut ids = HashSet::with_capacity(n);
    let mut ts_forms = [0usize; 3];
    for line in Generator::new(config).take(n) {
        let ts = ts_of(&line);
        assert_eq!(
            engine.apply(line.as_bytes(), wall),
            Ok(Applied::Accepted {
                late: false,
                ts_ms: ts
            }),
            "{line}"
        );
        assert!(ts >= previous, "ts went back: {line}");
        previous = ts;
        let raw = raw(&line);
        assert!(ids.insert(raw.event_id().expect("event_id").to_owned()));
        let form = if line.contains(r#""ts":""#) {
            line.contains("+02:00\"") as usize
        } else {
            2
        };
        ts_forms[form] += 1;
        if line.contains(r#""type":"interaction."#) {
            assert!(!line.contains("ticket_id"), "{line}");
        }
    }
    let by_type = &engine.health().accepted_by_type;
    let missing: Vec<&str> = decode::EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .filter(|t| !by_type.contains_key(*t))
        .collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
    assert!(ts_forms.iter().all(|&k| k > n / 50), "{ts_forms:?}");
    // 50 events per second of event time, on average.
    let mean_gap = (previous - start) as f64 / n as f64;
    assert!((mean_gap - 20.0).abs() < 0.5, "mean gap {mean_gap} ms");
}

#[test]
fn lifecycles_settle_to_a_realistic_mix() {
    let mut counts: HashMap<String, usize> = HashMap::new();
    // Two days of a small centre, so that most lifecycles have ended.
    let config = GeneratorConfig {
        events_per_sec: 1.0,
        agents: 10,
        ..GeneratorConfig::default()
    };
    for line in lines(config, 150_000) {
        let raw = raw(&line);
        if let decode::Raw::Str(t) = raw.get(Field::Type) {
            *counts.entry(t.to_string()).or_default() += 1;
        }
    }
    let n = |t: &str| counts.get(t).copied().unwrap_or(0) as f64;
    let created = n("ticket.created");
    // Nearly every ticket is resolved, most are closed, a few reopen.
    assert!(n("ticket.resolved") > 0.9 * created, "{counts:?}");
    assert!(n("ticket.closed") > 0.75 * created, "{counts:?}");
    let reopen = n("ticket.reopened") / n("ticket.resolved");
    assert!((0.03..0.12).contains(&reopen), "{counts:?}");
    // Most calls are answered, some abandoned, few blocked.
    let queued = n("interaction.queued");
    assert!(n("interaction.answered") > 0.8 * queued, "{counts:?}");
    assert!(n("interaction.abandoned") > 0.05 * queued, "{counts:?}");
    assert!(n("interaction.blocked") < 0.06 * queued, "{counts:?}");
}

#[test]
fn same_seed_same_lines_other_seed_other_lines() {
    let a = lines(GeneratorConfig::default(), 5_000);
    let b = lines(GeneratorConfig::default(), 5_000);
    assert_eq!(a, b);
    let c = lines(
        GeneratorConfig {
            seed: 2,
            ..GeneratorConfig::default()
        },
        5_000,
    );
    let same = a.iter().zip(&c).filter(|(x, y)| x == y).count();
    assert!(same < 50, "{same} of 5000 lines equal across seeds");
}

#[test]
fn timestamps_are_valid_rfc3339_in_every_form() {
    for (utc_ms, offset, text) in [
        (0, 0, r#""1970-01-01T00:00:00.000Z""#),
        (1_767_600_000_123, 0, r#""2026-01-05T08:00:00.123Z""#),
        (1_767_600_000_123, 2, r#""2026-01-05T10:00:00.123+02:00""#),
        // Leap day, and an offset that crosses midnight.
        (1_709_245_800_005, 2, r#""2024-03-01T00:30:00.005+02:00""#),
    ] {
        let mut out = String::new();
        write_rfc3339(&mut out, utc_ms, offset);
        assert_eq!(out, text);
        let parsed = decode::parse_ts(&decode::Raw::Str(text.trim_matches('"').into()));
        assert_eq!(parsed, Some(utc_ms), "{text}");
    }
}

#[test]
fn many_queues_and_few_agents_still_make_a_valid_stream() {
    let config = GeneratorConfig {
        queues: 300,
        agents: 3,
        customers: 1,
        events_per_sec: 1000.0,
        ..GeneratorConfig::default()
    };
    let mut engine = Engine::new(&Config::default());
    for line in Generator::new(config).take(20_000) {
        assert!(
            engine.apply(line.as_bytes(), i64::MAX / 2).is_ok(),
            "{line}"
        );
    }
    assert!(engine.health().rejected.is_empty());
}
