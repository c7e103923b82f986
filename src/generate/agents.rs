//! Agents' shifts: eight hours on, mostly busy with short breaks, and
//! sixteen off; each change of status is an event.

use std::fmt::Write;

use super::fields::agent_field;
use super::{Flow, Generator, HOUR, MINUTE, SECOND};

impl Generator {
    /// Most agents start on shift; the others come in during the first
    /// eight hours. Each reports its status within the first minutes.
    pub(super) fn staff_the_shifts(&mut self, start_ms: i64) {
        for index in 0..self.agents {
            let first_ms = start_ms + self.rng.below(300_000) as i64;
            let agent = if self.rng.chance(0.75) {
                Agent {
                    index: index as u16,
                    status: AgentStatus::Available,
                    until_ms: first_ms + HOUR + self.rng.below(7 * HOUR as usize) as i64,
                }
            } else {
                Agent {
                    index: index as u16,
                    status: AgentStatus::Offline,
                    until_ms: first_ms + self.rng.below(8 * HOUR as usize) as i64,
                }
            };
            self.schedule(first_ms, Flow::Agent(agent));
        }
    }

    /// Agents work eight-hour shifts, mostly busy with short breaks
    /// between contacts, and go offline for sixteen hours between shifts.
    pub(super) fn advance_agent(&mut self, a: &mut Agent, now: i64, out: &mut String) {
        self.begin(out, "agent.status_changed", now);
        agent_field(out, a.index);
        put!(out, r#","status":"{}""#, a.status.as_str());
        let rng = &mut self.rng;
        let (next, delay) = match a.status {
            AgentStatus::Offline => {
                let delay = (a.until_ms - now).max(0);
                a.until_ms = now + delay + 8 * HOUR;
                (AgentStatus::Available, delay)
            }
            _ if now >= a.until_ms => {
                let delay = rng.exp(MINUTE);
                a.until_ms = now + delay + 16 * HOUR;
                (AgentStatus::Offline, delay)
            }
            AgentStatus::Available if rng.chance(0.85) => {
                (AgentStatus::Busy, rng.exp(90.0 * SECOND))
            }
            AgentStatus::Available => (AgentStatus::Away, rng.exp(3.0 * MINUTE)),
            AgentStatus::Busy => (AgentStatus::Available, rng.exp(6.0 * MINUTE)),
            AgentStatus::Away => (AgentStatus::Available, rng.exp(10.0 * MINUTE)),
        };
        a.status = next;
        self.schedule(now + delay, Flow::Agent(*a));
    }
}

#[derive(Clone, Copy)]
pub(super) struct Agent {
    index: u16,
    status: AgentStatus,
    /// On shift: when it ends. Offline: when the next one starts.
    until_ms: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AgentStatus {
    Available,
    Busy,
    Away,
    Offline,
}

impl AgentStatus {
    fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Busy => "busy",
            AgentStatus::Away => "away",
            AgentStatus::Offline => "offline",
        }
    }
}
