//! A checkpoint restores exactly: an engine restored mid-stream and fed
//! the rest shows what one that never stopped shows, apart from the
//! per-process counters; and a checkpoint that cannot be used says why.

use super::format::{self, Header, Unusable, FORMAT_VERSION};
use super::store::PartitionName;
use crate::config::Config;
use crate::engine::snapshot::Snapshot;
use crate::engine::Engine;
use crate::export;
use crate::generate::{Generator, GeneratorConfig};

const WALL_MS: i64 = i64::MAX / 2;
const PARTITION: PartitionName = PartitionName {
    group: "deskpulse",
    topic: "support-events",
    partition: 0,
};

/// Every kind of state: per-queue windows, `today`, a custom ratio, and
/// SLA clocks under two calendars and four policies.
fn config() -> Config {
    let text = format!(
        "{}\n{}",
        r#"
[metrics]
windowed_by = ["queue"]
today = true
timezone = "Europe/Berlin"

[[custom_ratio]]
name = "email_share"
numerator = { type = "ticket.created", where = { channel = "email" } }
denominator = { type = "ticket.created" }
"#,
        include_str!("../../benches/realistic_sla.toml")
    );
    Config::parse(&text).expect("the test config is valid")
}

fn stream(events: usize) -> Vec<String> {
    Generator::new(GeneratorConfig {
        events_per_sec: 1.0,
        ..GeneratorConfig::default()
    })
    .take(events)
    .collect()
}

fn header(engine: &Engine) -> Header {
    Header {
        group: PARTITION.group.to_owned(),
        topic: PARTITION.topic.to_owned(),
        partition: PARTITION.partition,
        next_offset: 42,
        taken_ms: 1,
        fingerprint: engine.state_fingerprint(),
        state_bytes: 0,
    }
}

/// The exposition without what is per process (counters, classic
/// histograms, the processor's event counts).
fn restorable(mut s: Snapshot) -> String {
    s.cumulative = Default::default();
    s.health.accepted_by_type.clear();
    s.health.rejected.clear();
    s.health.duplicates = 0;
    s.health.late = 0;
    s.health.label_folds.clear();
    export::render(&s, "support_")
}

fn feed(engine: &mut Engine, lines: &[String]) {
    for line in lines {
        let _ = engine.apply(line.as_bytes(), WALL_MS);
    }
}

#[test]
fn a_restored_engine_goes_on_exactly_as_one_that_never_stopped() {
    let config = config();
    let lines = stream(30_000);
    let (first, rest) = lines.split_at(17_000);
    let mut kept = Engine::new(&config);
    feed(&mut kept, first);
    // As live mode takes it: a copy sharing the state, encoded while the
    // engine goes on (and copies on write what the rest of the stream
    // changes).
    let copy = kept.checkpoint_copy();
    let now = kept.clock_ms().expect("events applied");
    let at_copy = restorable(kept.snapshot(now));
    feed(&mut kept, rest);
    let bytes = format::encode(header(&kept), &copy).expect("encoded");
    drop(copy);
    let (saved, state) =
        format::decode(&bytes, &PARTITION, kept.state_fingerprint()).expect("usable");
    assert_eq!(saved.next_offset, 42);
    let mut restored = Engine::restore(&config, state);
    assert_eq!(
        restorable(restored.snapshot(now)),
        at_copy,
        "the checkpoint holds the state as it was when copied"
    );
    feed(&mut restored, rest);
    // A day on, every SLA deadline still open has fired, from the rebuilt
    // timer: breaches and the gauges agree too.
    let later = kept.clock_ms().expect("events applied") + 86_400_000;
    kept.advance(later);
    restored.advance(later);
    let (kept_view, restored_view) = (kept.snapshot(later), restored.snapshot(later));
    assert!(
        kept_view.live.sla_breached.values().sum::<u64>() > 0,
        "the stream leaves breached tickets open"
    );
    assert_eq!(restorable(restored_view), restorable(kept_view));
    // The counters are this process's: only what came after the restore.
    let accepted: u64 = restored.health().accepted_by_type.values().sum();
    assert_eq!(accepted as usize, rest.len());
}

#[test]
fn a_checkpoint_that_cannot_be_used_says_why() {
    let config = config();
    let mut engine = Engine::new(&config);
    feed(&mut engine, &stream(2_000));
    let fingerprint = engine.state_fingerprint();
    let bytes = format::encode(header(&engine), engine.state()).expect("encoded");

    let mut damaged = bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let mut newer = bytes.clone();
    newer[4] += 1;
    let other = PartitionName {
        partition: 1,
        ..PARTITION
    };
    let other_windows = Config::parse("[metrics]\nwindows = [\"5m\"]\n").expect("valid");
    let newer_format = format!("format {}", FORMAT_VERSION + 1);
    let cases = [
        (format::decode(&damaged, &PARTITION, fingerprint), "damaged"),
        (
            format::decode(&newer, &PARTITION, fingerprint),
            newer_format.as_str(),
        ),
        (
            format::decode(&bytes, &other, fingerprint),
            "not this partition",
        ),
        (
            format::decode(
                &bytes,
                &PARTITION,
                Engine::new(&other_windows).state_fingerprint(),
            ),
            "other window lengths",
        ),
        (
            format::decode(&bytes[..20], &PARTITION, fingerprint),
            "damaged",
        ),
    ];
    for (decoded, why) in cases {
        let message = decoded.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(why), "{why:?} not in {message:?}");
        assert!(message.contains("--state-reset"), "{message}");
    }
    assert!(matches!(
        format::decode(&newer, &PARTITION, fingerprint),
        Err(Unusable::Version { found }) if found == FORMAT_VERSION + 1
    ));
}
