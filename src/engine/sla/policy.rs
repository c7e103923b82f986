//! SLA policies (SPEC §4.1–4.2): which policy a ticket falls under, and the
//! target it sets for each kind of clock. Built from the config at start
//! (never restored from a checkpoint), so a changed policy applies at once.

use serde::{Deserialize, Serialize};

use super::calendar::Schedule;
use crate::decode::{Channel, Priority, TicketStatus};

/// The kinds of clock; the `sla` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    FirstResponse,
    NextReply,
    Resolution,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::FirstResponse, Kind::NextReply, Kind::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::FirstResponse => "first_response",
            Kind::NextReply => "next_reply",
            Kind::Resolution => "resolution",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    /// The ticket's queue must be one of these; `None` matches any.
    pub queues: Option<Vec<String>>,
    /// The ticket's channel must be one of these; `None` matches any.
    pub channels: Option<Vec<Channel>>,
    /// Index into [`SlaRules::schedules`]; `None` counts every hour.
    pub calendar: Option<usize>,
    pub pause_on: Vec<TicketStatus>,
    /// Target in ms per priority and kind; `None` runs no clock.
    pub targets: [[Option<i64>; Kind::ALL.len()]; Priority::ALL.len()],
}

impl Policy {
    pub fn target(&self, priority: Priority, kind: Kind) -> Option<i64> {
        self.targets[priority as usize][kind as usize]
    }

    pub fn pauses(&self, status: TicketStatus) -> bool {
        self.pause_on.contains(&status)
    }

    fn matches(&self, queue: &str, channel: Channel) -> bool {
        self.queues
            .as_ref()
            .is_none_or(|qs| qs.iter().any(|q| q == queue))
            && self
                .channels
                .as_ref()
                .is_none_or(|cs| cs.contains(&channel))
    }
}

/// Every policy and calendar of `[sla]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaRules {
    /// At risk from this fraction of the target, in billionths: the
    /// decimal the operator wrote, so that the threshold is exact.
    pub at_risk_ppb: i64,
    pub policies: Vec<Policy>,
    pub schedules: Vec<Schedule>,
}

impl Default for SlaRules {
    fn default() -> Self {
        SlaRules::new(0.8, Vec::new(), Vec::new())
    }
}

impl SlaRules {
    pub fn new(at_risk: f64, policies: Vec<Policy>, schedules: Vec<Schedule>) -> SlaRules {
        SlaRules {
            at_risk_ppb: (at_risk * 1e9).round() as i64,
            policies,
            schedules,
        }
    }

    /// No policy: no clock runs and no SLA series is exported.
    pub fn is_off(&self) -> bool {
        self.policies.is_empty()
    }

    /// The first policy matching a ticket's queue and channel.
    pub fn choose(&self, queue: &str, channel: Channel) -> Option<usize> {
        self.policies.iter().position(|p| p.matches(queue, channel))
    }

    /// The kinds that some policy has a target for: the ones whose
    /// gauges are exported.
    pub fn kinds_in_use(&self) -> impl Iterator<Item = Kind> + '_ {
        Kind::ALL.into_iter().filter(|&k| {
            self.policies
                .iter()
                .any(|p| Priority::ALL.iter().any(|&pr| p.target(pr, k).is_some()))
        })
    }

    /// At risk from this many ms of counted time: `at_risk` × target,
    /// rounded up to the millisecond (SPEC §4.2).
    pub fn at_risk_ms(&self, target_ms: i64) -> i64 {
        const BILLION: i64 = 1_000_000_000;
        // Computed on every review: in 64 bits, where division by a
        // constant is a multiply, for targets up to about 106 days.
        match target_ms.checked_mul(self.at_risk_ppb) {
            Some(scaled) if (0..=i64::MAX - BILLION).contains(&scaled) => {
                (scaled + BILLION - 1) / BILLION
            }
            _ => {
                let scaled = i128::from(target_ms) * i128::from(self.at_risk_ppb);
                (scaled + 999_999_999).div_euclid(1_000_000_000) as i64
            }
        }
    }
}
