//! Bad input at scale (SPEC §1.6, §7.1): 100,000 damaged lines from a
//! seeded mutator of valid events, mixed into the valid stream they came
//! from, through decode, the engine with SLA clocks and custom ratios,
//! and both exposition formats. Nothing panics, every line is counted as
//! exactly one of accepted, duplicate, blank or rejected, and the valid
//! lines still count. `benches/fuzz.rs` runs ten million.

use deskpulse::config::Config;
use deskpulse::engine::{Applied, Engine};
use deskpulse::export::{self, Format};
use deskpulse::generate::{Generator, GeneratorConfig, Mutator};

const DAMAGED: usize = 100_000;
/// Far past any generated `ts`, so that valid lines are not `future_ts`.
const WALL_MS: i64 = 4_000_000_000_000;

/// SLA clocks with a calendar and a custom ratio that sums a field, so
/// that damaged lines reach every part of the engine.
const CONFIG: &str = r#"
[[sla.policy]]
name = "all"
calendar = "office"
[sla.policy.targets]
normal = { first_response = "10m", next_reply = "10m", resolution = "1h" }
urgent = { first_response = "1m" }
[sla.calendar.office]
timezone = "Europe/Berlin"
hours = { mon = ["08:00-18:00"], tue = ["08:00-18:00"], wed = ["08:00-18:00"], thu = ["08:00-18:00"], fri = ["08:00-18:00"] }

[[custom_ratio]]
name = "cost_per_email_ticket"
numerator = { type = "cost.recorded", sum = "amount" }
denominator = { type = "ticket.created", where = { channel = "email" } }
"#;

#[derive(Default, Debug)]
struct Tally {
    accepted: u64,
    duplicates: u64,
    blank: u64,
    rejected: u64,
}

impl Tally {
    fn count(&mut self, result: Result<Applied, deskpulse::decode::Reject>) {
        match result {
            Ok(Applied::Accepted { .. }) => self.accepted += 1,
            Ok(Applied::Duplicate) => self.duplicates += 1,
            Ok(Applied::Blank) => self.blank += 1,
            Err(_) => self.rejected += 1,
        }
    }
}

#[test]
fn damaged_lines_never_panic_and_each_is_counted_once() {
    let config = Config::parse(CONFIG).expect("the fuzz config is valid");
    let clean: Vec<String> = Generator::new(GeneratorConfig::default())
        .take(DAMAGED / 4)
        .collect();
    let mut mutator = Mutator::new(20261202);
    let mut engine = Engine::new(&config);
    let (mut valid, mut damaged) = (Tally::default(), Tally::default());
    for (n, line) in clean.iter().enumerate() {
        // Damaged copies go first, each under an event id of its own, so
        // that dedup neither stops them before validation nor makes the
        // valid line a duplicate of one that survived its damage.
        for copy in 0..4 {
            let id = format!("\"event_id\":\"damaged-{n}-{copy}-");
            let own_id = line.replacen("\"event_id\":\"", &id, 1);
            damaged.count(engine.apply(&mutator.mutate(&own_id), WALL_MS));
        }
        valid.count(engine.apply(line.as_bytes(), WALL_MS));
    }
    let all = valid.accepted + valid.duplicates + valid.blank + valid.rejected;
    let all = all + damaged.accepted + damaged.duplicates + damaged.blank + damaged.rejected;
    assert_eq!(all, (clean.len() * 5) as u64, "every line has one result");

    // The engine's own counters agree with what it answered.
    let health = engine.health();
    let rejected: u64 = health.rejected.values().sum();
    let accepted: u64 = health.accepted_by_type.values().sum();
    assert_eq!(rejected, valid.rejected + damaged.rejected);
    assert_eq!(accepted, valid.accepted + damaged.accepted);
    assert_eq!(health.duplicates, valid.duplicates + damaged.duplicates);

    // Most damage is caught; some leaves a line valid (a flipped byte in
    // a label), and the valid lines are still counted. A valid line can
    // be refused when damage went first: a damaged copy that closed or
    // invented its ticket or interaction makes it `unknown_ticket`,
    // `duplicate_ticket` or `unknown_interaction`.
    assert!(damaged.rejected > DAMAGED as u64 / 2, "{damaged:?}");
    assert!(damaged.accepted > 0, "{damaged:?}");
    assert_eq!(valid.duplicates, 0, "{valid:?}");
    assert!(
        valid.accepted > clean.len() as u64 * 9 / 10,
        "{valid:?} of {} valid lines",
        clean.len()
    );
    let reasons: Vec<&String> = health.rejected.keys().collect();
    for reason in [
        "invalid_json",
        "missing_field",
        "invalid_field",
        "invalid_ts",
    ] {
        assert!(
            health.rejected.contains_key(reason),
            "no {reason} among {reasons:?}"
        );
    }

    // Whatever got in renders in both formats, and SLA deadlines fire.
    let now = engine.clock_ms().expect("events were accepted");
    engine.advance(now.saturating_add(86_400_000));
    let exposition = export::exposition(&engine.snapshot(now), None, "support_");
    for format in [Format::Text, Format::OpenMetrics] {
        let text = export::encode(&exposition, format);
        assert!(text.contains("support_tickets_created_total"), "{format:?}");
        assert!(text.contains("support_sla_"), "{format:?}");
    }
}
