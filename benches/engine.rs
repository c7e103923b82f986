//! Engine throughput (decode + state + windows, one core), without SLA
//! and with a realistic SLA setup (`realistic_sla.toml`: two calendars,
//! four policies) on the same stream in the same run, and the time to
//! render the exposition, on a generated support centre.
//!
//! Ten samples each, a few seconds per benchmark. `benches/run` reads
//! the estimates criterion writes and prints them against the targets.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};

use deskpulse::config::Config;
use deskpulse::engine::cumulative::TicketCounter;
use deskpulse::engine::Engine;
use deskpulse::export;
use deskpulse::generate::{Generator, GeneratorConfig};

/// Far past any generated `ts`, so that no event is `future_ts`.
const WALL_MS: i64 = i64::MAX / 2;
const PREFIX: &str = "support_";

fn generated(config: GeneratorConfig, events: usize) -> Vec<String> {
    Generator::new(config).take(events).collect()
}

/// A fresh engine after the whole stream; panics if any line was refused,
/// so that the benchmark measures the path real traffic takes.
fn replayed(config: &Config, lines: &[String]) -> Engine {
    let mut engine = Engine::new(config);
    for line in lines {
        let _ = engine.apply_in_batch(line.as_bytes(), WALL_MS);
    }
    engine.end_batch();
    let rejected = &engine.health().rejected;
    assert!(
        rejected.is_empty(),
        "generated stream rejected: {rejected:?}"
    );
    engine
}

fn apply(c: &mut Criterion) {
    // Two days of event time at 1 event/s: long enough that tickets run
    // their whole lifecycle, so the mix is that of a steady centre rather
    // than a morning of ticket creations.
    let lines = generated(
        GeneratorConfig {
            events_per_sec: 1.0,
            ..GeneratorConfig::default()
        },
        200_000,
    );
    let config = Config::default();
    let sla_config =
        Config::parse(include_str!("realistic_sla.toml")).expect("realistic_sla.toml is valid");
    let engine = replayed(&config, &lines);
    let with_sla = replayed(&sla_config, &lines).snapshot(engine.clock_ms().unwrap_or(0));
    let verdicts = |name: &str| -> u64 {
        let tickets = &with_sla.cumulative.tickets;
        let counted = tickets.iter().filter(|((counter, _), _)| match counter {
            TicketCounter::SlaMet(_) => name == "met",
            TicketCounter::SlaBreached(_) => name == "breached",
            _ => false,
        });
        counted.map(|(_, n)| n).sum()
    };
    println!(
        "sla: {} met, {} breached, {} open tickets breached now",
        verdicts("met"),
        verdicts("breached"),
        with_sla.live.sla_breached.values().sum::<u64>()
    );
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    println!(
        "stream: {} events, {:.1} MB, {} open tickets at the end",
        lines.len(),
        bytes as f64 / 1e6,
        engine
            .snapshot(engine.clock_ms().unwrap_or(0))
            .health
            .state_entries
            .get("tickets")
            .copied()
            .unwrap_or(0)
    );
    paired_ratio(&lines, &config, &sla_config);
    let mut group = c.benchmark_group("engine");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(lines.len() as u64));
    for (name, config) in [("apply", &config), ("apply_sla", &sla_config)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || Engine::new(config),
                |mut engine| {
                    for line in &lines {
                        let _ = engine.apply_in_batch(black_box(line.as_bytes()), WALL_MS);
                    }
                    engine.end_batch();
                    // Returned, so that dropping the engine is not timed.
                    engine
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// With SLA ÷ without, as rounds of one replay of each back to back (the
/// order alternating), so that a slower spell of this shared machine falls
/// on both sides of a round; prints the median of the rounds' ratios and
/// their range. Criterion's two estimates come from runs seconds apart.
fn paired_ratio(lines: &[String], config: &Config, sla_config: &Config) {
    const ROUNDS: usize = 75;
    let time = |config: &Config| {
        let mut engine = Engine::new(config);
        let started = Instant::now();
        for line in lines {
            let _ = engine.apply_in_batch(black_box(line.as_bytes()), WALL_MS);
        }
        engine.end_batch();
        let elapsed = started.elapsed().as_secs_f64();
        drop(black_box(engine));
        elapsed
    };
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let (without, with) = if round % 2 == 0 {
                let without = time(config);
                (without, time(sla_config))
            } else {
                let with = time(sla_config);
                (time(config), with)
            };
            without / with
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "sla ratio: median {:.3} over {ROUNDS} paired rounds (range {:.3} to {:.3})",
        ratios[ROUNDS / 2],
        ratios[0],
        ratios[ROUNDS - 1]
    );
}

fn render(c: &mut Criterion) {
    // Six queues, forty agents and a few hours of traffic: about 10,000
    // series, most of them classic histogram buckets by channel, priority
    // and queue.
    let lines = generated(
        GeneratorConfig {
            queues: 6,
            ..GeneratorConfig::default()
        },
        100_000,
    );
    let engine = replayed(&Config::default(), &lines);
    let now = engine.clock_ms().unwrap_or(0);
    let snapshot = engine.snapshot(now);
    let text = export::render(&snapshot, PREFIX);
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    println!("render: {series} series, {} KB", text.len() / 1024);

    let mut group = c.benchmark_group("render");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("snapshot_and_render", |b| {
        b.iter(|| export::render(&engine.snapshot(black_box(now)), PREFIX))
    });
    group.bench_function("render", |b| {
        b.iter(|| export::render(black_box(&snapshot), PREFIX))
    });
    group.finish();
}

criterion_group!(benches, apply, render);
criterion_main!(benches);
