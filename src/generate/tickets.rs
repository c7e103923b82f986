//! A ticket's lifecycle: created, assigned (perhaps transferred or
//! escalated), rounds of replies and waits, resolved, perhaps reopened,
//! closed; and the surveys it asks for once resolved.

use std::fmt::Write;

use super::fields::{agent_field, customer_field, ticket_field};
use super::rng::Rng;
use super::surveys::{Survey, SurveyKind};
use super::{Flow, Generator, CHANNELS, DAY, HOUR, MINUTE, PRIORITIES, SECOND};

impl Generator {
    pub(super) fn advance_ticket(&mut self, t: &mut Ticket, now: i64, out: &mut String) {
        if let Some(delay) = self.ticket_step(t, now, out) {
            self.schedule(now + delay, Flow::Ticket(*t));
        }
    }

    /// Writes the ticket's current step and moves it to the next one;
    /// the delay until then, or `None` when the ticket has no more events.
    fn ticket_step(&mut self, t: &mut Ticket, now: i64, out: &mut String) -> Option<i64> {
        let (step, delay) = match t.step {
            TicketStep::Created => {
                self.begin(out, "ticket.created", now);
                ticket_field(out, t.id);
                // A few producers leave optional fields out (SPEC §7.3 defaults).
                if !self.rng.chance(0.02) {
                    put!(out, r#","channel":"{}""#, CHANNELS[t.channel as usize]);
                }
                if !self.rng.chance(0.1) {
                    put!(out, r#","priority":"{}""#, PRIORITIES[t.priority as usize]);
                }
                put!(out, r#","queue":"{}""#, self.queue_names[t.queue as usize]);
                if !self.rng.chance(0.03) {
                    let category = CATEGORIES[self.rng.below(CATEGORIES.len())];
                    put!(out, r#","category":"{category}""#);
                }
                customer_field(out, t.customer);
                let mean = [600.0, 180.0, 90.0, 30.0][t.priority as usize] * SECOND;
                (TicketStep::Assigned, self.rng.exp(mean))
            }
            TicketStep::Assigned => {
                self.begin(out, "ticket.assigned", now);
                ticket_field(out, t.id);
                agent_field(out, t.agent);
                let rng = &mut self.rng;
                match rng.pick(&[6, 4, 6, 84]) {
                    0 => (TicketStep::Transfer, rng.exp(5.0 * MINUTE)),
                    1 => (TicketStep::Escalate, rng.exp(10.0 * MINUTE)),
                    // The customer chases before anyone answered: starts no clock.
                    2 => (TicketStep::CustomerReply, rng.exp(15.0 * MINUTE)),
                    _ => (TicketStep::AgentReply, reply_delay(rng, t)),
                }
            }
            TicketStep::Transfer => {
                t.queue = self.queue();
                t.agent = self.agent_for(t.queue);
                self.begin(out, "ticket.assigned", now);
                ticket_field(out, t.id);
                agent_field(out, t.agent);
                put!(out, r#","queue":"{}""#, self.queue_names[t.queue as usize]);
                (TicketStep::AgentReply, reply_delay(&mut self.rng, t))
            }
            TicketStep::Escalate => {
                t.priority = (t.priority + 1).min(PRIORITIES.len() as u8 - 1);
                self.begin(out, "ticket.updated", now);
                ticket_field(out, t.id);
                put!(out, r#","priority":"{}""#, PRIORITIES[t.priority as usize]);
                if self.rng.chance(0.3) {
                    let category = CATEGORIES[self.rng.below(CATEGORIES.len())];
                    put!(out, r#","category":"{category}""#);
                }
                (TicketStep::AgentReply, reply_delay(&mut self.rng, t))
            }
            TicketStep::AgentReply => {
                self.begin(out, "ticket.agent_replied", now);
                ticket_field(out, t.id);
                agent_field(out, t.agent);
                if self.rng.chance(0.2) {
                    out.push_str(r#","public":true"#);
                }
                t.replied = true;
                t.rounds += 1;
                self.after_reply(t)?
            }
            TicketStep::PrivateNote => {
                self.begin(out, "ticket.agent_replied", now);
                ticket_field(out, t.id);
                agent_field(out, t.agent);
                out.push_str(r#","public":false"#);
                self.after_reply(t)?
            }
            TicketStep::Pending | TicketStep::OnHold | TicketStep::Open => {
                let (status, next) = match t.step {
                    TicketStep::Pending => (TicketStatus::Pending, TicketStep::CustomerReply),
                    TicketStep::OnHold => (TicketStatus::OnHold, TicketStep::Open),
                    _ => (TicketStatus::Open, TicketStep::AgentReply),
                };
                t.status = status;
                self.begin(out, "ticket.status_changed", now);
                ticket_field(out, t.id);
                put!(out, r#","status":"{}""#, status.as_str());
                let rng = &mut self.rng;
                let delay = match next {
                    TicketStep::CustomerReply => customer_delay(rng, t),
                    // Waiting on a third party: hours.
                    TicketStep::Open => rng.exp(2.0 * HOUR as f64),
                    _ => reply_delay(rng, t),
                };
                (next, delay)
            }
            TicketStep::CustomerReply => {
                self.begin(out, "ticket.customer_replied", now);
                ticket_field(out, t.id);
                let rng = &mut self.rng;
                if t.status == TicketStatus::Open {
                    (TicketStep::AgentReply, reply_delay(rng, t))
                } else {
                    // The help desk reopens a pending ticket when the customer writes.
                    (TicketStep::Open, rng.exp(5.0 * SECOND))
                }
            }
            TicketStep::Resolve => {
                self.begin(out, "ticket.resolved", now);
                ticket_field(out, t.id);
                if self.rng.chance(0.9) {
                    agent_field(out, t.agent);
                }
                if self.rng.chance(0.35) {
                    let outcome = if self.rng.chance(0.88) {
                        "success"
                    } else {
                        "failure"
                    };
                    put!(out, r#","outcome":"{outcome}""#);
                }
                self.ask_for_feedback(t, now);
                let rng = &mut self.rng;
                if !t.reopened && rng.chance(0.07) {
                    // Well within the engine's retention of resolved tickets.
                    let delay = rng.exp(8.0 * HOUR as f64).min(2 * DAY);
                    (TicketStep::Reopen, delay)
                } else if rng.chance(0.9) {
                    (TicketStep::Close, rng.exp(4.0 * HOUR as f64).min(3 * DAY))
                } else {
                    return None;
                }
            }
            TicketStep::Reopen => {
                self.begin(out, "ticket.reopened", now);
                ticket_field(out, t.id);
                t.reopened = true;
                t.status = TicketStatus::Open;
                (TicketStep::CustomerReply, self.rng.exp(MINUTE))
            }
            TicketStep::Close => {
                self.begin(out, "ticket.closed", now);
                ticket_field(out, t.id);
                return None;
            }
        };
        t.step = step;
        Some(delay.max(0))
    }

    /// What follows an agent's reply: a private note, another round with
    /// the customer, a wait on a third party, or the resolution.
    fn after_reply(&mut self, t: &mut Ticket) -> Option<(TicketStep, i64)> {
        let rng = &mut self.rng;
        if !t.noted && rng.chance(0.12) {
            t.noted = true;
            return Some((TicketStep::PrivateNote, rng.exp(3.0 * MINUTE)));
        }
        let more = [0.0, 0.42, 0.3, 0.2, 0.1][(t.rounds as usize).min(4)];
        if t.rounds < 8 && rng.chance(more) {
            return Some(match rng.pick(&[45, 8, 47]) {
                0 => (TicketStep::Pending, rng.exp(20.0 * SECOND)),
                1 => (TicketStep::OnHold, rng.exp(MINUTE)),
                _ => (TicketStep::CustomerReply, customer_delay(rng, t)),
            });
        }
        // A stale ticket is never resolved and stays in the backlog.
        if t.stale {
            return None;
        }
        Some((TicketStep::Resolve, rng.exp(20.0 * MINUTE)))
    }

    /// Surveys and reviews about a resolved ticket, sent some time later.
    fn ask_for_feedback(&mut self, t: &Ticket, now: i64) {
        for (kind, chance, mean_delay) in [
            (SurveyKind::Csat, 0.3, HOUR),
            (SurveyKind::Ces, 0.1, HOUR),
            (SurveyKind::Iqs, 0.08, 4 * HOUR),
        ] {
            if self.rng.chance(chance) {
                let survey = Survey {
                    kind,
                    ticket: Some(t.id),
                    customer: t.customer,
                    agent: Some(t.agent),
                };
                let due = now + self.rng.exp(mean_delay as f64);
                self.schedule(due, Flow::Survey(survey));
            }
        }
    }
}

const CATEGORIES: [&str; 10] = [
    "installation",
    "billing_question",
    "bug",
    "how_to",
    "refund",
    "outage",
    "feature_request",
    "account_access",
    "delivery",
    "cancellation",
];

/// Median first and next reply by channel, in minutes: chat is answered
/// in a minute or two, email within the hour.
const REPLY_MEDIAN_MIN: [f64; 6] = [60.0, 1.5, 5.0, 40.0, 20.0, 45.0];
const PRIORITY_FACTOR: [f64; 4] = [1.6, 1.0, 0.5, 0.25];

fn reply_delay(rng: &mut Rng, t: &Ticket) -> i64 {
    let median = REPLY_MEDIAN_MIN[t.channel as usize] * PRIORITY_FACTOR[t.priority as usize];
    // Later replies in a conversation come quicker than the first.
    let median = if t.replied { median * 0.6 } else { median };
    rng.lognormal(median * MINUTE, 0.9)
}

fn customer_delay(rng: &mut Rng, t: &Ticket) -> i64 {
    let median = if CHANNELS[t.channel as usize] == "chat" {
        MINUTE
    } else {
        30.0 * MINUTE
    };
    rng.lognormal(median, 1.0)
}

#[derive(Clone, Copy)]
pub(super) struct Ticket {
    pub(super) id: u64,
    pub(super) customer: u32,
    pub(super) queue: u16,
    pub(super) agent: u16,
    /// Index into [`CHANNELS`].
    pub(super) channel: u8,
    /// Index into [`PRIORITIES`].
    pub(super) priority: u8,
    pub(super) status: TicketStatus,
    pub(super) step: TicketStep,
    /// Public agent replies so far.
    pub(super) rounds: u8,
    pub(super) replied: bool,
    /// Whether an agent already left a private note.
    pub(super) noted: bool,
    pub(super) reopened: bool,
    pub(super) stale: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TicketStatus {
    Open,
    Pending,
    OnHold,
}

impl TicketStatus {
    fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::OnHold => "on_hold",
        }
    }
}

#[derive(Clone, Copy)]
pub(super) enum TicketStep {
    Created,
    Assigned,
    Transfer,
    Escalate,
    AgentReply,
    PrivateNote,
    Pending,
    OnHold,
    Open,
    CustomerReply,
    Resolve,
    Reopen,
    Close,
}
