//! Cumulative counters and classic-bucket histograms: everything since
//! start, late events included, aggregatable across instances.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use super::sla::policy::Kind as SlaKind;
use super::windows::Timer;
use crate::decode::{Channel, Priority};

/// Bucket upper bounds (seconds) for ticket durations: minutes to weeks.
pub const TICKET_BUCKETS: &[f64] = &[
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 345600.0,
    604800.0, 1209600.0,
];
/// Bucket upper bounds (seconds) for interaction durations: seconds to hours.
pub const INTERACTION_BUCKETS: &[f64] = &[
    5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassicHistogram {
    /// Per bucket (not cumulative), plus one for +Inf.
    pub counts: Vec<u64>,
    /// Exact, so that the sum does not depend on the order of events
    /// (saturating rather than wrapping past 584 million years).
    pub sum_ms: u64,
    pub count: u64,
}

impl ClassicHistogram {
    pub fn new(bounds: &[f64]) -> ClassicHistogram {
        ClassicHistogram {
            counts: vec![0; bounds.len() + 1],
            sum_ms: 0,
            count: 0,
        }
    }

    pub fn observe(&mut self, bounds: &[f64], ms: u64) {
        let seconds = ms as f64 / 1000.0;
        let bucket = bounds.partition_point(|&upper| upper < seconds);
        self.counts[bucket] += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }

    pub fn merge(&mut self, other: &ClassicHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
        self.count += other.count;
    }
}

/// Channel, priority and queue id of a ticket at the time of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TicketDims {
    pub channel: Channel,
    pub priority: Priority,
    pub queue: u16,
}

/// Queue id and channel of an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InteractionDims {
    pub queue: u16,
    pub channel: Channel,
}

/// Ticket and survey counters, all by [`TicketDims`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TicketCounter {
    Created,
    Resolved,
    Reopened,
    FirstContactResolutions,
    CsatSatisfied,
    CsatUnsatisfied,
    NpsPromoter,
    NpsPassive,
    NpsDetractor,
    /// SLA clocks stopped within target, and clocks that breached.
    SlaMet(SlaKind),
    SlaBreached(SlaKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InteractionOutcome {
    Answered,
    Abandoned,
    Blocked,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cumulative {
    pub tickets: FxHashMap<(TicketDims, TicketCounter), u64>,
    pub ticket_timers: FxHashMap<(TicketDims, Timer), ClassicHistogram>,
    pub interactions: FxHashMap<(InteractionDims, InteractionOutcome), u64>,
    pub interaction_timers: FxHashMap<(InteractionDims, Timer), ClassicHistogram>,
    /// Counted time of SLA clocks that stopped with a verdict under a
    /// policy with a calendar (SPEC §4.5).
    pub business_timers: FxHashMap<(TicketDims, SlaKind), ClassicHistogram>,
    /// The latest breach of each breach counter series: ticket id and
    /// deadline, for its OpenMetrics exemplar.
    pub breach_exemplars: FxHashMap<(TicketDims, SlaKind), (Box<str>, i64)>,
    /// Resolutions by agent label id.
    pub agent_resolutions: FxHashMap<u16, u64>,
}

impl Cumulative {
    pub fn count_ticket(&mut self, dims: TicketDims, counter: TicketCounter) {
        *self.tickets.entry((dims, counter)).or_default() += 1;
    }

    pub fn count_interaction(&mut self, dims: InteractionDims, outcome: InteractionOutcome) {
        *self.interactions.entry((dims, outcome)).or_default() += 1;
    }

    pub fn observe_ticket(&mut self, dims: TicketDims, timer: Timer, ms: u64) {
        observe(&mut self.ticket_timers, (dims, timer), TICKET_BUCKETS, ms);
    }

    pub fn observe_interaction(&mut self, dims: InteractionDims, timer: Timer, ms: u64) {
        observe(
            &mut self.interaction_timers,
            (dims, timer),
            INTERACTION_BUCKETS,
            ms,
        );
    }

    /// Keeps the breach with the later deadline as the series' exemplar.
    pub fn remember_breach(
        &mut self,
        dims: TicketDims,
        kind: SlaKind,
        ticket: Box<str>,
        at_ms: i64,
    ) {
        let latest = self.breach_exemplars.entry((dims, kind));
        match latest {
            Entry::Occupied(held) if held.get().1 > at_ms => {}
            Entry::Occupied(mut held) => *held.get_mut() = (ticket, at_ms),
            Entry::Vacant(none) => {
                none.insert((ticket, at_ms));
            }
        }
    }

    pub fn observe_business(&mut self, dims: TicketDims, kind: SlaKind, ms: u64) {
        observe(&mut self.business_timers, (dims, kind), TICKET_BUCKETS, ms);
    }
}

fn observe<K: std::hash::Hash + Eq>(
    map: &mut FxHashMap<K, ClassicHistogram>,
    key: K,
    bounds: &[f64],
    ms: u64,
) {
    map.entry(key)
        .or_insert_with(|| ClassicHistogram::new(bounds))
        .observe(bounds, ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_are_inclusive() {
        let mut h = ClassicHistogram::new(INTERACTION_BUCKETS);
        h.observe(INTERACTION_BUCKETS, 20_000);
        h.observe(INTERACTION_BUCKETS, 20_001);
        h.observe(INTERACTION_BUCKETS, 7_200_000);
        assert_eq!(h.counts[2], 1, "20 s is in le=20");
        assert_eq!(h.counts[3], 1, "20.001 s is in le=30");
        assert_eq!(
            h.counts[INTERACTION_BUCKETS.len()],
            1,
            "beyond the last bound is +Inf"
        );
    }
}
