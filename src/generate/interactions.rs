//! Calls and chats: queued, then answered (perhaps held), ended and
//! wrapped up, or abandoned or blocked; and the one-record summaries some
//! telephony systems send instead.

use std::fmt::Write;

use super::fields::{agent_field, customer_field};
use super::rng::Rng;
use super::{Flow, Generator, MINUTE, SECOND};

impl Generator {
    pub(super) fn advance_interaction(&mut self, i: &mut Interaction, now: i64, out: &mut String) {
        let id = i.id;
        let rng = &mut self.rng;
        let (kind, next) = match i.step {
            InteractionStep::Queued => {
                let next = match rng.pick(&[3, 11, 86]) {
                    0 => Some((InteractionStep::Blocked, rng.exp(2.0 * SECOND))),
                    1 => Some((InteractionStep::Abandoned, rng.exp(70.0 * SECOND))),
                    _ => {
                        // Most answered within the 20 s service level, as centres aim for.
                        let mean = if i.phone { 12.0 } else { 18.0 };
                        Some((InteractionStep::Answered, rng.exp(mean * SECOND)))
                    }
                };
                ("interaction.queued", next)
            }
            InteractionStep::Answered => {
                let next = if rng.chance(0.2) {
                    (InteractionStep::HoldStarted, rng.exp(2.0 * MINUTE))
                } else {
                    (InteractionStep::Ended, talk_time(rng, i.phone))
                };
                ("interaction.answered", Some(next))
            }
            InteractionStep::HoldStarted => (
                "interaction.hold_started",
                Some((InteractionStep::HoldEnded, rng.exp(MINUTE))),
            ),
            InteractionStep::HoldEnded => (
                "interaction.hold_ended",
                Some((InteractionStep::Ended, rng.exp(2.0 * MINUTE))),
            ),
            InteractionStep::Ended => (
                "interaction.ended",
                Some((InteractionStep::WrapupEnded, rng.exp(45.0 * SECOND))),
            ),
            InteractionStep::WrapupEnded => ("interaction.wrapup_ended", None),
            InteractionStep::Abandoned => ("interaction.abandoned", None),
            InteractionStep::Blocked => ("interaction.blocked", None),
        };
        self.begin(out, kind, now);
        put!(out, r#","interaction_id":"I{id}""#);
        match i.step {
            InteractionStep::Queued => {
                put!(out, r#","queue":"{}""#, self.queue_names[i.queue as usize]);
                // Phone is the default channel; half the producers say so anyway.
                if !i.phone {
                    out.push_str(r#","channel":"chat""#);
                } else if self.rng.chance(0.5) {
                    out.push_str(r#","channel":"phone""#);
                }
                customer_field(out, i.customer);
            }
            InteractionStep::Answered => agent_field(out, i.agent),
            _ => {}
        }
        if let Some((step, delay)) = next {
            i.step = step;
            self.schedule(now + delay.max(0), Flow::Interaction(*i));
        }
    }

    /// A one-record summary of a finished interaction, as some telephony
    /// systems send instead of the individual steps.
    pub(super) fn completed(&mut self, now: i64, out: &mut String) {
        self.interactions += 1;
        let id = self.interactions;
        let queue = self.queue();
        let agent = self.agent_for(queue);
        let phone = self.rng.chance(0.7);
        self.begin(out, "interaction.completed", now);
        put!(out, r#","interaction_id":"I{id}""#);
        put!(out, r#","queue":"{}""#, self.queue_names[queue as usize]);
        put!(
            out,
            r#","channel":"{}""#,
            if phone { "phone" } else { "chat" }
        );
        agent_field(out, agent);
        let hold = if self.rng.chance(0.25) {
            self.rng.exp(MINUTE)
        } else {
            0
        };
        let talk = talk_time(&mut self.rng, phone);
        let (wait, acw) = (self.rng.exp(12.0 * SECOND), self.rng.exp(45.0 * SECOND));
        // Some sources report whole seconds, others tenths.
        let tenths = self.rng.chance(0.3);
        for (name, ms) in [
            ("wait_s", wait),
            ("talk_s", talk),
            ("hold_s", hold),
            ("acw_s", acw),
        ] {
            if tenths {
                put!(out, r#","{name}":{:.1}"#, ms as f64 / 1000.0);
            } else {
                put!(out, r#","{name}":{}"#, ms / 1000);
            }
        }
    }
}

fn talk_time(rng: &mut Rng, phone: bool) -> i64 {
    let median = if phone { 4.0 } else { 7.0 };
    rng.lognormal(median * MINUTE, 0.6)
}

#[derive(Clone, Copy)]
pub(super) struct Interaction {
    pub(super) id: u64,
    pub(super) customer: u32,
    pub(super) queue: u16,
    pub(super) agent: u16,
    /// Phone, or else chat.
    pub(super) phone: bool,
    pub(super) step: InteractionStep,
}

#[derive(Clone, Copy)]
pub(super) enum InteractionStep {
    Queued,
    Answered,
    HoldStarted,
    HoldEnded,
    Ended,
    WrapupEnded,
    Abandoned,
    Blocked,
}
