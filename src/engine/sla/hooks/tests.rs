use crate::config::Config;
use crate::engine::Engine;
use crate::export;
use crate::generate::{Generator, GeneratorConfig};

const WALL: i64 = 4_000_000_000_000;
const MIN: i64 = 60_000;

/// Every line alone, and every line in one batch: what each exports at
/// the clock (or at `at`, after firing by it).
fn alone_and_batched(config: &Config, lines: &[String], at: Option<i64>) -> [String; 2] {
    let mut alone = Engine::new(config);
    let mut batched = Engine::new(config);
    for line in lines {
        let _ = alone.apply(line.as_bytes(), WALL);
        let _ = batched.apply_in_batch(line.as_bytes(), WALL);
    }
    batched.end_batch();
    [alone, batched].map(|mut engine| {
        let now = at.or(engine.clock_ms()).unwrap_or(0);
        engine.advance(now);
        export::render(&engine.snapshot(now), "support_")
    })
}

/// The sum of a family's samples whose labels contain `labels`.
fn total(exposition: &str, name: &str, labels: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn a_batch_counts_what_each_event_alone_counts() {
    let config = Config::parse(include_str!("../../../../benches/realistic_sla.toml"))
        .expect("realistic_sla.toml is valid");
    let lines: Vec<String> = Generator::new(GeneratorConfig {
        events_per_sec: 1.0,
        ..GeneratorConfig::default()
    })
    .take(40_000)
    .collect();
    let [alone, batched] = alone_and_batched(&config, &lines, None);
    for verdicts in ["support_sla_met_total", "support_sla_breaches_total"] {
        assert!(
            total(&alone, verdicts, "") > 0.0,
            "the stream gives {verdicts}"
        );
    }
    let differing: Vec<_> = alone
        .lines()
        .zip(batched.lines())
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(differing.is_empty(), "first differences: {differing:#?}");
    assert_eq!(alone.lines().count(), batched.lines().count());
}

fn event(id: &str, ty: &str, ts: i64) -> String {
    format!(r#"{{"event_id":"{id}{ts}","type":"{ty}","ts":{ts},"ticket_id":"{id}"}}"#)
}

#[test]
fn a_deadline_passed_before_its_ticket_closed_in_a_batch_still_breaches_once() {
    let config = Config::parse(
        "[[sla.policy]]\nname = \"all\"\n[sla.policy.targets]\nnormal = { first_response = \"15m\" }\n",
    )
    .expect("valid");
    // T1's deadline passes while T2 comes in; T1 closes, and a new T1
    // opens in the same batch and misses its own deadline by the export.
    let lines = [
        event("T1", "ticket.created", 0),
        event("T2", "ticket.created", 20 * MIN),
        event("T1", "ticket.closed", 21 * MIN),
        event("T1", "ticket.created", 22 * MIN),
    ];
    let [alone, batched] = alone_and_batched(&config, &lines, Some(40 * MIN));
    let breaches = |exposition: &str| {
        total(
            exposition,
            "support_sla_breaches_total",
            r#"sla="first_response""#,
        )
    };
    assert_eq!(breaches(&alone), 3.0, "both T1s and T2: {alone}");
    assert_eq!(breaches(&batched), breaches(&alone));
    assert_eq!(alone, batched);
}
