//! Calls, chats and other interactions (SPEC §1.4, §7.10): queued,
//! answered, held, ended and wrapped up, or abandoned and blocked.

use super::cumulative::{InteractionDims, InteractionOutcome};
use super::windows::{Count, Timer};
use super::{At, Engine, NEVER, NO_AGENT};
use crate::decode::{Channel, Kind, Reject};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Interaction {
    pub(super) queued_ms: i64,
    pub(super) answered_ms: i64,
    pub(super) hold_started_ms: i64,
    pub(super) ended_ms: i64,
    pub(super) last_ms: i64,
    pub(super) queue: u16,
    pub(super) agent: u16,
    pub(super) channel: Channel,
}

impl Interaction {
    pub(super) fn dims(&self) -> InteractionDims {
        InteractionDims {
            queue: self.queue,
            channel: self.channel,
        }
    }
}

impl Engine {
    /// Applies an interaction event; events of other domains change nothing here.
    pub(super) fn apply_interaction(&mut self, kind: Kind<'_>, at: At) -> Result<(), Reject> {
        let ts = at.ts;
        match kind {
            Kind::Queued {
                interaction,
                queue,
                channel,
                ..
            } => {
                // A repeated queue entry keeps the first one's wait.
                let queues = &mut self.state.queues;
                self.state
                    .interactions
                    .entry(interaction)
                    .or_insert_with(|| Interaction {
                        queued_ms: ts,
                        answered_ms: NEVER,
                        hold_started_ms: NEVER,
                        ended_ms: NEVER,
                        last_ms: ts,
                        queue: queues.intern(&queue),
                        agent: NO_AGENT,
                        channel,
                    });
            }
            Kind::Answered { interaction, agent } => {
                if !self.state.interactions.contains_key(&interaction) {
                    return Err(Reject::UnknownInteraction);
                }
                let agent = self.state.agent_labels.intern(&agent);
                let Some(i) = self.state.interactions.get_mut(&interaction) else {
                    return Err(Reject::UnknownInteraction);
                };
                i.last_ms = i.last_ms.max(ts);
                if i.answered_ms != NEVER {
                    return Ok(());
                }
                i.answered_ms = ts;
                i.agent = agent;
                let (dims, wait) = (i.dims(), ts.saturating_sub(i.queued_ms));
                self.count_answered(at, dims, Some(agent), wait);
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
                let (dims, agent, handle) = (i.dims(), i.agent, ts.saturating_sub(i.answered_ms));
                self.state.interactions.remove(&interaction);
                self.observe_handle(at, dims, Some(agent), handle);
            }
            Kind::Abandoned { interaction } => {
                let i = self.touch(interaction, ts)?;
                if i.answered_ms != NEVER {
                    return Ok(());
                }
                let (dims, wait) = (i.dims(), ts.saturating_sub(i.queued_ms));
                self.state.interactions.remove(&interaction);
                self.cumulative
                    .count_interaction(dims, InteractionOutcome::Abandoned);
                let late = self.settings.kpi.abandoned_late(wait);
                self.record(at, Some(dims.queue), None, |tally| {
                    tally.add(Count::Abandoned, 1);
                    tally.add(Count::AbandonedLate, late as u64);
                });
            }
            Kind::Blocked { interaction } => {
                let dims = self.touch(interaction, ts)?.dims();
                self.state.interactions.remove(&interaction);
                self.cumulative
                    .count_interaction(dims, InteractionOutcome::Blocked);
                self.record(at, Some(dims.queue), None, |tally| {
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
                    queue: self.state.queues.intern_or_unknown(queue.as_deref()),
                    channel,
                };
                let agent = agent.map(|a| self.state.agent_labels.intern(&a));
                self.count_answered(at, dims, agent, wait_ms);
                let handle = talk_ms.saturating_add(hold_ms).saturating_add(acw_ms);
                self.observe_handle(at, dims, agent, handle);
            }
            _ => {}
        }
        Ok(())
    }

    fn touch(&mut self, interaction: u64, ts: i64) -> Result<&mut Interaction, Reject> {
        let i = self
            .state
            .interactions
            .get_mut(&interaction)
            .ok_or(Reject::UnknownInteraction)?;
        i.last_ms = i.last_ms.max(ts);
        Ok(i)
    }

    fn count_answered(&mut self, at: At, dims: InteractionDims, agent: Option<u16>, wait_ms: i64) {
        let wait = wait_ms.max(0) as u64;
        let in_time = self.settings.kpi.answered_in_time(wait_ms);
        self.cumulative
            .count_interaction(dims, InteractionOutcome::Answered);
        self.cumulative
            .observe_interaction(dims, Timer::AnswerWait, wait);
        self.record(at, Some(dims.queue), agent, |tally| {
            tally.add(Count::Answered, 1);
            tally.add(Count::AnsweredInTime, in_time as u64);
            tally.observe(Timer::AnswerWait, wait);
        });
    }

    fn observe_handle(
        &mut self,
        at: At,
        dims: InteractionDims,
        agent: Option<u16>,
        handle_ms: i64,
    ) {
        let handle = handle_ms.max(0) as u64;
        self.cumulative
            .observe_interaction(dims, Timer::Handle, handle);
        self.record(at, Some(dims.queue), agent, |tally| {
            tally.observe(Timer::Handle, handle)
        });
    }
}
