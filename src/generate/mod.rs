//! A deterministic, seeded generator of a realistic support centre: the
//! JSON lines of SPEC §1, for the demo, benchmarks and tests.
//!
//! It is a small discrete-event simulation. Every ticket, interaction,
//! survey and agent is a flow that emits one event per step and schedules
//! its next step some realistic delay later. Event time advances in
//! exponential gaps averaging `1 / events_per_sec`; at each tick the
//! earliest due step is emitted, or, when none is due, a new flow starts.
//! So the rate is exact on average, the output is in `ts` order, and the
//! mix of event types settles to that of a steady centre. A step that
//! falls due while others are still waiting is emitted a few ticks late,
//! never early, which keeps every flow in order.
//!
//! The random numbers come from an inline SplitMix64, so a seed gives the
//! same lines on every platform and with every version of dependencies.
//!
//! By flow: tickets (`tickets.rs`), calls and chats (`interactions.rs`),
//! surveys and reviews (`surveys.rs`), agents' shifts (`agents.rs`);
//! beside them the random numbers (`rng.rs`) and the JSON fields and
//! timestamps written (`fields.rs`). Here, the clock and the queue of
//! scheduled steps that interleaves the flows.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write;

/// Appends formatted text; writing into a `String` cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

mod agents;
mod fields;
mod interactions;
mod mutate;
mod rng;
mod surveys;
mod tickets;

pub use mutate::Mutator;

use agents::Agent;
use fields::{customer_field, write_rfc3339};
use interactions::{Interaction, InteractionStep};
use rng::Rng;
use surveys::{Survey, SurveyKind};
use tickets::{Ticket, TicketStatus, TicketStep};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// Event time of the stream's start, epoch milliseconds.
    pub start_ms: i64,
    /// Mean rate of events, per second of event time.
    pub events_per_sec: f64,
    pub queues: usize,
    pub agents: usize,
    /// Customers known at the start; sign-ups add more.
    pub customers: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 1,
            // 2026-01-05T08:00:00Z, a Monday morning.
            start_ms: 1_767_600_000_000,
            events_per_sec: 50.0,
            queues: 8,
            agents: 40,
            customers: 5000,
        }
    }
}

/// An endless stream of events, one JSON object per item.
pub struct Generator {
    rng: Rng,
    /// Event time of the last tick; fractional so the mean rate is exact.
    clock_ms: f64,
    mean_gap_ms: f64,
    events: u64,
    tickets: u64,
    interactions: u64,
    /// Customer ids in use: the initial ones plus every sign-up.
    customers: u32,
    initial_customers: u32,
    /// Sign-ups that churned since: the first ones after the initial customers.
    churned: u32,
    /// The first tenth of the customers write far more often.
    regulars: u32,
    agents: usize,
    queue_names: Vec<Box<str>>,
    /// Cumulative popularity of the queues, for a skewed pick.
    queue_weights: Vec<f64>,
    pending: BinaryHeap<Pending>,
    scheduled: u64,
}

impl Generator {
    /// Event time of the last event made, epoch milliseconds.
    pub fn clock_ms(&self) -> i64 {
        self.clock_ms as i64
    }

    /// Waits, through `wait` in steps of at most 50 ms, until the wall
    /// clock reaches the event just made, so that a live feed (the demo,
    /// `generate --live`) delivers each event at its own time; `false`
    /// when `stopped` says so first.
    pub fn pace(
        &self,
        mut wait: impl FnMut(std::time::Duration),
        stopped: impl Fn() -> bool,
    ) -> bool {
        loop {
            if stopped() {
                return false;
            }
            let ahead = self.clock_ms() - crate::source::wall_ms();
            if ahead <= 0 {
                return true;
            }
            wait(std::time::Duration::from_millis(ahead.min(50) as u64));
        }
    }

    /// Counts are taken as at least 1 (and agents, queues at most 65,535).
    ///
    /// # Panics
    /// When `events_per_sec` is not a positive finite number.
    pub fn new(config: GeneratorConfig) -> Generator {
        assert!(
            config.events_per_sec.is_finite() && config.events_per_sec > 0.0,
            "events_per_sec must be positive, got {}",
            config.events_per_sec
        );
        let queues = config.queues.clamp(1, u16::MAX as usize);
        let agents = config.agents.clamp(1, u16::MAX as usize);
        let customers = config.customers.clamp(1, u32::MAX as usize / 2) as u32;
        let queue_names = (0..queues)
            .map(|i| match QUEUE_NAMES.get(i) {
                Some(name) => (*name).into(),
                None => format!("queue-{i:03}").into(),
            })
            .collect();
        // Zipf-like: the first queues carry most of the work, as in real centres.
        let mut total = 0.0;
        let queue_weights = (0..queues)
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(0.7);
                total
            })
            .collect();
        let mut generator = Generator {
            rng: Rng::new(config.seed),
            clock_ms: config.start_ms as f64,
            mean_gap_ms: 1000.0 / config.events_per_sec,
            events: 0,
            tickets: 0,
            interactions: 0,
            customers,
            initial_customers: customers,
            churned: 0,
            regulars: (customers / 10).max(1),
            agents,
            queue_names,
            queue_weights,
            pending: BinaryHeap::new(),
            scheduled: 0,
        };
        generator.staff_the_shifts(config.start_ms);
        generator
    }

    fn schedule(&mut self, due_ms: i64, flow: Flow) {
        self.scheduled += 1;
        self.pending.push(Pending {
            due_ms,
            order: self.scheduled,
            flow,
        });
    }

    /// Starts a flow whose first event is emitted now.
    fn start(&mut self, now: i64, out: &mut String) {
        match self.rng.pick(&START_WEIGHTS) {
            0 => {
                self.tickets += 1;
                let queue = self.queue();
                let mut ticket = Ticket {
                    id: self.tickets,
                    customer: self.customer(),
                    queue,
                    agent: self.agent_for(queue),
                    channel: self.rng.pick(&CHANNEL_WEIGHTS) as u8,
                    priority: self.rng.pick(&PRIORITY_WEIGHTS) as u8,
                    status: TicketStatus::Open,
                    step: TicketStep::Created,
                    rounds: 0,
                    replied: false,
                    noted: false,
                    reopened: false,
                    stale: self.rng.chance(0.01),
                };
                self.advance_ticket(&mut ticket, now, out);
            }
            1 => {
                self.interactions += 1;
                let queue = self.queue();
                let mut interaction = Interaction {
                    id: self.interactions,
                    customer: self.customer(),
                    queue,
                    agent: self.agent_for(queue),
                    phone: self.rng.chance(0.7),
                    step: InteractionStep::Queued,
                };
                self.advance_interaction(&mut interaction, now, out);
            }
            2 => self.completed(now, out),
            3 => {
                let customer = self.customer();
                self.survey(
                    Survey {
                        kind: SurveyKind::Nps,
                        ticket: None,
                        customer,
                        agent: None,
                    },
                    now,
                    out,
                );
            }
            4 => self.sign_up(now, out),
            // Only customers the stream saw sign up churn, each once, so that
            // retention and churn (SPEC §7.9) stay meaningful; the oldest go first.
            _ if self.churned < self.customers - self.initial_customers => {
                let customer = self.initial_customers + self.churned;
                self.churned += 1;
                self.begin(out, "customer.churned", now);
                customer_field(out, customer);
            }
            _ => self.sign_up(now, out),
        }
    }

    fn sign_up(&mut self, now: i64, out: &mut String) {
        let customer = self.customers;
        self.customers = self.customers.saturating_add(1);
        self.begin(out, "customer.signed_up", now);
        customer_field(out, customer);
    }

    /// Emits the step a scheduled flow is at.
    fn resume(&mut self, flow: Flow, now: i64, out: &mut String) {
        match flow {
            Flow::Ticket(mut t) => self.advance_ticket(&mut t, now, out),
            Flow::Interaction(mut i) => self.advance_interaction(&mut i, now, out),
            Flow::Survey(s) => self.survey(s, now, out),
            Flow::Agent(mut a) => self.advance_agent(&mut a, now, out),
        }
    }

    /// Writes the envelope; the caller appends the other fields.
    fn begin(&mut self, out: &mut String, kind: &str, now: i64) {
        self.events += 1;
        put!(
            out,
            r#"{{"event_id":"e{}","type":"{kind}","ts":"#,
            self.events
        );
        // Mostly UTC strings; some producers send epoch milliseconds, some
        // their local time with an offset.
        match self.rng.pick(&[85, 10, 5]) {
            0 => write_rfc3339(out, now, 0),
            1 => put!(out, "{now}"),
            _ => write_rfc3339(out, now, 2),
        }
    }

    fn queue(&mut self) -> u16 {
        let total = self.queue_weights.last().copied().unwrap_or(1.0);
        let x = self.rng.unit() * total;
        let index = self.queue_weights.partition_point(|&w| w <= x);
        index.min(self.queue_weights.len() - 1) as u16
    }

    /// One of the agents who serve `queue`.
    fn agent_for(&mut self, queue: u16) -> u16 {
        let queues = self.queue_names.len();
        let per_queue = self.agents.div_ceil(queues);
        let k = self.rng.below(per_queue);
        ((queue as usize + k * queues) % self.agents) as u16
    }

    fn customer(&mut self) -> u32 {
        let pool = if self.rng.chance(0.3) {
            self.regulars
        } else {
            self.customers
        };
        self.rng.below(pool as usize) as u32
    }
}

impl Iterator for Generator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        self.clock_ms += self.rng.exp_f64(self.mean_gap_ms);
        let now = self.clock_ms as i64;
        let mut out = String::with_capacity(256);
        match self.pending.peek() {
            Some(p) if p.due_ms <= now => {
                if let Some(p) = self.pending.pop() {
                    self.resume(p.flow, now, &mut out);
                }
            }
            _ => self.start(now, &mut out),
        }
        out.push('}');
        Some(out)
    }
}

const SECOND: f64 = 1000.0;
const MINUTE: f64 = 60.0 * SECOND;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

const QUEUE_NAMES: [&str; 8] = [
    "general",
    "billing",
    "technical",
    "onboarding",
    "returns",
    "shipping",
    "accounts",
    "enterprise",
];
const CHANNELS: [&str; 6] = ["email", "chat", "phone", "web", "social", "other"];
const CHANNEL_WEIGHTS: [u32; 6] = [34, 24, 14, 16, 8, 4];
const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
const PRIORITY_WEIGHTS: [u32; 4] = [20, 55, 18, 7];
/// New flows: ticket, interaction, completed summary, NPS, sign-up, churn.
const START_WEIGHTS: [u32; 6] = [45, 34, 6, 6, 6, 1];

/// A scheduled step, ordered so that the heap pops the earliest first
/// (and, at equal times, the one scheduled first).
struct Pending {
    due_ms: i64,
    order: u64,
    flow: Flow,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due_ms, other.order).cmp(&(self.due_ms, self.order))
    }
}

#[derive(Clone, Copy)]
enum Flow {
    Ticket(Ticket),
    Interaction(Interaction),
    Survey(Survey),
    Agent(Agent),
}

#[cfg(test)]
mod tests;
