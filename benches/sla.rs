//! SLA deadlines: firing 100,000 that fall due at once among 1M tickets
//! with running clocks (target ≤ 100 ms), with and without a business
//! calendar. `benches/run` prints it in its table.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};

use deskpulse::config::Config;
use deskpulse::decode::{Channel, Priority, TicketStatus};
use deskpulse::engine::sla::clocks::{NewTicket, Sla, Terms, TicketClocks, TicketId};

const TICKETS: u64 = 1_000_000;
const DUE: u64 = 100_000;
const MIN: i64 = 60_000;
/// A Monday 08:00 UTC, inside the office hours below.
const START: i64 = 1_764_576_000_000;

fn config(calendar: bool) -> Config {
    let calendar_line = if calendar {
        "calendar = \"office\""
    } else {
        ""
    };
    Config::parse(&format!(
        r#"
[sla]
at_risk = 1.0
[[sla.policy]]
name = "all"
{calendar_line}
[sla.policy.targets]
normal = {{ first_response = "1h" }}
[sla.calendar.office]
timezone = "Europe/Berlin"
hours = {{ mon = ["08:00-20:00"], tue = ["08:00-20:00"], wed = ["08:00-20:00"], thu = ["08:00-20:00"], fri = ["08:00-20:00"] }}
"#
    ))
    .expect("bench SLA config")
}

/// 1M tickets whose first-response clocks run; the first 100k were
/// created a minute apart from the rest, so their deadlines fall due at
/// once at `START + 1 h + 1 min`, the others' later.
fn desk(calendar: bool) -> (Sla, Vec<TicketClocks>) {
    let mut sla = Sla::new(config(calendar).sla_rules);
    let terms = Terms {
        priority: Priority::Normal,
        status: TicketStatus::Open,
        queue: 0,
    };
    let clocks = (0..TICKETS)
        .map(|id| {
            let created = if id < DUE { START } else { START + 30 * MIN };
            let (name, long_name) = TicketId::kept(&format!("T{id}"));
            let ticket = NewTicket {
                id,
                name,
                long_name,
                queue: "support",
                channel: Channel::Email,
            };
            sla.create(ticket, terms, created)
        })
        .collect();
    (sla, clocks)
}

fn fire_all(sla: &mut Sla, clocks: &mut [TicketClocks], now: i64) -> usize {
    let mut fired = 0;
    while let Some((at, id)) = sla.pop_due(now) {
        if let Some(c) = clocks.get_mut(id as usize) {
            sla.fire(id, c, at);
            fired += sla.verdicts.len();
            sla.verdicts.clear();
        }
    }
    fired
}

fn fire(c: &mut Criterion) {
    let mut group = c.benchmark_group("sla");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, calendar) in [
        ("fire_100k_of_1m", false),
        ("fire_100k_of_1m_calendar", true),
    ] {
        let (mut sla, mut clocks) = desk(calendar);
        // At risk (1.0 × target) comes due at the deadline: fire it
        // first, so that the measured call fires breaches only.
        let risk_at = START + 60 * MIN;
        fire_all(&mut sla, &mut clocks, risk_at);
        let due = START + 60 * MIN + 1;
        let breaches = fire_all(&mut sla.clone(), &mut clocks.clone(), due);
        assert_eq!(
            breaches as u64, DUE,
            "{name}: every due clock breaches once"
        );
        println!("{name}: {breaches} breaches among {TICKETS} running clocks");
        group.bench_function(name, |b| {
            b.iter_batched(
                || (sla.clone(), clocks.clone()),
                |(mut sla, mut clocks)| {
                    let n = fire_all(&mut sla, &mut clocks, due);
                    (n, sla, clocks)
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, fire);
criterion_main!(benches);
