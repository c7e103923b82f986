//! The engine: applies events to ticket, interaction, agent and customer
//! state, the rolling windows and the cumulative counters. One engine per
//! input partition; it never reads a clock (time is passed in), takes no
//! lock, and its whole state is serialisable for checkpoints.

pub mod cumulative;
pub mod dedup;
pub mod labels;
pub mod sla;
pub mod snapshot;
pub mod windows;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::decode::{
    self, AgentStatus, Channel, Decoder, Event, Kind, Outcome, Priority, Reject, TicketStatus,
    TypeId,
};
use cumulative::{Cumulative, InteractionDims, InteractionOutcome, TicketCounter, TicketDims};
use dedup::Dedup;
use labels::LabelSet;
use sla::clocks::{Sla, Terms, TicketClocks, Verdict};
use sla::policy::Kind as SlaKind;
use windows::{Count, Tally, Timer, WindowSet};

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

pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;
pub type IdSet = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// "Not yet" for the optional instants of ticket and interaction state.
const NEVER: i64 = i64::MIN;
const NO_AGENT: u16 = u16::MAX;
/// How often (event time) released state is swept out.
const SWEEP_EVERY_MS: i64 = 3_600_000;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ticket {
    created_ms: i64,
    first_reply_ms: i64,
    /// Earliest customer reply not yet answered (after the first reply).
    waiting_since_ms: i64,
    resolved_ms: i64,
    customer: u64,
    queue: u16,
    category: u16,
    agent: u16,
    public_replies: u16,
    channel: Channel,
    priority: Priority,
    status: TicketStatus,
    customer_replied_after_reply: bool,
    first_resolution_done: bool,
    /// Boxed, and only with `[sla]`: 8 bytes inline rather than 48, as
    /// most of the ticket map's memory is its slots.
    sla: Option<Box<TicketClocks>>,
}

impl Ticket {
    fn dims(&self) -> TicketDims {
        TicketDims {
            channel: self.channel,
            priority: self.priority,
            queue: self.queue,
        }
    }

    fn is_resolved(&self) -> bool {
        self.resolved_ms != NEVER
    }

    fn sla_terms(&self) -> Terms {
        Terms {
            priority: self.priority,
            status: self.status,
            queue: self.queue,
        }
    }

    /// The SLA kinds it still awaits (SPEC §4.2): no public reply yet, an
    /// unanswered customer reply, no first resolution; none once resolved.
    fn sla_awaits(&self) -> [bool; 3] {
        let open = !self.is_resolved();
        [
            open && self.first_reply_ms == NEVER,
            open && self.waiting_since_ms != NEVER,
            open && !self.first_resolution_done,
        ]
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Interaction {
    queued_ms: i64,
    answered_ms: i64,
    hold_started_ms: i64,
    ended_ms: i64,
    last_ms: i64,
    queue: u16,
    agent: u16,
    channel: Channel,
}

impl Interaction {
    fn dims(&self) -> InteractionDims {
        InteractionDims {
            queue: self.queue,
            channel: self.channel,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Agent {
    status: AgentStatus,
    since_ms: i64,
    label: u16,
}

/// One filter side of a custom ratio, from the config.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CustomSide {
    ratio: usize,
    /// 0 numerator, 1 denominator.
    side: usize,
    sum: Option<String>,
    matching: Vec<(String, String)>,
}

/// The processor's own counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Health {
    pub accepted_by_type: rustc_hash::FxHashMap<String, u64>,
    pub rejected: HashMap<String, u64>,
    pub duplicates: u64,
    pub late: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Settings {
    lateness_ms: i64,
    resolved_retention_ms: i64,
    interaction_timeout_ms: i64,
    csat_satisfied_min: i64,
    service_level_ms: i64,
    windows_by_queue: bool,
    window_lengths_ms: Vec<i64>,
    window_names: Vec<String>,
    #[serde(skip)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Engine {
    settings: Settings,
    #[serde(skip)]
    decoder: Decoder,
    custom_by_type: HashMap<String, Vec<CustomSide>>,
    custom_names: Vec<String>,
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
    cumulative: Cumulative,
    health: Health,
    /// Rebuilt from the config, never restored.
    #[serde(skip)]
    sla: Sla,
    /// Whether the event being applied lands in the windows (not late).
    #[serde(skip)]
    in_windows: bool,
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
                csat_satisfied_min: e.csat_satisfied_min,
                service_level_ms: ms(e.service_level_threshold),
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
            cumulative: Cumulative::default(),
            health: Health::default(),
            sla: Sla::new(config.sla_rules.clone()),
            in_windows: true,
        }
    }

    /// The event-time clock: the largest accepted `ts`, if any.
    pub fn clock_ms(&self) -> Option<i64> {
        (self.clock_ms != NEVER).then_some(self.clock_ms)
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Applies one input line. `wall_ms` is the wall clock, used only for
    /// the `future_ts` check. A rejected line changes nothing but its counter.
    pub fn apply(&mut self, line: &[u8], wall_ms: i64) -> Result<Applied, Reject> {
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
            if self.dedup.is_duplicate(decode::id_hash(id), self.clock_ms) {
                return Ok(Applied::Duplicate);
            }
        }
        let (type_id, event) = self.decoder.validate(&mut raw, wall_ms)?;
        let late = self.clock_ms != NEVER
            && self.clock_ms.saturating_sub(event.ts) > self.settings.lateness_ms;
        self.in_windows = !late;
        let (id, ts) = (event.id, event.ts);
        self.apply_event(event)?;
        self.apply_custom(type_id, ts, line);

        let type_name = self.decoder.type_name(type_id);
        match self.health.accepted_by_type.get_mut(type_name) {
            Some(n) => *n += 1,
            None => {
                self.health.accepted_by_type.insert(type_name.to_owned(), 1);
            }
        }
        self.clock_ms = self.clock_ms.max(ts);
        // Every deadline before the clock has fired (SPEC §4.4); the
        // event's own ticket caught up before its event applied.
        self.advance(self.clock_ms);
        self.dedup.remember(id, ts, self.clock_ms);
        if self.clock_ms >= self.next_sweep_ms {
            self.sweep();
            self.next_sweep_ms = self.clock_ms.saturating_add(SWEEP_EVERY_MS);
        }
        Ok(Applied::Accepted { late, ts_ms: ts })
    }

    /// Releases resolved tickets past their retention and idle interactions.
    fn sweep(&mut self) {
        let resolved_before = self
            .clock_ms
            .saturating_sub(self.settings.resolved_retention_ms);
        let sla = &mut self.sla;
        self.tickets.retain(|_, t| {
            let keep = !t.is_resolved() || t.resolved_ms >= resolved_before;
            let terms = t.sla_terms();
            if let (false, Some(clocks)) = (keep, t.sla.as_deref_mut()) {
                sla.drop_all(clocks, &terms);
            }
            keep
        });
        let idle_before = self
            .clock_ms
            .saturating_sub(self.settings.interaction_timeout_ms);
        self.interactions.retain(|_, i| i.last_ms >= idle_before);
    }

    fn apply_event(&mut self, event: Event<'_>) -> Result<(), Reject> {
        let ts = event.ts;
        if let Some(ticket) = open_ticket_of(&event.kind) {
            self.sla_catch_up(ticket, ts);
        }
        match event.kind {
            Kind::TicketCreated {
                ticket,
                channel,
                priority,
                queue,
                category,
                customer,
            } => {
                if self.tickets.contains_key(&ticket) {
                    return Err(Reject::DuplicateTicket);
                }
                let mut t = Ticket {
                    created_ms: ts,
                    first_reply_ms: NEVER,
                    waiting_since_ms: NEVER,
                    resolved_ms: NEVER,
                    customer: customer.unwrap_or(0),
                    queue: self.queues.intern_or_unknown(queue.as_deref()),
                    category: self.categories.intern_or_unknown(category.as_deref()),
                    agent: NO_AGENT,
                    public_replies: 0,
                    channel,
                    priority,
                    status: TicketStatus::Open,
                    customer_replied_after_reply: false,
                    first_resolution_done: false,
                    sla: None,
                };
                if self.settings.sla_on {
                    let place = self.queues.name(t.queue);
                    let clocks = self.sla.create(ticket, place, channel, &t.sla_terms(), ts);
                    t.sla = Some(Box::new(clocks));
                }
                self.cumulative
                    .count_ticket(t.dims(), TicketCounter::Created);
                self.record(ts, Some(t.queue), None, |tally| {
                    tally.add(Count::Created, 1);
                    if let Some(c) = customer {
                        tally.customers.push(c);
                    }
                });
                self.tickets.insert(ticket, t);
            }
            Kind::TicketAssigned {
                ticket,
                agent,
                queue,
            } => {
                if !self.tickets.contains_key(&ticket) {
                    return Err(Reject::UnknownTicket);
                }
                let agent = self.agent_labels.intern(&agent);
                let queue = queue.map(|q| self.queues.intern(&q));
                let t = self.tickets.get_mut(&ticket).ok_or(Reject::UnknownTicket)?;
                let before = t.sla_terms();
                t.agent = agent;
                if let Some(q) = queue {
                    t.queue = q;
                }
                if before.queue != t.queue {
                    self.sla_change(ticket, before, true, ts);
                }
            }
            Kind::AgentReplied {
                ticket,
                agent,
                public,
            } => {
                let t = self.tickets.get_mut(&ticket).ok_or(Reject::UnknownTicket)?;
                if !public {
                    return Ok(());
                }
                t.public_replies = t.public_replies.saturating_add(1);
                let (timer, started) = if t.first_reply_ms == NEVER {
                    t.first_reply_ms = ts;
                    (Timer::FirstResponse, t.created_ms)
                } else if t.waiting_since_ms != NEVER {
                    let started = std::mem::replace(&mut t.waiting_since_ms, NEVER);
                    (Timer::NextReply, started)
                } else {
                    (Timer::FirstResponse, NEVER)
                };
                let (dims, queue, needs_agent) = (t.dims(), t.queue, t.agent == NO_AGENT);
                if needs_agent {
                    let id = self.agent_labels.intern(&agent);
                    if let Some(t) = self.tickets.get_mut(&ticket) {
                        t.agent = id;
                    }
                }
                if started != NEVER {
                    self.observe_ticket(ts, dims, queue, timer, ts - started);
                    let kind = match timer {
                        Timer::NextReply => SlaKind::NextReply,
                        _ => SlaKind::FirstResponse,
                    };
                    self.sla_op(ticket, |sla, c, terms| {
                        sla.stop(ticket, c, terms, kind, true, ts)
                    });
                }
            }
            Kind::CustomerReplied { ticket } => {
                let t = self.tickets.get_mut(&ticket).ok_or(Reject::UnknownTicket)?;
                // Replies before the first agent reply start no clock (§7.6).
                if t.first_reply_ms != NEVER && ts > t.first_reply_ms {
                    t.customer_replied_after_reply = true;
                    let starts_clock = t.waiting_since_ms == NEVER;
                    if starts_clock || ts < t.waiting_since_ms {
                        t.waiting_since_ms = ts;
                    }
                    if starts_clock {
                        self.sla_op(ticket, |sla, c, terms| {
                            sla.start(ticket, c, terms, SlaKind::NextReply, ts)
                        });
                    }
                }
            }
            Kind::StatusChanged { ticket, status } => {
                let t = self.tickets.get_mut(&ticket).ok_or(Reject::UnknownTicket)?;
                let before = t.sla_terms();
                t.status = status;
                self.sla_change(ticket, before, false, ts);
            }
            Kind::TicketUpdated {
                ticket,
                priority,
                queue,
                category,
            } => {
                if !self.tickets.contains_key(&ticket) {
                    return Err(Reject::UnknownTicket);
                }
                let queue = queue.map(|q| self.queues.intern(&q));
                let category = category.map(|c| self.categories.intern(&c));
                if let Some(t) = self.tickets.get_mut(&ticket) {
                    let before = t.sla_terms();
                    t.priority = priority.unwrap_or(t.priority);
                    t.queue = queue.unwrap_or(t.queue);
                    t.category = category.unwrap_or(t.category);
                    if (before.priority, before.queue) != (t.priority, t.queue) {
                        self.sla_change(ticket, before, true, ts);
                    }
                }
            }
            Kind::Resolved {
                ticket,
                agent,
                outcome,
            } => {
                if !self.tickets.contains_key(&ticket) {
                    return Err(Reject::UnknownTicket);
                }
                let agent = agent.map(|a| self.agent_labels.intern(&a));
                let Some(t) = self.tickets.get_mut(&ticket) else {
                    return Err(Reject::UnknownTicket);
                };
                // A second resolution without a reopen changes nothing.
                if t.is_resolved() {
                    return Ok(());
                }
                t.resolved_ms = ts;
                if let Some(a) = agent {
                    t.agent = a;
                }
                let first = !std::mem::replace(&mut t.first_resolution_done, true);
                let fcr = first && t.public_replies == 1 && !t.customer_replied_after_reply;
                let (dims, queue, category, agent, created) =
                    (t.dims(), t.queue, t.category, t.agent, t.created_ms);
                self.cumulative.count_ticket(dims, TicketCounter::Resolved);
                // A resolution ends the reply clocks without a verdict and
                // judges the resolution clock (SPEC §4.2).
                self.sla_op(ticket, |sla, c, terms| {
                    sla.stop(ticket, c, terms, SlaKind::FirstResponse, false, ts);
                    sla.stop(ticket, c, terms, SlaKind::NextReply, false, ts);
                    sla.stop(ticket, c, terms, SlaKind::Resolution, true, ts);
                });
                if agent != NO_AGENT {
                    *self.cumulative.agent_resolutions.entry(agent).or_default() += 1;
                }
                self.record(ts, Some(queue), None, |tally| tally.add(Count::Resolved, 1));
                if first {
                    if fcr {
                        self.cumulative
                            .count_ticket(dims, TicketCounter::FirstContactResolutions);
                    }
                    self.record(ts, Some(queue), None, |tally| {
                        tally.add(Count::FirstResolutions, 1);
                        tally.add(Count::FirstContactResolutions, fcr as u64);
                    });
                    self.observe_ticket(ts, dims, queue, Timer::Resolution, ts - created);
                }
                if let Some(outcome) = outcome {
                    self.record(ts, None, None, |tally| {
                        tally.outcome(category, outcome == Outcome::Success)
                    });
                }
            }
            Kind::Reopened { ticket } => {
                let t = self.tickets.get_mut(&ticket).ok_or(Reject::UnknownTicket)?;
                if !t.is_resolved() {
                    return Ok(());
                }
                let before = t.sla_terms();
                t.resolved_ms = NEVER;
                t.status = TicketStatus::Open;
                let (dims, queue) = (t.dims(), t.queue);
                self.sla_change(ticket, before, false, ts);
                self.cumulative.count_ticket(dims, TicketCounter::Reopened);
                self.record(ts, Some(queue), None, |tally| tally.add(Count::Reopened, 1));
            }
            Kind::Closed { ticket } => {
                let mut t = self.tickets.remove(&ticket).ok_or(Reject::UnknownTicket)?;
                let terms = t.sla_terms();
                if let Some(clocks) = t.sla.as_deref_mut() {
                    self.sla.drop_all(clocks, &terms);
                }
            }
            Kind::Csat {
                score,
                ticket,
                agent,
                ..
            } => {
                let (dims, ticket_agent) = self.survey_dims(ticket);
                let agent = agent.map(|a| self.agent_labels.intern(&a)).or(ticket_agent);
                let satisfied = score >= self.settings.csat_satisfied_min;
                let counter = if satisfied {
                    TicketCounter::CsatSatisfied
                } else {
                    TicketCounter::CsatUnsatisfied
                };
                self.cumulative.count_ticket(dims, counter);
                self.record(ts, Some(dims.queue), agent, |tally| {
                    tally.add(Count::CsatResponses, 1);
                    tally.add(Count::CsatSatisfied, satisfied as u64);
                });
            }
            Kind::Nps { score, .. } => {
                let (dims, _) = self.survey_dims(None);
                let (counter, count) = match score {
                    9.. => (TicketCounter::NpsPromoter, Count::NpsPromoters),
                    7..=8 => (TicketCounter::NpsPassive, Count::NpsPassives),
                    _ => (TicketCounter::NpsDetractor, Count::NpsDetractors),
                };
                self.cumulative.count_ticket(dims, counter);
                self.record(ts, Some(dims.queue), None, |tally| tally.add(count, 1));
            }
            Kind::Ces { score, ticket, .. } => {
                let (dims, _) = self.survey_dims(ticket);
                self.record(ts, Some(dims.queue), None, |tally| {
                    tally.add(Count::CesSum, score as u64);
                    tally.add(Count::CesResponses, 1);
                });
            }
            Kind::Iqs {
                score,
                ticket,
                agent,
            } => {
                let (dims, ticket_agent) = self.survey_dims(ticket);
                let agent = agent.map(|a| self.agent_labels.intern(&a)).or(ticket_agent);
                self.record(ts, Some(dims.queue), agent, |tally| {
                    tally.add(Count::IqsSum, score as u64);
                    tally.add(Count::IqsReviews, 1);
                });
            }
            Kind::Queued {
                interaction,
                queue,
                channel,
                ..
            } => {
                if !self.interactions.contains_key(&interaction) {
                    let queue = self.queues.intern(&queue);
                    self.interactions.insert(
                        interaction,
                        Interaction {
                            queued_ms: ts,
                            answered_ms: NEVER,
                            hold_started_ms: NEVER,
                            ended_ms: NEVER,
                            last_ms: ts,
                            queue,
                            agent: NO_AGENT,
                            channel,
                        },
                    );
                }
            }
            Kind::Answered { interaction, agent } => {
                if !self.interactions.contains_key(&interaction) {
                    return Err(Reject::UnknownInteraction);
                }
                let agent = self.agent_labels.intern(&agent);
                let Some(i) = self.interactions.get_mut(&interaction) else {
                    return Err(Reject::UnknownInteraction);
                };
                i.last_ms = i.last_ms.max(ts);
                if i.answered_ms != NEVER {
                    return Ok(());
                }
                i.answered_ms = ts;
                i.agent = agent;
                let (dims, wait) = (i.dims(), ts - i.queued_ms);
                self.count_answered(ts, dims, Some(agent), wait);
            }
            Kind::HoldStarted { interaction } => {
                let i = self.touch(interaction, ts)?;
                if i.answered_ms != NEVER && i.hold_started_ms == NEVER && i.ended_ms == NEVER {
                    i.hold_started_ms = ts;
                }
            }
            Kind::HoldEnded { interaction } => {
                let i = self.touch(interaction, ts)?;
                i.hold_started_ms = NEVER;
            }
            Kind::InteractionEnded { interaction } => {
                let i = self.touch(interaction, ts)?;
                if i.answered_ms != NEVER && i.ended_ms == NEVER {
                    i.ended_ms = ts;
                }
            }
            Kind::WrapupEnded { interaction } => {
                let i = self.touch(interaction, ts)?;
                if i.answered_ms == NEVER {
                    return Ok(());
                }
                // talk (without hold) + hold + after-call work = wrap-up end − answer.
                let (dims, agent, handle) = (i.dims(), i.agent, ts - i.answered_ms);
                self.interactions.remove(&interaction);
                self.observe_handle(ts, dims, Some(agent), handle);
            }
            Kind::Abandoned { interaction } => {
                let i = self.touch(interaction, ts)?;
                if i.answered_ms != NEVER {
                    return Ok(());
                }
                let (dims, wait) = (i.dims(), ts - i.queued_ms);
                self.interactions.remove(&interaction);
                self.cumulative
                    .count_interaction(dims, InteractionOutcome::Abandoned);
                let late = wait > self.settings.service_level_ms;
                self.record(ts, Some(dims.queue), None, |tally| {
                    tally.add(Count::Abandoned, 1);
                    tally.add(Count::AbandonedLate, late as u64);
                });
            }
            Kind::Blocked { interaction } => {
                let dims = self.touch(interaction, ts)?.dims();
                self.interactions.remove(&interaction);
                self.cumulative
                    .count_interaction(dims, InteractionOutcome::Blocked);
                self.record(ts, Some(dims.queue), None, |tally| {
                    tally.add(Count::Blocked, 1)
                });
            }
            Kind::Completed {
                queue,
                channel,
                agent,
                wait_ms,
                talk_ms,
                hold_ms,
                acw_ms,
            } => {
                let dims = InteractionDims {
                    queue: self.queues.intern_or_unknown(queue.as_deref()),
                    channel,
                };
                let agent = agent.map(|a| self.agent_labels.intern(&a));
                self.count_answered(ts, dims, agent, wait_ms);
                let handle = talk_ms.saturating_add(hold_ms).saturating_add(acw_ms);
                self.observe_handle(ts, dims, agent, handle);
            }
            Kind::AgentStatusChanged { agent, status } => {
                let id = decode::id_hash(&agent);
                let label = self.agent_labels.intern(&agent);
                let previous = self.agents.get(&id).map(|a| (a.status, a.since_ms));
                match previous {
                    // Older news than what we hold changes nothing.
                    Some((_, since)) if ts < since => return Ok(()),
                    Some((was, since)) => self.spread_agent_time(was, since, ts),
                    None => {}
                }
                self.agents.insert(
                    id,
                    Agent {
                        status,
                        since_ms: ts,
                        label,
                    },
                );
            }
            Kind::SignedUp { customer } => {
                if self.customers.insert(customer) {
                    self.record(ts, None, None, |tally| tally.add(Count::SignUps, 1));
                }
            }
            Kind::Churned { customer } => {
                self.customers.remove(&customer);
                self.record(ts, None, None, |tally| tally.add(Count::Churns, 1));
            }
            Kind::Custom => {}
        }
        Ok(())
    }

    /// Fires every SLA deadline before `now_ms` (SPEC §4.4): after each
    /// accepted event with the clock, and at the export instant.
    pub fn advance(&mut self, now_ms: i64) {
        if !self.settings.sla_on {
            return;
        }
        while let Some((at, ticket)) = self.sla.pop_due(now_ms) {
            if let Some(t) = self.tickets.get_mut(&ticket) {
                let terms = t.sla_terms();
                if let Some(clocks) = t.sla.as_deref_mut() {
                    self.sla.fire(ticket, clocks, &terms, at);
                }
            }
            self.count_sla(ticket);
        }
    }

    /// What of `ticket` fell due before its event at `ts` applies, so that
    /// its clocks are judged in the order of its events.
    fn sla_catch_up(&mut self, ticket: u64, ts: i64) {
        self.sla_op(ticket, |sla, c, terms| sla.catch_up(ticket, c, terms, ts));
    }

    /// Runs `op` on a ticket's clocks under its terms now, and counts what
    /// it decided.
    fn sla_op(&mut self, ticket: u64, op: impl FnOnce(&mut Sla, &mut TicketClocks, &Terms)) {
        if !self.settings.sla_on {
            return;
        }
        if let Some(t) = self.tickets.get_mut(&ticket) {
            let terms = t.sla_terms();
            if let Some(clocks) = t.sla.as_deref_mut() {
                op(&mut self.sla, clocks, &terms);
            }
        }
        self.count_sla(ticket);
    }

    /// The ticket's status, priority or queue changed from `before`; with
    /// `reselect` its policy is chosen again (SPEC §4.2).
    fn sla_change(&mut self, ticket: u64, before: Terms, reselect: bool, ts: i64) {
        if !self.settings.sla_on {
            return;
        }
        if let Some(t) = self.tickets.get_mut(&ticket) {
            let place = reselect.then(|| (self.queues.name(t.queue), t.channel));
            let (after, awaits) = (t.sla_terms(), t.sla_awaits());
            if let Some(clocks) = t.sla.as_deref_mut() {
                self.sla
                    .change(ticket, clocks, &before, &after, place, awaits, ts);
            }
        }
        self.count_sla(ticket);
    }

    /// Counts the verdicts of the last SLA calls under the ticket's labels.
    fn count_sla(&mut self, ticket: u64) {
        let Some(dims) = self.tickets.get(&ticket).map(Ticket::dims) else {
            self.sla.verdicts.clear();
            return;
        };
        for verdict in self.sla.verdicts.drain(..) {
            let counter = match verdict {
                Verdict::Met { kind, .. } => TicketCounter::SlaMet(kind),
                Verdict::Breached { kind, .. } => TicketCounter::SlaBreached(kind),
                Verdict::StoppedLate { .. } => continue,
            };
            self.cumulative.count_ticket(dims, counter);
        }
    }

    /// Channel, priority, queue and agent of the ticket a survey names;
    /// `unknown` dimensions when it names none we hold (§7.12).
    fn survey_dims(&mut self, ticket: Option<u64>) -> (TicketDims, Option<u16>) {
        match ticket.and_then(|id| self.tickets.get(&id)) {
            Some(t) => (t.dims(), (t.agent != NO_AGENT).then_some(t.agent)),
            None => (
                TicketDims {
                    channel: Channel::Unknown,
                    priority: Priority::Normal,
                    queue: self.queues.intern_or_unknown(None),
                },
                None,
            ),
        }
    }

    fn touch(&mut self, interaction: u64, ts: i64) -> Result<&mut Interaction, Reject> {
        let i = self
            .interactions
            .get_mut(&interaction)
            .ok_or(Reject::UnknownInteraction)?;
        i.last_ms = i.last_ms.max(ts);
        Ok(i)
    }

    fn count_answered(&mut self, ts: i64, dims: InteractionDims, agent: Option<u16>, wait_ms: i64) {
        let wait = wait_ms.max(0) as u64;
        let in_time = wait_ms <= self.settings.service_level_ms;
        self.cumulative
            .count_interaction(dims, InteractionOutcome::Answered);
        self.cumulative
            .observe_interaction(dims, Timer::AnswerWait, wait);
        self.record(ts, Some(dims.queue), agent, |tally| {
            tally.add(Count::Answered, 1);
            tally.add(Count::AnsweredInTime, in_time as u64);
            tally.observe(Timer::AnswerWait, wait);
        });
    }

    fn observe_handle(
        &mut self,
        ts: i64,
        dims: InteractionDims,
        agent: Option<u16>,
        handle_ms: i64,
    ) {
        let handle = handle_ms.max(0) as u64;
        self.cumulative
            .observe_interaction(dims, Timer::Handle, handle);
        self.record(ts, Some(dims.queue), agent, |tally| {
            tally.observe(Timer::Handle, handle)
        });
    }

    fn observe_ticket(&mut self, ts: i64, dims: TicketDims, queue: u16, timer: Timer, ms: i64) {
        let ms = ms.max(0) as u64;
        self.cumulative.observe_ticket(dims, timer, ms);
        self.record(ts, Some(queue), None, |tally| tally.observe(timer, ms));
    }

    /// Adds a finished span of agent status to the utilization counters.
    fn spread_agent_time(&mut self, status: AgentStatus, from_ms: i64, to_ms: i64) {
        if !self.in_windows || status == AgentStatus::Offline {
            return;
        }
        let busy = status == AgentStatus::Busy;
        self.scopes.centre.spread(from_ms, to_ms, |tally, ms| {
            tally.add(Count::OnlineMs, ms);
            if busy {
                tally.add(Count::BusyMs, ms);
            }
        });
    }

    /// Records into the windows of the whole centre, the queue (when
    /// windowed by queue) and the agent, unless the event is late.
    fn record(
        &mut self,
        ts: i64,
        queue: Option<u16>,
        agent: Option<u16>,
        mut f: impl FnMut(&mut Tally),
    ) {
        if !self.in_windows {
            return;
        }
        let (lengths, zone) = (&self.settings.window_lengths_ms, self.settings.today_zone);
        self.scopes.centre.record(ts, &mut f);
        let queue = queue.filter(|_| self.settings.windows_by_queue);
        for (scopes, id) in [
            (&mut self.scopes.queues, queue),
            (&mut self.scopes.agents, agent),
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

    /// Feeds the custom ratios whose filters match this accepted event.
    fn apply_custom(&mut self, type_id: TypeId, ts: i64, line: &str) {
        if self.custom_by_type.is_empty() {
            return;
        }
        let type_name = self.decoder.type_name(type_id);
        let Some(sides) = self.custom_by_type.get(type_name) else {
            return;
        };
        if !self.in_windows {
            return;
        }
        let needs_fields = sides
            .iter()
            .any(|s| s.sum.is_some() || !s.matching.is_empty());
        // Only custom filters that read fields pay for a second, generic parse.
        let fields: serde_json::Map<String, serde_json::Value> = if needs_fields {
            serde_json::from_str(line).unwrap_or_default()
        } else {
            serde_json::Map::new()
        };
        let mut hits: Vec<(usize, usize, f64)> = Vec::with_capacity(sides.len());
        for side in sides {
            let matches = side
                .matching
                .iter()
                .all(|(k, v)| fields.get(k).and_then(|f| f.as_str()) == Some(v.as_str()));
            if !matches {
                continue;
            }
            let amount = match &side.sum {
                None => 1.0,
                Some(field) => match fields.get(field).and_then(|f| f.as_f64()) {
                    Some(v) => v,
                    None => continue,
                },
            };
            hits.push((side.ratio, side.side, amount));
        }
        self.record(ts, None, None, |tally| {
            for &(ratio, side, amount) in &hits {
                tally.custom(ratio, side, amount);
            }
        });
    }
}

/// The ticket an event changes, for the ticket events that need it open.
fn open_ticket_of(kind: &Kind) -> Option<u64> {
    match *kind {
        Kind::TicketAssigned { ticket, .. }
        | Kind::AgentReplied { ticket, .. }
        | Kind::CustomerReplied { ticket }
        | Kind::StatusChanged { ticket, .. }
        | Kind::TicketUpdated { ticket, .. }
        | Kind::Resolved { ticket, .. }
        | Kind::Reopened { ticket }
        | Kind::Closed { ticket } => Some(ticket),
        _ => None,
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
        assert!(e.tickets.is_empty());
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
            e.tickets.is_empty(),
            "resolved a week ago, never closed: released"
        );
    }

    #[test]
    fn ticket_state_stays_small() {
        // SLA clocks (40 bytes, SPEC §4.5 allows about 100) are boxed
        // beside it.
        assert_eq!(std::mem::size_of::<TicketClocks>(), 40);
        assert!(
            std::mem::size_of::<Ticket>() <= 80,
            "{}",
            std::mem::size_of::<Ticket>()
        );
    }
}
