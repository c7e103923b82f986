//! Agent status (SPEC §1.5): the status each agent is in since when, and
//! the busy and online time it adds to the utilization windows.

use super::windows::Count;
use super::{At, Engine};
use crate::decode::{self, AgentStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Agent {
    pub(super) status: AgentStatus,
    pub(super) since_ms: i64,
    pub(super) label: u16,
}

impl Engine {
    /// An agent's new status from `at`: the span of the status it had
    /// counts towards utilization.
    pub(super) fn apply_agent_status(&mut self, agent: &str, status: AgentStatus, at: At) {
        let id = decode::id_hash(agent);
        let label = self.state.agent_labels.intern(agent);
        match self.state.agents.get(&id).map(|a| (a.status, a.since_ms)) {
            // Older news than what we hold changes nothing.
            Some((_, since)) if at.ts < since => return,
            Some((was, since)) => self.spread_agent_time(was, since, at),
            None => {}
        }
        let since_ms = at.ts;
        self.state.agents.insert(
            id,
            Agent {
                status,
                since_ms,
                label,
            },
        );
    }

    /// Adds a finished span of agent status to the utilization counters.
    pub(super) fn spread_agent_time(&mut self, status: AgentStatus, from_ms: i64, to: At) {
        if !to.in_windows || status == AgentStatus::Offline {
            return;
        }
        let busy = status == AgentStatus::Busy;
        self.state
            .scopes
            .centre
            .spread(from_ms, to.ts, |tally, ms| {
                tally.add(Count::OnlineMs, ms);
                if busy {
                    tally.add(Count::BusyMs, ms);
                }
            });
    }
}
