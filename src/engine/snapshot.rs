//! A snapshot: the engine's state at one instant, with windows aggregated,
//! live gauges counted and ids turned into label text. It is what the
//! exporter renders; it keeps instants and tallies rather than finished
//! KPIs, so that snapshots of several shards can be combined.

use std::collections::BTreeMap;

use super::cumulative::{ClassicHistogram, InteractionOutcome, TicketCounter};
use super::sla::policy::Kind as SlaKind;
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
    pub business_timers: BTreeMap<(SlaKind, TicketLabels), ClassicHistogram>,
    /// Ticket id and deadline of the latest breach of each breach series.
    pub breach_exemplars: BTreeMap<(SlaKind, TicketLabels), (String, i64)>,
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
    /// SLA kinds some policy has a target for: their gauges show zeros.
    pub sla_kinds: Vec<SlaKind>,
    /// Open tickets with a breached running clock, and at risk, by kind
    /// and queue name.
    pub sla_breached: BTreeMap<(SlaKind, String), u64>,
    pub sla_at_risk: BTreeMap<(SlaKind, String), u64>,
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
        debug_assert!(self.sla_steps.is_empty(), "read within a batch");
        let mut window_names = self.settings.window_names.clone();
        if self.settings.today_zone.is_some() {
            window_names.push("today".to_owned());
        }
        let mut centre_windows = self.state.scopes.centre.aggregate(now_ms);
        self.add_open_agent_time(now_ms, &mut centre_windows);
        let mut outcomes = Vec::with_capacity(centre_windows.len());
        let centre = centre_windows
            .into_iter()
            .map(|(_, mut tally)| {
                let by_category = std::mem::take(&mut tally.outcomes)
                    .into_iter()
                    .map(|(category, counts)| {
                        (self.state.categories.name(category).to_owned(), counts)
                    })
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
            queues: scope_tallies(&self.state.scopes.queues, &self.state.queues),
            agents: scope_tallies(&self.state.scopes.agents, &self.state.agent_labels),
            outcomes,
            custom_names: self.custom_names.clone(),
            active_customers: self.state.customers.len() as u64,
            cumulative: self.cumulative_series(),
            live: self.live(),
            health: self.health_series(),
        }
    }

    /// Agents still in a status count up to now: busy and online time of
    /// the open spans, clipped to each window.
    fn add_open_agent_time(&self, now_ms: i64, windows: &mut [(i64, Tally)]) {
        for agent in self.state.agents.values() {
            if agent.status == AgentStatus::Offline {
                continue;
            }
            for (start_ms, tally) in windows.iter_mut() {
                let span = now_ms.saturating_sub(agent.since_ms.max(*start_ms));
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
        let queue = |id: u16| self.state.queues.name(id).to_owned();
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
            business_timers: c
                .business_timers
                .iter()
                .map(|((d, k), h)| ((*k, ticket(d)), h.clone()))
                .collect(),
            breach_exemplars: c
                .breach_exemplars
                .iter()
                .map(|((d, k), (id, at))| ((*k, ticket(d)), (id.to_string(), *at)))
                .collect(),
            agent_resolutions: c
                .agent_resolutions
                .iter()
                .filter(|(&a, _)| a != NO_AGENT)
                .map(|(&a, &n)| (self.state.agent_labels.name(a).to_owned(), n))
                .collect(),
        }
    }

    fn live(&self) -> Live {
        // Counted by queue id, and named once per queue rather than once
        // per ticket: ids and names are one to one.
        let mut open = BTreeMap::new();
        let (mut oldest_open, mut oldest_unanswered) = (BTreeMap::new(), BTreeMap::new());
        let (mut waiting, mut longest_waiting) = (BTreeMap::new(), BTreeMap::new());
        for t in self.state.tickets.values().filter(|t| !t.is_resolved()) {
            *open.entry((t.queue, t.priority, t.status)).or_default() += 1;
            keep_earliest(&mut oldest_open, t.queue, t.created_ms);
            if t.first_reply_ms == NEVER {
                keep_earliest(&mut oldest_unanswered, t.queue, t.created_ms);
            }
        }
        for i in self
            .state
            .interactions
            .values()
            .filter(|i| i.answered_ms == NEVER)
        {
            *waiting.entry(i.queue).or_default() += 1;
            keep_earliest(&mut longest_waiting, i.queue, i.queued_ms);
        }
        let mut agents = BTreeMap::new();
        for agent in self.state.agents.values() {
            *agents.entry(agent.status).or_default() += 1;
        }
        let queue = |id: u16| self.state.queues.name(id).to_owned();
        // Kept up to date by the clocks as they change: no walk here.
        let by_kind = |gauge: &[[u64; 3]]| {
            let mut named = BTreeMap::new();
            for (id, counts) in gauge.iter().enumerate() {
                for kind in SlaKind::ALL {
                    if counts[kind as usize] > 0 {
                        named.insert((kind, queue(id as u16)), counts[kind as usize]);
                    }
                }
            }
            named
        };
        Live {
            sla_kinds: self.state.sla.rules().kinds_in_use().collect(),
            sla_breached: by_kind(self.state.sla.breached_gauge()),
            sla_at_risk: by_kind(self.state.sla.at_risk_gauge()),
            queues: self
                .state
                .queues
                .names()
                .map(|(_, n)| n.to_owned())
                .collect(),
            tickets_open: open
                .into_iter()
                .map(|((q, priority, status), n)| ((queue(q), priority, status), n))
                .collect(),
            oldest_open_ms: named(&self.state.queues, oldest_open),
            oldest_unanswered_ms: named(&self.state.queues, oldest_unanswered),
            waiting: named(&self.state.queues, waiting),
            longest_waiting_since_ms: named(&self.state.queues, longest_waiting),
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
                ("tickets", self.state.tickets.len() as u64),
                ("interactions", self.state.interactions.len() as u64),
                ("agents", self.state.agents.len() as u64),
                ("customers", self.state.customers.len() as u64),
                ("event_ids", self.state.dedup.len() as u64),
            ]),
            label_folds: BTreeMap::from([
                ("queue", self.state.queues.folded()),
                ("category", self.state.categories.folded()),
                ("agent", self.state.agent_labels.folded()),
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

impl Snapshot {
    /// Adds the snapshot of another shard, taken at the same instant with
    /// the same config: counts and tallies add up, ages keep the earliest
    /// instant, the clock the latest. Shards of one consumer group hold
    /// disjoint keys, so the sum is what one engine fed everything shows.
    /// What stays counted here when a partition moves to another
    /// instance: the cumulative counters and histograms and the
    /// processor's own counts, so that counters never go down. Windows,
    /// live gauges and state sizes go with the partition's state.
    pub fn counters_only(mut self) -> Snapshot {
        self.centre.clear();
        self.queues.clear();
        self.agents.clear();
        self.outcomes.clear();
        self.active_customers = 0;
        self.live = Live::default();
        self.health.state_entries.clear();
        self.health.clock_ms = None;
        self
    }

    pub fn merge(&mut self, other: &Snapshot) {
        merge_windows(&mut self.centre, &other.centre);
        for (scopes, theirs) in [
            (&mut self.queues, &other.queues),
            (&mut self.agents, &other.agents),
        ] {
            for (name, tallies) in theirs {
                merge_windows(scopes.entry(name.clone()).or_default(), tallies);
            }
        }
        if self.outcomes.len() < other.outcomes.len() {
            self.outcomes
                .resize_with(other.outcomes.len(), BTreeMap::new);
        }
        for (mine, theirs) in self.outcomes.iter_mut().zip(&other.outcomes) {
            for (category, o) in theirs {
                mine.entry(category.clone()).or_default().add(*o);
            }
        }
        self.active_customers += other.active_customers;

        let (c, theirs) = (&mut self.cumulative, &other.cumulative);
        add_counts(&mut c.tickets, &theirs.tickets);
        add_counts(&mut c.interactions, &theirs.interactions);
        add_counts(&mut c.agent_resolutions, &theirs.agent_resolutions);
        merge_histograms(&mut c.ticket_timers, &theirs.ticket_timers);
        merge_histograms(&mut c.interaction_timers, &theirs.interaction_timers);
        merge_histograms(&mut c.business_timers, &theirs.business_timers);
        for (series, (id, at)) in &theirs.breach_exemplars {
            match c.breach_exemplars.get_mut(series) {
                Some(mine) if mine.1 >= *at => {}
                Some(mine) => *mine = (id.clone(), *at),
                None => {
                    c.breach_exemplars.insert(series.clone(), (id.clone(), *at));
                }
            }
        }

        let (l, theirs) = (&mut self.live, &other.live);
        for queue in &theirs.queues {
            if !l.queues.contains(queue) {
                l.queues.push(queue.clone());
            }
        }
        add_counts(&mut l.tickets_open, &theirs.tickets_open);
        add_counts(&mut l.waiting, &theirs.waiting);
        add_counts(&mut l.agents, &theirs.agents);
        add_counts(&mut l.sla_breached, &theirs.sla_breached);
        add_counts(&mut l.sla_at_risk, &theirs.sla_at_risk);
        for kind in &theirs.sla_kinds {
            if !l.sla_kinds.contains(kind) {
                l.sla_kinds.push(*kind);
            }
        }
        keep_all_earliest(&mut l.oldest_open_ms, &theirs.oldest_open_ms);
        keep_all_earliest(&mut l.oldest_unanswered_ms, &theirs.oldest_unanswered_ms);
        keep_all_earliest(
            &mut l.longest_waiting_since_ms,
            &theirs.longest_waiting_since_ms,
        );

        let (h, theirs) = (&mut self.health, &other.health);
        add_counts(&mut h.accepted_by_type, &theirs.accepted_by_type);
        add_counts(&mut h.rejected, &theirs.rejected);
        add_counts(&mut h.state_entries, &theirs.state_entries);
        add_counts(&mut h.label_folds, &theirs.label_folds);
        h.duplicates += theirs.duplicates;
        h.late += theirs.late;
        h.clock_ms = h.clock_ms.max(theirs.clock_ms);
    }
}

fn merge_windows(mine: &mut Vec<Tally>, theirs: &[Tally]) {
    if mine.len() < theirs.len() {
        mine.resize_with(theirs.len(), Tally::default);
    }
    for (m, t) in mine.iter_mut().zip(theirs) {
        m.merge(t);
    }
}

fn add_counts<K: Ord + Clone>(mine: &mut BTreeMap<K, u64>, theirs: &BTreeMap<K, u64>) {
    for (key, n) in theirs {
        *mine.entry(key.clone()).or_default() += n;
    }
}

fn merge_histograms<K: Ord + Clone>(
    mine: &mut BTreeMap<K, ClassicHistogram>,
    theirs: &BTreeMap<K, ClassicHistogram>,
) {
    for (key, h) in theirs {
        match mine.get_mut(key) {
            Some(m) => m.merge(h),
            None => {
                mine.insert(key.clone(), h.clone());
            }
        }
    }
}

/// Keeps the earlier of the instant held for `key` and `at`.
fn keep_earliest<K: Ord>(map: &mut BTreeMap<K, i64>, key: K, at: i64) {
    let entry = map.entry(key).or_insert(at);
    *entry = (*entry).min(at);
}

fn keep_all_earliest<K: Ord + Clone>(mine: &mut BTreeMap<K, i64>, theirs: &BTreeMap<K, i64>) {
    for (key, &at) in theirs {
        keep_earliest(mine, key.clone(), at);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::engine::Engine;
    use crate::generate::{Generator, GeneratorConfig};
    use crate::produce::partition_key;

    fn support_lines(text: &str) -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("support_"))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }

    /// Targets short enough for the generated stream to meet and breach
    /// every kind, one policy under a calendar.
    const SLA: &str = r#"
[[sla.policy]]
name = "office"
queues = ["general"]
calendar = "office"
[sla.policy.targets]
normal = { first_response = "10m", next_reply = "10m", resolution = "1h" }
high = { first_response = "5m", resolution = "30m" }
[[sla.policy]]
name = "rest"
[sla.policy.targets]
normal = { first_response = "20m", next_reply = "20m", resolution = "2h" }
[sla.calendar.office]
timezone = "Europe/Berlin"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }
"#;

    #[test]
    fn merged_shards_show_what_one_engine_shows() {
        merged_shards_match(&Config::default());
    }

    #[test]
    fn merged_shards_with_sla_clocks_show_what_one_engine_shows() {
        let config = Config::parse(SLA).expect("the SLA config is valid");
        let text = merged_shards_match(&config);
        for family in [
            "support_sla_met_total",
            "support_sla_breaches_total",
            "support_sla_compliance_ratio",
            "support_tickets_sla_breached",
            "support_tickets_sla_at_risk",
            "support_first_response_business_seconds_count",
            "support_next_reply_business_seconds_count",
            "support_resolution_business_seconds_count",
        ] {
            assert!(
                text.iter()
                    .any(|l| l.starts_with(family) && !l.ends_with(" 0")),
                "the stream gives {family} a non-zero series"
            );
        }
    }

    /// Feeds one engine and three shards keyed as in live mode the same
    /// generated stream, and returns the one engine's `support_` lines
    /// after checking that the merged shards export exactly them.
    fn merged_shards_match(config: &Config) -> Vec<String> {
        let wall = 4_000_000_000_000;
        let lines: Vec<String> = Generator::new(GeneratorConfig {
            events_per_sec: 5.0,
            ..GeneratorConfig::default()
        })
        .take(30_000)
        .collect();
        let mut whole = Engine::new(config);
        let mut shards = [
            Engine::new(config),
            Engine::new(config),
            Engine::new(config),
        ];
        for line in &lines {
            whole
                .apply(line.as_bytes(), wall)
                .expect("generated events are accepted");
            let shard = crate::decode::id_hash(&partition_key(line)) as usize % shards.len();
            shards[shard]
                .apply(line.as_bytes(), wall)
                .expect("generated events are accepted");
        }
        let now = whole.clock_ms().expect("events were applied");
        let mut merged = shards[0].snapshot(now);
        for shard in &shards[1..] {
            merged.merge(&shard.snapshot(now));
        }
        let expected = support_lines(&crate::export::render(&whole.snapshot(now), "support_"));
        let actual = support_lines(&crate::export::render(&merged, "support_"));
        assert!(
            expected.len() > 1000,
            "the stream exercises many series: {}",
            expected.len()
        );
        let differing: Vec<_> = expected
            .iter()
            .zip(&actual)
            .filter(|(a, b)| a != b)
            .take(5)
            .collect();
        assert!(differing.is_empty(), "first differences: {differing:#?}");
        assert_eq!(expected.len(), actual.len());
        assert_eq!(
            merged.health.accepted_by_type,
            whole.snapshot(now).health.accepted_by_type
        );
        expected
    }
}
