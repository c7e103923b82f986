use std::collections::HashMap;

use super::*;
use crate::config::Config;
use crate::decode::Channel;

const MIN: i64 = 60_000;

/// Tickets with their clocks, driven as the engine drives them.
struct Desk {
    sla: Sla,
    tickets: HashMap<u64, TicketClocks>,
    verdicts: Vec<Verdict>,
}

fn terms(priority: Priority) -> Terms {
    Terms {
        priority,
        status: TicketStatus::Open,
        queue: 0,
    }
}

impl Desk {
    fn new(toml: &str) -> Desk {
        let config = Config::parse(toml).expect("test SLA config");
        Desk {
            sla: Sla::new(config.sla_rules),
            tickets: HashMap::new(),
            verdicts: Vec::new(),
        }
    }

    fn take(&mut self) {
        self.verdicts.append(&mut self.sla.verdicts);
    }

    /// Fires every entry due by `now`, in order (SPEC §4.4).
    fn advance(&mut self, now: i64) {
        while let Some((at, id)) = self.sla.pop_due(now) {
            if let Some(c) = self.tickets.get_mut(&id) {
                self.sla.fire(id, c, at);
                self.verdicts.append(&mut self.sla.verdicts);
            }
        }
    }

    fn create(&mut self, id: u64, priority: Priority, now: i64) {
        self.advance(now);
        let (name, long_name) = TicketId::kept(&format!("T{id}"));
        let ticket = NewTicket {
            id,
            name,
            long_name,
            queue: "support",
            channel: Channel::Email,
        };
        let c = self.sla.create(ticket, terms(priority), now);
        self.take();
        self.tickets.insert(id, c);
    }

    /// What the engine does before an event of ticket `id` at `now`.
    fn catch_up(&mut self, id: u64, now: i64) {
        let c = self.tickets.get_mut(&id).expect("ticket");
        self.sla.catch_up(id, c, now);
        self.take();
    }

    fn stop(&mut self, id: u64, kind: Kind, now: i64) {
        self.advance(now);
        let c = self.tickets.get_mut(&id).expect("ticket");
        self.sla.stop(id, c, kind, now);
        self.take();
    }

    fn status(&mut self, id: u64, status: TicketStatus, now: i64) {
        self.advance(now);
        let c = self.tickets.get_mut(&id).expect("ticket");
        let after = Terms { status, ..c.terms };
        self.sla.change(id, c, after, None, [false; 3], now);
        self.take();
    }

    fn priority(&mut self, id: u64, priority: Priority, awaits: [bool; 3], now: i64) {
        self.advance(now);
        let c = self.tickets.get_mut(&id).expect("ticket");
        let after = Terms {
            priority,
            ..c.terms
        };
        self.sla.change(id, c, after, Some("support"), awaits, now);
        self.take();
    }

    fn breaches(&self, of: Kind) -> Vec<i64> {
        self.verdicts
            .iter()
            .filter_map(|v| match *v {
                Verdict::Breached { kind, at_ms } if kind == of => Some(at_ms),
                _ => None,
            })
            .collect()
    }

    fn met(&self, of: Kind) -> Vec<i64> {
        self.verdicts
            .iter()
            .filter_map(|v| match *v {
                Verdict::Met { kind, at_ms, .. } if kind == of => Some(at_ms),
                _ => None,
            })
            .collect()
    }

    fn gauge(&self, breached: bool, kind: Kind) -> u64 {
        let g = if breached {
            self.sla.breached_gauge()
        } else {
            self.sla.at_risk_gauge()
        };
        g.iter().map(|q| q[kind as usize]).sum()
    }
}

/// Every hour counts; first response 1 h (normal) or 15 min (urgent),
/// resolution 8 h, next reply 30 min.
const PLAIN: &str = r#"
[sla]
at_risk = 0.8
[[sla.policy]]
name = "all"
[sla.policy.targets]
normal = { first_response = "1h", next_reply = "30m", resolution = "8h" }
urgent = { first_response = "15m" }
"#;

#[test]
fn a_reply_at_the_deadline_is_met_and_one_ms_later_is_a_breach() {
    let mut d = Desk::new(PLAIN);
    d.create(1, Priority::Normal, 0);
    d.create(2, Priority::Normal, 0);
    d.stop(1, Kind::FirstResponse, 60 * MIN);
    assert_eq!(d.met(Kind::FirstResponse), vec![60 * MIN]);
    assert!(d.breaches(Kind::FirstResponse).is_empty());
    // Ticket 2 replies 1 ms later: its breach fires first, at the deadline.
    d.stop(2, Kind::FirstResponse, 60 * MIN + 1);
    assert_eq!(d.breaches(Kind::FirstResponse), vec![60 * MIN]);
    assert_eq!(
        d.met(Kind::FirstResponse).len(),
        1,
        "a late stop is not met"
    );
    assert_eq!(
        d.gauge(true, Kind::FirstResponse),
        0,
        "stopped: no longer breached"
    );
}

#[test]
fn a_breach_fires_with_no_event_and_the_gauges_follow() {
    let mut d = Desk::new(PLAIN);
    d.create(1, Priority::Normal, 0);
    // 0.8 × 1 h = 48 min: at risk from then, not before.
    d.advance(48 * MIN - 1);
    assert_eq!(d.gauge(false, Kind::FirstResponse), 0);
    d.advance(48 * MIN);
    assert_eq!(d.gauge(false, Kind::FirstResponse), 1);
    // The deadline (1 h) has not fired at 1 h, only after it.
    d.advance(60 * MIN);
    assert!(d.breaches(Kind::FirstResponse).is_empty());
    d.advance(60 * MIN + 1);
    assert_eq!(d.breaches(Kind::FirstResponse), vec![60 * MIN]);
    assert_eq!(
        d.gauge(false, Kind::FirstResponse),
        0,
        "breached is not at risk"
    );
    assert_eq!(d.gauge(true, Kind::FirstResponse), 1);
    // Resolution (8 h) runs on: at risk at 6 h 24 min.
    d.advance(384 * MIN);
    assert_eq!(d.gauge(false, Kind::Resolution), 1);
    d.advance(10 * 60 * MIN);
    assert_eq!(d.breaches(Kind::Resolution), vec![480 * MIN]);
    assert_eq!(
        d.breaches(Kind::FirstResponse).len(),
        1,
        "each clock breaches once"
    );
}

#[test]
fn pending_pauses_the_count() {
    let mut d = Desk::new(PLAIN);
    d.create(1, Priority::Normal, 0);
    // 10 min counted, 30 min paused: the 1 h deadline moves to 1 h 30.
    d.status(1, TicketStatus::Pending, 10 * MIN);
    d.advance(5 * 60 * MIN);
    assert!(
        d.breaches(Kind::FirstResponse).is_empty(),
        "paused clocks do not breach"
    );
    d.status(1, TicketStatus::Open, 5 * 60 * MIN);
    // 10 min counted before the pause; 50 more from 5 h: 5 h 50.
    d.advance(350 * MIN);
    assert!(d.breaches(Kind::FirstResponse).is_empty());
    d.advance(350 * MIN + 1);
    assert_eq!(d.breaches(Kind::FirstResponse), vec![350 * MIN]);
}

#[test]
fn a_priority_change_retargets_and_breaches_at_once_when_already_over() {
    let mut d = Desk::new(PLAIN);
    d.create(1, Priority::Normal, 0);
    // 20 min counted; urgent's first response target is 15 min: breach
    // at the change. Urgent has no resolution target: that clock is
    // dropped, neither met nor breached.
    d.priority(1, Priority::Urgent, [false; 3], 20 * MIN);
    assert_eq!(d.breaches(Kind::FirstResponse), vec![20 * MIN]);
    d.advance(100 * 60 * MIN);
    assert!(d.breaches(Kind::Resolution).is_empty());
    assert_eq!(d.gauge(true, Kind::FirstResponse), 1);
    // Back to normal: the breach is never undone, the clock stops late,
    // and a resolution clock starts now for the unresolved ticket.
    d.priority(1, Priority::Normal, [false, false, true], 100 * 60 * MIN);
    d.stop(1, Kind::FirstResponse, 101 * 60 * MIN);
    assert!(d.met(Kind::FirstResponse).is_empty());
    assert_eq!(
        d.verdicts.last(),
        Some(&Verdict::StoppedLate {
            kind: Kind::FirstResponse,
            business_ms: None
        })
    );
    d.advance(108 * 60 * MIN);
    assert!(d.breaches(Kind::Resolution).is_empty());
    d.advance(108 * 60 * MIN + 1);
    assert_eq!(d.breaches(Kind::Resolution), vec![108 * 60 * MIN]);
}

#[test]
fn a_longer_target_takes_a_clock_out_of_risk() {
    let toml = r#"
[[sla.policy]]
name = "all"
[sla.policy.targets]
normal = { first_response = "1h" }
low = { first_response = "10h" }
"#;
    let mut d = Desk::new(toml);
    d.create(1, Priority::Normal, 0);
    d.advance(50 * MIN);
    assert_eq!(d.gauge(false, Kind::FirstResponse), 1);
    d.priority(1, Priority::Low, [false; 3], 50 * MIN);
    assert_eq!(d.gauge(false, Kind::FirstResponse), 0);
    // 0.8 × 10 h = 8 h.
    d.advance(8 * 60 * MIN);
    assert_eq!(d.gauge(false, Kind::FirstResponse), 1);
}

#[test]
fn dropped_clocks_have_no_verdict() {
    let mut d = Desk::new(PLAIN);
    d.create(1, Priority::Normal, 0);
    let c = d.tickets.get_mut(&1).expect("ticket");
    d.sla.drop_all(1, c);
    assert_eq!(
        d.sla.pop_due(i64::MAX),
        None,
        "its timer entry went with it"
    );
    d.advance(100 * 60 * MIN);
    assert!(d.verdicts.is_empty(), "{:?}", d.verdicts);
}

/// One policy under a Mon–Fri 09:00–18:00 calendar in `zone`, with the
/// normal-priority `targets` (a TOML inline table's inside).
fn office(zone: &str, targets: &str) -> String {
    format!(
        r#"
[[sla.policy]]
name = "office"
calendar = "office"
[sla.policy.targets]
normal = {{ {targets} }}
[sla.calendar.office]
timezone = "{zone}"
hours = {{ mon = ["09:00-18:00"], tue = ["09:00-18:00"], wed = ["09:00-18:00"], thu = ["09:00-18:00"], fri = ["09:00-18:00"] }}
"#
    )
}

#[test]
fn business_hours_move_the_deadline_and_record_counted_time() {
    // SPEC §4.3: Friday 17:55 + 1 h → Monday 09:55 (Berlin, Mon–Fri 9–18).
    let toml = office("Europe/Berlin", r#"first_response = "1h""#);
    let friday = "2026-11-27T16:55:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .expect("instant")
        .timestamp_millis();
    let monday_0955 = friday + (2 * 24 + 16) * 60 * MIN;
    let mut d = Desk::new(&toml);
    d.create(1, Priority::Normal, friday);
    d.create(2, Priority::Normal, friday);
    d.advance(monday_0955);
    assert!(d.breaches(Kind::FirstResponse).is_empty());
    d.stop(1, Kind::FirstResponse, monday_0955);
    assert_eq!(
        d.verdicts.last(),
        Some(&Verdict::Met {
            kind: Kind::FirstResponse,
            at_ms: monday_0955,
            business_ms: Some(60 * MIN),
        }),
        "5 min Friday + 55 min Monday"
    );
    d.advance(monday_0955 + 1);
    assert_eq!(d.breaches(Kind::FirstResponse), vec![monday_0955]);
}

#[test]
fn stale_timer_entries_fire_nothing() {
    let mut d = Desk::new(PLAIN);
    d.create(1, Priority::Normal, 0);
    // Pausing and resuming moves the deadline later: the ticket's entry
    // stays, comes up early and finds nothing due.
    for i in 1..=20 {
        let status = if i % 2 == 1 {
            TicketStatus::Pending
        } else {
            TicketStatus::Open
        };
        d.status(1, status, i * MIN);
    }
    // 10 paused minutes: the 1 h deadline is at 70 min.
    d.advance(70 * MIN);
    assert!(d.breaches(Kind::FirstResponse).is_empty());
    d.advance(24 * 60 * MIN);
    assert_eq!(d.breaches(Kind::FirstResponse), vec![70 * MIN]);
    assert_eq!(d.breaches(Kind::Resolution), vec![490 * MIN]);
    assert_eq!(d.sla.timer_len(), 0);
}

#[test]
fn an_entry_fired_on_catch_up_does_not_come_up_again() {
    let mut d = Desk::new(PLAIN);
    d.create(1, Priority::Normal, 0);
    // An event of the ticket at 61 min: its risk (48 min) and breach
    // (60 min) fire first, in order, from its clocks rather than the timer.
    d.catch_up(1, 61 * MIN);
    assert_eq!(d.breaches(Kind::FirstResponse), vec![60 * MIN]);
    d.advance(61 * MIN);
    assert_eq!(d.breaches(Kind::FirstResponse).len(), 1);
    assert_eq!(d.sla.timer_len(), 1, "only the resolution clock's entry");
}

#[test]
fn counted_time_is_exact_past_32_bits() {
    let toml = r#"
[[sla.policy]]
name = "all"
[sla.policy.targets]
normal = { resolution = "60d" }
"#;
    const DAY: i64 = 24 * 60 * MIN;
    let mut d = Desk::new(toml);
    d.create(1, Priority::Normal, 0);
    // 55 days counted (more than 2^32 ms) are settled at the pause; the
    // last 5 count from the resume at day 100.
    d.status(1, TicketStatus::Pending, 55 * DAY);
    d.status(1, TicketStatus::Open, 100 * DAY);
    d.advance(105 * DAY);
    assert!(d.breaches(Kind::Resolution).is_empty());
    d.advance(105 * DAY + 1);
    assert_eq!(d.breaches(Kind::Resolution), vec![105 * DAY]);
}

#[test]
fn counted_time_saturates_and_a_longer_target_counts_as_the_most_it_holds() {
    let toml = r#"
[[sla.policy]]
name = "always"
calendar = "always"
[sla.policy.targets]
normal = { resolution = "2000d" }
[sla.calendar.always]
timezone = "UTC"
hours = { mon = ["00:00-24:00"], tue = ["00:00-24:00"], wed = ["00:00-24:00"], thu = ["00:00-24:00"], fri = ["00:00-24:00"], sat = ["00:00-24:00"], sun = ["00:00-24:00"] }
"#;
    let mut d = Desk::new(toml);
    d.create(1, Priority::Normal, 0);
    d.advance(MAX_COUNTED_MS + 1);
    assert_eq!(d.breaches(Kind::Resolution), vec![MAX_COUNTED_MS]);
    // Late by far more than counted time holds: it stops at the most.
    d.stop(1, Kind::Resolution, 2 * MAX_COUNTED_MS);
    assert_eq!(
        d.verdicts.last(),
        Some(&Verdict::StoppedLate {
            kind: Kind::Resolution,
            business_ms: Some(MAX_COUNTED_MS),
        })
    );
}

#[test]
fn cancelled_entries_are_compacted_away() {
    const N: u64 = 10_000;
    let mut d = Desk::new(PLAIN);
    for id in 0..N {
        d.create(id, Priority::Normal, 0);
    }
    // Urgent: first response is due earlier, so each ticket's entry is
    // replaced and the old one cancelled.
    for id in 0..N {
        d.priority(id, Priority::Urgent, [false; 3], MIN);
    }
    assert!(
        d.sla.timer_len() < 2 * N as usize,
        "{} entries for {N} tickets",
        d.sla.timer_len()
    );
    d.advance(15 * MIN);
    assert!(d.breaches(Kind::FirstResponse).is_empty());
    d.advance(15 * MIN + 1);
    assert_eq!(d.breaches(Kind::FirstResponse).len(), N as usize);
    assert!(d
        .breaches(Kind::FirstResponse)
        .iter()
        .all(|&at| at == 15 * MIN));
}

#[test]
fn a_ticket_id_up_to_8_bytes_is_inline_and_a_longer_one_kept_beside() {
    let mut sla = Desk::new(PLAIN).sla;
    let mut create = |id: u64, name: &str| {
        let (name, long_name) = TicketId::kept(name);
        let ticket = NewTicket {
            id,
            name,
            long_name,
            queue: "support",
            channel: Channel::Email,
        };
        (id, sla.create(ticket, terms(Priority::Normal), 0))
    };
    let (short, accented, long, nul) = (
        create(1, "T123456"),
        create(2, "Tü12345"),
        create(3, "ZD-2026-000123456"),
        create(4, "T\0"),
    );
    assert_eq!(short.1.ticket_id().as_str(), Some("T123456"));
    assert_eq!(accented.1.ticket_id().as_str(), Some("Tü12345"));
    assert_eq!(long.1.ticket_id().as_str(), None, "not inline");
    assert_eq!(sla.ticket_name(short.0, &short.1), Some("T123456"));
    assert_eq!(sla.ticket_name(long.0, &long.1), Some("ZD-2026-000123456"));
    assert_eq!(sla.ticket_name(nul.0, &nul.1), Some("T\0"));
    let (id, mut c) = long;
    sla.drop_all(id, &mut c);
    assert_eq!(sla.ticket_name(id, &c), None, "released with its clocks");
}

/// A span longer than the calendar's horizon (an event stamped decades
/// before the next) saturates its clock at once rather than laying those
/// decades out; one within it is counted exactly.
#[test]
fn a_span_beyond_the_calendar_horizon_saturates() {
    let toml = office("UTC", r#"resolution = "1h""#);
    let day = 24 * 60 * MIN;
    // 1970-01-05 was a Monday: 571 whole weeks of 45 h in 3,997 days.
    let monday = 4 * day;
    let mut d = Desk::new(&toml);
    d.create(1, Priority::Normal, monday);
    d.create(2, Priority::Normal, monday);
    d.stop(1, Kind::Resolution, monday + 3997 * day);
    d.stop(2, Kind::Resolution, monday + 4001 * day);
    let business: Vec<Option<i64>> = d
        .verdicts
        .iter()
        .filter_map(|v| match v {
            Verdict::StoppedLate { business_ms, .. } => Some(*business_ms),
            _ => None,
        })
        .collect();
    assert_eq!(
        business,
        vec![Some(571 * 45 * 60 * MIN), Some(MAX_COUNTED_MS)]
    );
}
