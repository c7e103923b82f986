//! A clean generated stream against its dirty twin (SPEC §1.6, §3, §7.1):
//! redelivered duplicates, bad lines and bounded out-of-order delivery
//! within the allowed lateness must not change a single KPI series.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use deskpulse::generate::{Generator, GeneratorConfig};
use serde_json::{json, Value};

/// How far behind its own `ts` a line may be delivered: below the allowed
/// lateness of 300 s (§7.4), so that no event is late.
const MAX_JITTER_MS: i64 = 250_000;

fn generated(seed: u64, events: usize) -> Vec<String> {
    Generator::new(GeneratorConfig {
        seed,
        start_ms: T0,
        events_per_sec: 4.0,
        queues: 6,
        agents: 30,
        customers: 2_000,
    })
    .take(events)
    .collect()
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("generated line is JSON: {e}: {line}"))
}

/// `ts` as epoch milliseconds: an integer, or RFC 3339 with an offset
/// (§7.2, digits below the millisecond truncated).
fn ts_of(v: &Value) -> i64 {
    match &v["ts"] {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("generated ts is RFC 3339: {e}: {v}"))
            .timestamp_millis(),
        ts => ts
            .as_i64()
            .unwrap_or_else(|| panic!("generated ts is epoch ms: {v}")),
    }
}

/// The partition key a producer would use (§1): the interaction, else the
/// ticket, else the agent, else the customer, else the event itself.
fn key_of(v: &Value) -> String {
    for field in [
        "interaction_id",
        "ticket_id",
        "agent_id",
        "customer_id",
        "event_id",
    ] {
        if let Some(id) = v[field].as_str() {
            return format!("{field}={id}");
        }
    }
    panic!("no key in {v}")
}

/// Reorders lines as independent partitions would deliver them: each line
/// gets the sort key max(previous key of its partition, ts + jitter) with
/// jitter in [0, MAX_JITTER_MS], then a stable sort. Order within a
/// partition is kept, and no line ends up more than MAX_JITTER_MS behind
/// the largest ts before it.
fn shuffle_within_lateness(lines: &[String], rng: &mut Rng) -> Vec<String> {
    let mut last_key: HashMap<String, i64> = HashMap::new();
    let mut keyed: Vec<(i64, &String)> = lines
        .iter()
        .map(|line| {
            let v = parse(line);
            let wanted = ts_of(&v) + rng.range(0, MAX_JITTER_MS);
            let slot = last_key.entry(key_of(&v)).or_insert(i64::MIN);
            *slot = (*slot).max(wanted);
            (*slot, line)
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, l)| l.clone()).collect()
}

/// One kind of bad line, with the reason it must be rejected for.
fn bad_line(kind: u64, n: usize, near: &Value, rng: &mut Rng) -> (Vec<u8>, &'static str) {
    let ts = ts_of(near);
    let line = near.to_string();
    match kind {
        0 => {
            let mut garbage = b"~".to_vec();
            for _ in 0..rng.range(0, 120) {
                let b = rng.below(256) as u8;
                garbage.push(if b == b'\n' { b'.' } else { b });
            }
            (garbage, "invalid_json")
        }
        1 => {
            let cut = rng.range(1, line.len() as i64 - 2) as usize;
            let mut bytes = line.as_bytes()[..cut].to_vec();
            // Never leave a line that is blank once trimmed (it starts with `{`).
            if bytes.iter().all(u8::is_ascii_whitespace) {
                bytes.push(b'{');
            }
            (bytes, "invalid_json")
        }
        2 => {
            let mut v = near.clone();
            v["event_id"] = json!(format!("bad-{n}"));
            v["type"] = json!(format!("x.unknown.{}", n % 7));
            (v.to_string().into_bytes(), "unknown_type")
        }
        3 => (
            event(&format!("bad-{n}"), "survey.csat", ts, json!({"score": 9})).into_bytes(),
            "out_of_range",
        ),
        4 => (
            event(
                &format!("bad-{n}"),
                "ticket.agent_replied",
                ts + 2 * 24 * HOUR,
                json!({"ticket_id": format!("ghost-{n}"), "agent_id": "a1"}),
            )
            .into_bytes(),
            "unknown_ticket",
        ),
        5 => (
            event(
                &format!("bad-{n}"),
                "interaction.answered",
                ts,
                json!({"interaction_id": format!("ghost-{n}"), "agent_id": "a1"}),
            )
            .into_bytes(),
            "unknown_interaction",
        ),
        6 => (
            event(
                &format!("bad-{n}"),
                "ticket.created",
                ts,
                json!({"queue": "q"}),
            )
            .into_bytes(),
            "missing_field",
        ),
        _ => (
            format!(r#"{{"event_id":"bad-{n}","type":"survey.nps","ts":"noon","score":3}}"#)
                .into_bytes(),
            "invalid_ts",
        ),
    }
}

struct Dirty {
    input: Vec<u8>,
    duplicates: usize,
    rejected: BTreeMap<&'static str, usize>,
    reordered: usize,
}

/// The dirty twin: shuffled within the lateness, with redelivered lines
/// (within the 1 h dedup horizon) and bad lines mixed in.
fn dirty_twin(clean: &[String], seed: u64) -> Dirty {
    let mut rng = Rng::new(seed);
    let shuffled = shuffle_within_lateness(clean, &mut rng);
    let mut reordered = 0;
    let mut clock = i64::MIN;
    for line in &shuffled {
        let ts = ts_of(&parse(line));
        reordered += (ts < clock) as usize;
        clock = clock.max(ts);
    }

    // Copies scheduled for a later position: position → lines.
    let mut copies: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut out = Vec::new();
    let mut duplicates = 0;
    let mut rejected: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut clock = i64::MIN;
    let emit = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(bytes);
        out.push(b'\n');
    };
    for (i, line) in shuffled.iter().enumerate() {
        let v = parse(line);
        clock = clock.max(ts_of(&v));
        emit(&mut out, line.as_bytes());
        for original in copies.remove(&i).unwrap_or_default() {
            let first_ts = ts_of(&parse(&shuffled[original]));
            assert!(
                clock - first_ts < HOUR - 10 * MIN,
                "a redelivery stays well inside the dedup horizon"
            );
            emit(&mut out, shuffled[original].as_bytes());
            duplicates += 1;
        }
        if rng.chance(0.01) {
            copies
                .entry(i + 1 + rng.range(0, 300) as usize)
                .or_default()
                .push(i);
        }
        if rng.chance(0.01) {
            let n = rejected.values().sum::<usize>();
            let (bad, reason) = bad_line(rng.below(8), n, &v, &mut rng);
            emit(&mut out, &bad);
            *rejected.entry(reason).or_default() += 1;
        }
    }
    // Copies scheduled past the end go last.
    for original in copies.into_values().flatten() {
        let first_ts = ts_of(&parse(&shuffled[original]));
        assert!(clock - first_ts < HOUR - 10 * MIN);
        emit(&mut out, shuffled[original].as_bytes());
        duplicates += 1;
    }
    Dirty {
        input: out,
        duplicates,
        rejected,
        reordered,
    }
}

/// Asserts two maps of series are equal, naming the first differences.
#[track_caller]
fn assert_same_series(
    expected: &BTreeMap<(String, Labels), f64>,
    actual: &BTreeMap<(String, Labels), f64>,
    what: &str,
) {
    let mut diffs = Vec::new();
    for (key, v) in expected {
        match actual.get(key) {
            None => diffs.push(format!("missing {key:?} (was {v})")),
            Some(a) if a.to_bits() != v.to_bits() => diffs.push(format!("{key:?}: {v} became {a}")),
            _ => {}
        }
    }
    for (key, a) in actual {
        if !expected.contains_key(key) {
            diffs.push(format!("new {key:?} = {a}"));
        }
    }
    if !diffs.is_empty() {
        let n = diffs.len();
        diffs.truncate(25);
        panic!("{what}: {n} series differ:\n{}", diffs.join("\n"));
    }
}

const REASONS: [&str; 10] = [
    "invalid_json",
    "missing_field",
    "invalid_field",
    "invalid_ts",
    "future_ts",
    "out_of_range",
    "unknown_type",
    "unknown_ticket",
    "unknown_interaction",
    "duplicate_ticket",
];

#[test]
fn dirty_twin_of_a_generated_stream_gives_the_same_kpis() {
    let clean = generated(42, 30_000);
    let clean_run = replay(&clean);
    assert_eq!(clean_run.rejected_all(), 0.0, "{}", clean_run.summary());
    assert_eq!(clean_run.duplicates(), 0.0);
    assert_eq!(clean_run.late(), 0.0);
    let clean_kpis = clean_run.metrics.with_prefix("support_");
    assert!(clean_kpis.len() > 500, "the stream exercises many series");

    let dirty = dirty_twin(&clean, 4242);
    assert!(
        dirty.reordered > 1_000,
        "lines were reordered: {}",
        dirty.reordered
    );
    assert!(dirty.duplicates > 100, "{}", dirty.duplicates);
    assert!(dirty.rejected.values().sum::<usize>() > 100);
    let run = replay_bytes(&dirty.input, None);
    run.assert_ok();

    assert_eq!(run.late(), 0.0, "no event is more than 250 s behind");
    assert_eq!(
        run.duplicates(),
        dirty.duplicates as f64,
        "{}",
        run.summary()
    );
    for reason in REASONS {
        let inserted = dirty.rejected.get(reason).copied().unwrap_or(0);
        assert_eq!(
            run.rejected(reason),
            inserted as f64,
            "{reason}: {}",
            run.summary()
        );
    }
    assert_same_series(
        &clean_run.metrics.with_prefix("deskpulse_events_total"),
        &run.metrics.with_prefix("deskpulse_events_total"),
        "accepted events by type",
    );
    assert_same_series(&clean_kpis, &run.metrics.with_prefix("support_"), "KPIs");
}

/// Events in a different order within the allowed lateness must give the
/// same numbers (§3: each lands in the slot of its own ts): here three
/// fractional waits whose float sum depends on the order of additions
/// ((0.1 + 0.2) + 0.3 ≠ (0.3 + 0.2) + 0.1 in f64).
#[test]
fn order_within_lateness_changes_no_series() {
    let waits = [0.1, 0.2, 0.3];
    let lines: Vec<String> = waits
        .iter()
        .enumerate()
        .map(|(k, w)| {
            event(
                &format!("c{k}"),
                "interaction.completed",
                T0 + k as i64 * SEC,
                json!({"interaction_id": format!("i{k}"), "queue": "q", "channel": "chat", "wait_s": w, "talk_s": w, "acw_s": w}),
            )
        })
        .collect();
    let forward = replay(&lines);
    let mut reversed = lines.clone();
    reversed.reverse();
    let backward = replay(&reversed);
    assert_eq!(backward.late(), 0.0);
    assert_same_series(
        &forward.metrics.with_prefix("support_"),
        &backward.metrics.with_prefix("support_"),
        "reversed order",
    );
    // Times are seconds with millisecond resolution: 100 + 200 + 300 ms.
    let total: f64 = 0.6;
    assert_eq!(
        forward.metrics.value(
            "support_answer_wait_seconds_sum",
            &[("queue", "q"), ("channel", "chat")]
        ),
        total,
        "0.1 + 0.2 + 0.3 s of wait"
    );
}
