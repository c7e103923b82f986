//! The engine: applies events to ticket, interaction, agent and customer
//! state, the rolling windows and the cumulative counters. One engine per
//! input partition; it never reads a clock (time is passed in), takes no
//! lock, and its whole state is serialisable for checkpoints.

mod agents;
pub mod cow;
pub mod cumulative;
mod custom;
mod customers;
pub mod dedup;
mod interactions;
pub mod labels;
mod restore;
pub mod rules;
pub mod sla;
pub mod snapshot;
mod tickets;
pub mod windows;

use std::collections::HashMap;
use std::hash::Hasher;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::decode::{self, Decoder, Event, Kind, Reject};
use agents::Agent;
use cumulative::Cumulative;
use custom::CustomSide;
use dedup::Dedup;
use interactions::Interaction;
use labels::LabelSet;
use rules::KpiRules;
use sla::clocks::Sla;
use sla::hooks::Steps;
use tickets::Ticket;
use windows::{Tally, WindowSet};

/// Hasher for keys that already are 64-bit hashes ([`decode::id_hash`]).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with this; fold anything else.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub use cow::{IdMap, IdSet};

/// "Not yet" for the optional instants of ticket and interaction state.
const NEVER: i64 = i64::MIN;
const NO_AGENT: u16 = u16::MAX;
/// How often (event time) released state is swept out.
const SWEEP_EVERY_MS: i64 = 3_600_000;

/// When an accepted event counts: at its `ts`, and in the windows unless
/// it is late (SPEC §3). Passed down rather than kept in the engine, so
/// that what a call records is plain from its arguments.
#[derive(Debug, Clone, Copy)]
struct At {
    ts: i64,
    in_windows: bool,
}

/// What happened to one input line that was not rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// `ts_ms` is the event's own time, for end-to-end delay.
    Accepted {
        late: bool,
        ts_ms: i64,
    },
    Duplicate,
    Blank,
}

/// The processor's own counters.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub accepted_by_type: rustc_hash::FxHashMap<String, u64>,
    pub rejected: HashMap<String, u64>,
    pub duplicates: u64,
    pub late: u64,
}

#[derive(Debug, Clone)]
struct Settings {
    lateness_ms: i64,
    resolved_retention_ms: i64,
    interaction_timeout_ms: i64,
    kpi: KpiRules,
    windows_by_queue: bool,
    window_lengths_ms: Vec<i64>,
    window_names: Vec<String>,
    today_zone: Option<chrono_tz::Tz>,
    /// Some `[[sla.policy]]` is configured: tickets run clocks.
    sla_on: bool,
}

/// Windows of every scope: the whole centre, each queue, each agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Scopes {
    centre: WindowSet,
    queues: Vec<Option<WindowSet>>,
    agents: Vec<Option<WindowSet>>,
}

impl Scopes {
    /// A copy for a checkpoint (see `cow`).
    fn share(&mut self) -> Scopes {
        let share = |sets: &mut Vec<Option<WindowSet>>| {
            sets.iter_mut()
                .map(|set| set.as_mut().map(WindowSet::share))
                .collect()
        };
        Scopes {
            centre: self.centre.share(),
            queues: share(&mut self.queues),
            agents: share(&mut self.agents),
        }
    }
}

/// An engine: settings built from the config, the state its events built
/// ([`State`], what a checkpoint holds) and this process's counters.
#[derive(Debug, Clone)]
pub struct Engine {
    settings: Settings,
    decoder: Decoder,
    custom_by_type: HashMap<String, Vec<CustomSide>>,
    custom_names: Vec<String>,
    state: State,
    /// Counters and classic histograms are per process: a restored engine
    /// starts them at 0, which Prometheus reads as a counter reset, and
    /// what a partition counted stays with the process that counted it.
    cumulative: Cumulative,
    health: Health,
    /// SLA work of the open batch's events, not yet run (`sla::hooks`).
    sla_steps: Steps,
}

/// Everything the events built and nothing the config gives: what a
/// checkpoint saves and [`Engine::restore`] brings back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Largest accepted `ts` (SPEC §3); `NEVER` before the first event.
    clock_ms: i64,
    next_sweep_ms: i64,
    dedup: Dedup,
    queues: LabelSet,
    categories: LabelSet,
    agent_labels: LabelSet,
    tickets: IdMap<Ticket>,
    interactions: IdMap<Interaction>,
    agents: IdMap<Agent>,
    customers: IdSet,
    scopes: Scopes,
    /// Only the clocks are saved; policies, calendars, the timer and the
    /// gauges are rebuilt.
    sla: Sla,
}

impl Engine {
    pub fn new(config: &Config) -> Engine {
        let ms = |d: std::time::Duration| d.as_millis().min(i64::MAX as u128) as i64;
        let e = &config.engine;
        let today_zone = config.metrics.today.then(|| config.timezone());
        let window_lengths_ms: Vec<i64> = config.metrics.windows.iter().map(|w| ms(w.0)).collect();
        let mut custom_by_type: HashMap<String, Vec<CustomSide>> = HashMap::new();
        for (ratio, def) in config.custom_ratios.iter().enumerate() {
            for (side, filter) in [&def.numerator, &def.denominator].into_iter().enumerate() {
                custom_by_type
                    .entry(filter.event_type.clone())
                    .or_default()
                    .push(CustomSide {
                        ratio,
                        side,
                        sum: filter.sum.clone(),
                        matching: filter
                            .matching
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    });
            }
        }
        let decoder = Decoder::new(custom_by_type.keys().cloned(), ms(e.future_tolerance));
        Engine {
            settings: Settings {
                lateness_ms: ms(e.allowed_lateness),
                resolved_retention_ms: ms(e.resolved_ticket_retention),
                interaction_timeout_ms: ms(e.interaction_timeout),
                kpi: KpiRules::new(e),
                windows_by_queue: config.windowed_by_queue(),
                today_zone,
                window_lengths_ms: window_lengths_ms.clone(),
                window_names: config.window_names(),
                sla_on: !config.sla_rules.is_off(),
            },
            decoder,
            custom_by_type,
            custom_names: config
                .custom_ratios
                .iter()
                .map(|r| r.name.clone())
                .collect(),
            state: State {
                clock_ms: NEVER,
                next_sweep_ms: NEVER,
                dedup: Dedup::new(ms(e.dedup_horizon), e.dedup_max_entries),
                queues: LabelSet::new(config.limits.queue),
                categories: LabelSet::new(config.limits.category),
                agent_labels: LabelSet::new(config.limits.agent),
                tickets: IdMap::default(),
                interactions: IdMap::default(),
                agents: IdMap::default(),
                customers: IdSet::default(),
                scopes: Scopes {
                    centre: WindowSet::new(&window_lengths_ms, today_zone),
                    queues: Vec::new(),
                    agents: Vec::new(),
                },
                sla: Sla::new(config.sla_rules.clone()),
            },
            cumulative: Cumulative::default(),
            health: Health::default(),
            sla_steps: Steps::default(),
        }
    }

    /// The event-time clock: the largest accepted `ts`, if any.
    pub fn clock_ms(&self) -> Option<i64> {
        (self.state.clock_ms != NEVER).then_some(self.state.clock_ms)
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Applies one input line. `wall_ms` is the wall clock, used only for
    /// the `future_ts` check. A rejected line changes nothing but its counter.
    pub fn apply(&mut self, line: &[u8], wall_ms: i64) -> Result<Applied, Reject> {
        let result = self.apply_in_batch(line, wall_ms);
        self.end_batch();
        result
    }

    /// [`Engine::apply`] within a batch of lines: the line's SLA work may
    /// wait for [`Engine::end_batch`], which the caller runs after the
    /// batch and before it reads the engine.
    pub fn apply_in_batch(&mut self, line: &[u8], wall_ms: i64) -> Result<Applied, Reject> {
        // Input is UTF-8 JSON (SPEC §1); anything else is not JSON. One
        // check of the whole line is cheaper than serde_json's per string.
        let result = std::str::from_utf8(line)
            .map_err(|_| Reject::InvalidJson)
            .and_then(|line| self.apply_line(line, wall_ms));
        match result {
            Err(reason) => {
                *self
                    .health
                    .rejected
                    .entry(reason.as_str().to_owned())
                    .or_default() += 1
            }
            Ok(Applied::Duplicate) => self.health.duplicates += 1,
            Ok(Applied::Accepted { late: true, .. }) => self.health.late += 1,
            Ok(_) => {}
        }
        result
    }

    fn apply_line(&mut self, line: &str, wall_ms: i64) -> Result<Applied, Reject> {
        if line.trim().is_empty() {
            return Ok(Applied::Blank);
        }
        let mut raw = decode::RawEvent::default();
        decode::parse(line, &mut raw)?;
        if let Some(id) = raw.event_id() {
            if self
                .state
                .dedup
                .is_duplicate(decode::id_hash(id), self.state.clock_ms)
            {
                return Ok(Applied::Duplicate);
            }
        }
        let (type_id, event) = self.decoder.validate(&mut raw, wall_ms)?;
        let late = self.state.clock_ms != NEVER
            && self.state.clock_ms.saturating_sub(event.ts) > self.settings.lateness_ms;
        let (id, ts) = (event.id, event.ts);
        let at = At {
            ts,
            in_windows: !late,
        };
        self.apply_event(event, at)?;
        self.apply_custom(type_id, at, line);

        let type_name = self.decoder.type_name(type_id);
        match self.health.accepted_by_type.get_mut(type_name) {
            Some(n) => *n += 1,
            None => {
                self.health.accepted_by_type.insert(type_name.to_owned(), 1);
            }
        }
        self.state.clock_ms = self.state.clock_ms.max(ts);
        self.run_sla_if_full();
        self.state.dedup.remember(id, ts, self.state.clock_ms);
        if self.state.clock_ms >= self.state.next_sweep_ms {
            // The tickets it releases take their clocks with them.
            self.end_batch();
            self.sweep();
            self.state.next_sweep_ms = self.state.clock_ms.saturating_add(SWEEP_EVERY_MS);
        }
        Ok(Applied::Accepted { late, ts_ms: ts })
    }

    /// Releases resolved tickets past their retention and idle interactions.
    fn sweep(&mut self) {
        let resolved_before = self
            .state
            .clock_ms
            .saturating_sub(self.settings.resolved_retention_ms);
        let sla = &mut self.state.sla;
        self.state.tickets.remove_where(
            |t| t.is_resolved() && t.resolved_ms < resolved_before,
            |id, t| {
                if let Some(slot) = t.sla {
                    sla.release(id, slot);
                }
            },
        );
        let idle_before = self
            .state
            .clock_ms
            .saturating_sub(self.settings.interaction_timeout_ms);
        self.state
            .interactions
            .remove_where(|i| i.last_ms < idle_before, |_, _| {});
    }

    /// Applies an accepted event to the state of its domain.
    fn apply_event(&mut self, event: Event<'_>, at: At) -> Result<(), Reject> {
        use Kind::*;
        match event.kind {
            kind @ (TicketCreated { .. }
            | TicketAssigned { .. }
            | AgentReplied { .. }
            | CustomerReplied { .. }
            | StatusChanged { .. }
            | TicketUpdated { .. }
            | Resolved { .. }
            | Reopened { .. }
            | Closed { .. }) => self.apply_ticket(kind, at),
            kind @ (Queued { .. }
            | Answered { .. }
            | HoldStarted { .. }
            | HoldEnded { .. }
            | InteractionEnded { .. }
            | WrapupEnded { .. }
            | Abandoned { .. }
            | Blocked { .. }
            | Completed { .. }) => self.apply_interaction(kind, at),
            AgentStatusChanged { agent, status } => {
                self.apply_agent_status(&agent, status, at);
                Ok(())
            }
            kind @ (Csat { .. }
            | Nps { .. }
            | Ces { .. }
            | Iqs { .. }
            | SignedUp { .. }
            | Churned { .. }) => self.apply_customer(kind, at),
            Custom => Ok(()),
        }
    }

    /// Records into the windows of the whole centre, the queue (when
    /// windowed by queue) and the agent, unless the event is late.
    fn record(
        &mut self,
        at: At,
        queue: Option<u16>,
        agent: Option<u16>,
        mut f: impl FnMut(&mut Tally),
    ) {
        if !at.in_windows {
            return;
        }
        let ts = at.ts;
        let (lengths, zone) = (&self.settings.window_lengths_ms, self.settings.today_zone);
        self.state.scopes.centre.record(ts, &mut f);
        let queue = queue.filter(|_| self.settings.windows_by_queue);
        for (scopes, id) in [
            (&mut self.state.scopes.queues, queue),
            (&mut self.state.scopes.agents, agent),
        ] {
            let Some(id) = id.filter(|&id| id != NO_AGENT) else {
                continue;
            };
            let index = id as usize;
            if scopes.len() <= index {
                scopes.resize_with(index + 1, || None);
            }
            scopes[index]
                .get_or_insert_with(|| WindowSet::new(lengths, zone))
                .record(ts, &mut f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Engine {
        fn apply_str(&mut self, line: &str, wall_ms: i64) -> Result<Applied, Reject> {
            self.apply(line.as_bytes(), wall_ms)
        }
    }

    fn engine() -> Engine {
        Engine::new(&Config::default())
    }

    const WALL: i64 = 2_000_000_000_000;

    fn line(id: &str, ty: &str, ts: i64, extra: &str) -> String {
        format!(r#"{{"event_id":"{id}","type":"{ty}","ts":{ts}{extra}}}"#)
    }

    #[test]
    fn rejected_event_changes_nothing_and_can_be_retried() {
        let mut e = engine();
        let reply = line(
            "r1",
            "ticket.agent_replied",
            2_000,
            r#","ticket_id":"t","agent_id":"a""#,
        );
        assert_eq!(e.apply_str(&reply, WALL), Err(Reject::UnknownTicket));
        assert_eq!(
            e.clock_ms(),
            None,
            "a rejected event does not move the clock"
        );
        e.apply_str(
            &line("c1", "ticket.created", 1_000, r#","ticket_id":"t""#),
            WALL,
        )
        .unwrap();
        assert_eq!(
            e.apply_str(&reply, WALL),
            Ok(Applied::Accepted {
                late: false,
                ts_ms: 2_000
            })
        );
        assert_eq!(e.apply_str(&reply, WALL), Ok(Applied::Duplicate));
    }

    #[test]
    fn lateness_boundary_is_inclusive() {
        let mut e = engine();
        e.apply_str(
            &line(
                "a",
                "customer.signed_up",
                1_000_000,
                r#","customer_id":"x""#,
            ),
            WALL,
        )
        .unwrap();
        let on_time = e.apply_str(
            &line("b", "customer.signed_up", 700_000, r#","customer_id":"y""#),
            WALL,
        );
        assert_eq!(
            on_time,
            Ok(Applied::Accepted {
                late: false,
                ts_ms: 700_000
            })
        );
        let late = e.apply_str(
            &line("c", "customer.signed_up", 699_999, r#","customer_id":"z""#),
            WALL,
        );
        assert_eq!(
            late,
            Ok(Applied::Accepted {
                late: true,
                ts_ms: 699_999
            })
        );
    }

    proptest::proptest! {
        /// SPEC §7.4: up to the allowed lateness behind the clock is on
        /// time, a millisecond more is late, wherever the clock stands.
        #[test]
        fn lateness_is_judged_against_the_clock(clock in 0i64..WALL, behind in 0i64..600_000) {
            let mut e = engine();
            e.apply_str(&line("a", "customer.signed_up", clock, r#","customer_id":"x""#), WALL).unwrap();
            let applied = e.apply_str(&line("b", "customer.signed_up", clock - behind, r#","customer_id":"y""#), WALL);
            proptest::prop_assert_eq!(applied, Ok(Applied::Accepted { late: behind > 300_000, ts_ms: clock - behind }));
            proptest::prop_assert_eq!(e.clock_ms(), Some(clock), "an older event does not move the clock back");
        }
    }

    #[test]
    fn closed_ticket_is_released() {
        let mut e = engine();
        e.apply_str(&line("1", "ticket.created", 1, r#","ticket_id":"t""#), WALL)
            .unwrap();
        e.apply_str(&line("2", "ticket.closed", 2, r#","ticket_id":"t""#), WALL)
            .unwrap();
        assert!(e.state.tickets.is_empty());
        let after = e.apply_str(
            &line("3", "ticket.reopened", 3, r#","ticket_id":"t""#),
            WALL,
        );
        assert_eq!(after, Err(Reject::UnknownTicket));
    }

    #[test]
    fn resolved_tickets_are_swept_after_retention() {
        let mut e = engine();
        e.apply_str(&line("1", "ticket.created", 0, r#","ticket_id":"t""#), WALL)
            .unwrap();
        e.apply_str(
            &line("2", "ticket.resolved", 1, r#","ticket_id":"t""#),
            WALL,
        )
        .unwrap();
        let week = 7 * 86_400_000;
        e.apply_str(
            &line(
                "3",
                "customer.signed_up",
                week + 2 * 3_600_000,
                r#","customer_id":"c""#,
            ),
            WALL,
        )
        .unwrap();
        assert!(
            e.state.tickets.is_empty(),
            "resolved a week ago, never closed: released"
        );
    }

    #[test]
    fn ticket_state_stays_small() {
        // SLA clocks (48 bytes, SPEC §4.5 allows about 100) are kept in
        // a vector of slots beside it.
        assert_eq!(std::mem::size_of::<sla::clocks::TicketClocks>(), 48);
        assert!(
            std::mem::size_of::<Ticket>() <= 80,
            "{}",
            std::mem::size_of::<Ticket>()
        );
    }
}
