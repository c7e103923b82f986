//! Bad input at scale: ten million damaged lines (the seeded mutator of
//! `deskpulse::generate::Mutator` over a generated stream, four damaged
//! copies before each valid line) through the engine with SLA clocks,
//! each inside `catch_unwind`, printing how many ran and how many
//! panicked; then a flood of 1,000,000 distinct queue names, printing the
//! queue series exported and the engine's memory. Run with
//! `cargo bench --bench fuzz`; `tests/fuzz.rs` runs 100,000 in the suite.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

use deskpulse::config::Config;
use deskpulse::engine::Engine;
use deskpulse::export;
use deskpulse::generate::{Generator, GeneratorConfig, Mutator};

const DAMAGED: u64 = 10_000_000;
const QUEUES: u64 = 1_000_000;
/// Far past any generated `ts`, so that valid lines are not `future_ts`.
const WALL_MS: i64 = i64::MAX / 2;

fn main() -> ExitCode {
    let config =
        Config::parse(include_str!("realistic_sla.toml")).expect("realistic_sla.toml is valid");
    let ok = damaged_lines(&config) & queue_flood();
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Ten million damaged lines; true when none panicked.
fn damaged_lines(config: &Config) -> bool {
    let mut engine = Engine::new(config);
    let mut mutator = Mutator::new(1);
    let (mut cases, mut panics) = (0u64, 0u64);
    let started = Instant::now();
    for (n, line) in Generator::new(GeneratorConfig::default()).enumerate() {
        if cases >= DAMAGED {
            break;
        }
        for copy in 0..4 {
            let id = format!("\"event_id\":\"damaged-{n}-{copy}-");
            let damaged = mutator.mutate(&line.replacen("\"event_id\":\"", &id, 1));
            let result = catch_unwind(AssertUnwindSafe(|| engine.apply(&damaged, WALL_MS)));
            cases += 1;
            if result.is_err() {
                panics += 1;
                // An engine that panicked mid-event is not trusted further.
                engine = Engine::new(config);
            }
        }
        let _ = catch_unwind(AssertUnwindSafe(|| engine.apply(line.as_bytes(), WALL_MS)));
    }
    let seconds = started.elapsed().as_secs_f64();
    let rejected: u64 = engine.health().rejected.values().sum();
    let accepted: u64 = engine.health().accepted_by_type.values().sum();
    println!(
        "damaged lines: {cases} run, {panics} panicked, {:.0} lines/s (valid ones included); \
         the engine accepted {accepted} and rejected {rejected} of all lines",
        (cases as f64 * 1.25) / seconds
    );
    panics == 0
}

/// A million tickets in a million distinct queues; true when the queue
/// label stays within `[limits] queue` plus `other` and `unknown`.
fn queue_flood() -> bool {
    let config = Config::default();
    let mut engine = Engine::new(&config);
    let mut line = String::with_capacity(200);
    for n in 0..QUEUES {
        line.clear();
        line.push_str(&format!(
            r#"{{"event_id":"q{n}","type":"ticket.created","ts":{},"ticket_id":"t{n}","queue":"queue-{n}"}}"#,
            1_767_600_000_000 + n as i64
        ));
        let _ = engine.apply(line.as_bytes(), WALL_MS);
    }
    let snapshot = engine.snapshot(engine.clock_ms().unwrap_or(0));
    let text = export::render(&snapshot, "support_");
    let mut queues: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("support_tickets_created_total{"))
        .filter_map(|l| l.split("queue=\"").nth(1)?.split('"').next())
        .collect();
    queues.sort_unstable();
    queues.dedup();
    let limit = config.limits.queue;
    println!(
        "queue flood: {QUEUES} distinct queue names, {} queue label values exported (limit {limit}, plus other and unknown), {} label folds counted",
        queues.len(),
        snapshot.health.label_folds.get("queue").copied().unwrap_or(0)
    );
    queues.len() <= limit + 2
}
