//! A snapshot: the engine's state at one instant, with windows aggregated,
//! live gauges counted and ids turned into label text. It is what the
//! exporter renders; it keeps instants and tallies rather than finished
//! KPIs, so that snapshots of several shards can be combined.

use std::collections::BTreeMap;

use super::cumulative::{ClassicHistogram, InteractionOutcome, TicketCounter};
use super::windows::{Count, OutcomeTally, Tally, Timer};
use super::{Engine, NEVER, NO_AGENT};
use crate::decode::{AgentStatus, Channel, Priority, TicketStatus};

/// Channel, priority and queue name of a ticket series.
pub type TicketLabels = (Channel, Priority, String);
/// Queue name and channel of an interaction series.
pub type InteractionLabels = (String, Channel);

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The instant windows end and ages are measured at.
    pub now_ms: i64,
    /// `window` label of each entry in the per-window vectors below.
    pub window_names: Vec<String>,
    pub centre: Vec<Tally>,
    pub queues: BTreeMap<String, Vec<Tally>>,
    pub agents: BTreeMap<String, Vec<Tally>>,
    /// Outcome tallies of the whole centre, per window, by category.
    pub outcomes: Vec<BTreeMap<String, OutcomeTally>>,
    pub custom_names: Vec<String>,
    /// Customers signed up and not churned now (retention's E).
    pub active_customers: u64,
    pub cumulative: CumulativeSeries,
    pub live: Live,
    pub health: HealthSeries,
}

#[derive(Debug, Clone, Default)]
pub struct CumulativeSeries {
    pub tickets: BTreeMap<(TicketCounter, TicketLabels), u64>,
    pub ticket_timers: BTreeMap<(Timer, TicketLabels), ClassicHistogram>,
    pub interactions: BTreeMap<(InteractionOutcome, InteractionLabels), u64>,
    pub interaction_timers: BTreeMap<(Timer, InteractionLabels), ClassicHistogram>,
    pub agent_resolutions: BTreeMap<String, u64>,
}

/// Live gauges, as instants where they are ages so that shards combine
/// by taking the earliest.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Every queue seen, so that empty queues show zeros rather than vanish.
    pub queues: Vec<String>,
    pub tickets_open: BTreeMap<(String, Priority, TicketStatus), u64>,
    pub oldest_open_ms: BTreeMap<String, i64>,
    pub oldest_unanswered_ms: BTreeMap<String, i64>,
    pub waiting: BTreeMap<String, u64>,
    pub longest_waiting_since_ms: BTreeMap<String, i64>,
    pub agents: BTreeMap<AgentStatus, u64>,
}

#[derive(Debug, Clone, Default)]
pub struct HealthSeries {
    pub accepted_by_type: BTreeMap<String, u64>,
    pub rejected: BTreeMap<String, u64>,
    pub duplicates: u64,
    pub late: u64,
    /// Entries held, by kind of state.
    pub state_entries: BTreeMap<&'static str, u64>,
    /// Events whose label value was folded into `other`, by label.
    pub label_folds: BTreeMap<&'static str, u64>,
    /// Largest accepted event time, if any.
    pub clock_ms: Option<i64>,
}

impl Engine {
    /// The state at `now_ms`: the event-time clock in replay, wall time live.
    pub fn snapshot(&self, now_ms: i64) -> Snapshot {
        let mut window_names = self.settings.window_names.clone();
        if self.settings.today_zone.is_some() {
            window_names.push("today".to_owned());
        }
        let mut centre_windows = self.scopes.centre.aggregate(now_ms);
        self.add_open_agent_time(now_ms, &mut centre_windows);
        let mut outcomes = Vec::with_capacity(centre_windows.len());
        let centre = centre_windows
            .into_iter()
            .map(|(_, mut tally)| {
                let by_category = std::mem::take(&mut tally.outcomes)
                    .into_iter()
                    .map(|(category, counts)| (self.categories.name(category).to_owned(), counts))
                    .collect();
                outcomes.push(by_category);
                tally
            })
            .collect();
        let scope_tallies = |sets: &[Option<super::WindowSet>], labels: &super::LabelSet| {
            sets.iter()
                .enumerate()
                .filter_map(|(id, set)| {
                    let set = set.as_ref()?;
                    let tallies = set.aggregate(now_ms).into_iter().map(|(_, t)| t).collect();
                    Some((labels.name(id as u16).to_owned(), tallies))
                })
                .collect::<BTreeMap<String, Vec<Tally>>>()
        };

        Snapshot {
            now_ms,
            window_names,
            centre,
            queues: scope_tallies(&self.scopes.queues, &self.queues),
            agents: scope_tallies(&self.scopes.agents, &self.agent_labels),
            outcomes,
            custom_names: self.custom_names.clone(),
            active_customers: self.customers.len() as u64,
            cumulative: self.cumulative_series(),
            live: self.live(),
            health: self.health_series(),
        }
    }

    /// Agents still in a status count up to now: busy and online time of
    /// the open spans, clipped to each window.
    fn add_open_agent_time(&self, now_ms: i64, windows: &mut [(i64, Tally)]) {
        for agent in self.agents.values() {
            if agent.status == AgentStatus::Offline {
                continue;
            }
            for (start_ms, tally) in windows.iter_mut() {
                let span = now_ms - agent.since_ms.max(*start_ms);
                if span > 0 {
                    tally.add(Count::OnlineMs, span as u64);
                    if agent.status == AgentStatus::Busy {
                        tally.add(Count::BusyMs, span as u64);
                    }
                }
            }
        }
    }

    fn cumulative_series(&self) -> CumulativeSeries {
        let c = &self.cumulative;
        let queue = |id: u16| self.queues.name(id).to_owned();
        let ticket = |d: &super::cumulative::TicketDims| (d.channel, d.priority, queue(d.queue));
        let interaction = |d: &super::cumulative::InteractionDims| (queue(d.queue), d.channel);
        CumulativeSeries {
            tickets: c
                .tickets
                .iter()
                .map(|((d, k), n)| ((*k, ticket(d)), *n))
                .collect(),
            ticket_timers: c
                .ticket_timers
                .iter()
                .map(|((d, t), h)| ((*t, ticket(d)), h.clone()))
                .collect(),
            interactions: c
                .interactions
                .iter()
                .map(|((d, o), n)| ((*o, interaction(d)), *n))
                .collect(),
            interaction_timers: c
                .interaction_timers
                .iter()
                .map(|((d, t), h)| ((*t, interaction(d)), h.clone()))
                .collect(),
            agent_resolutions: c
                .agent_resolutions
                .iter()
                .filter(|(&a, _)| a != NO_AGENT)
                .map(|(&a, &n)| (self.agent_labels.name(a).to_owned(), n))
                .collect(),
        }
    }

    fn live(&self) -> Live {
        // Counted by queue id, and named once per queue rather than once
        // per ticket: ids and names are one to one.
        let mut open = BTreeMap::new();
        let (mut oldest_open, mut oldest_unanswered) = (BTreeMap::new(), BTreeMap::new());
        let (mut waiting, mut longest_waiting) = (BTreeMap::new(), BTreeMap::new());
        let earliest = |map: &mut BTreeMap<u16, i64>, queue: u16, at: i64| {
            let entry = map.entry(queue).or_insert(at);
            *entry = (*entry).min(at);
        };
        for t in self.tickets.values().filter(|t| !t.is_resolved()) {
            *open.entry((t.queue, t.priority, t.status)).or_default() += 1;
            earliest(&mut oldest_open, t.queue, t.created_ms);
            if t.first_reply_ms == NEVER {
                earliest(&mut oldest_unanswered, t.queue, t.created_ms);
            }
        }
        for i in self
            .interactions
            .values()
            .filter(|i| i.answered_ms == NEVER)
        {
            *waiting.entry(i.queue).or_default() += 1;
            earliest(&mut longest_waiting, i.queue, i.queued_ms);
        }
        let mut agents = BTreeMap::new();
        for agent in self.agents.values() {
            *agents.entry(agent.status).or_default() += 1;
        }
        let queue = |id: u16| self.queues.name(id).to_owned();
        Live {
            queues: self.queues.names().map(|(_, n)| n.to_owned()).collect(),
            tickets_open: open
                .into_iter()
                .map(|((q, priority, status), n)| ((queue(q), priority, status), n))
                .collect(),
            oldest_open_ms: named(&self.queues, oldest_open),
            oldest_unanswered_ms: named(&self.queues, oldest_unanswered),
            waiting: named(&self.queues, waiting),
            longest_waiting_since_ms: named(&self.queues, longest_waiting),
            agents,
        }
    }

    fn health_series(&self) -> HealthSeries {
        let h = &self.health;
        HealthSeries {
            accepted_by_type: h
                .accepted_by_type
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            rejected: h.rejected.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            duplicates: h.duplicates,
            late: h.late,
            state_entries: BTreeMap::from([
                ("tickets", self.tickets.len() as u64),
                ("interactions", self.interactions.len() as u64),
                ("agents", self.agents.len() as u64),
                ("customers", self.customers.len() as u64),
                ("event_ids", self.dedup.len() as u64),
            ]),
            label_folds: BTreeMap::from([
                ("queue", self.queues.folded()),
                ("category", self.categories.folded()),
                ("agent", self.agent_labels.folded()),
            ]),
            clock_ms: self.clock_ms(),
        }
    }
}

/// A map by label id as a map by label name.
fn named<V>(labels: &super::LabelSet, map: BTreeMap<u16, V>) -> BTreeMap<String, V> {
    map.into_iter()
        .map(|(id, v)| (labels.name(id).to_owned(), v))
        .collect()
}
