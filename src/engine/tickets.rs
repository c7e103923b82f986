//! Tickets (SPEC §1.2, §7.6–7.7, §7.11): one state machine per ticket,
//! from creation through replies, transfers, pauses and resolution to
//! close. Its SLA clocks ride along (`sla::hooks`).

use super::cumulative::{TicketCounter, TicketDims};
use super::rules::KpiRules;
use super::sla::clocks::{Terms, TicketClocks, TicketId};
use super::sla::hooks::Op;
use super::sla::policy::Kind as SlaKind;
use super::windows::{Count, Timer};
use super::{At, Engine, NEVER, NO_AGENT};
use crate::decode::{Channel, Kind, Priority, Reject, TicketStatus};
use crate::engine::sla::clocks::Slot;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Ticket {
    pub(super) created_ms: i64,
    pub(super) first_reply_ms: i64,
    /// Earliest customer reply not yet answered (after the first reply).
    pub(super) waiting_since_ms: i64,
    pub(super) resolved_ms: i64,
    pub(super) customer: u64,
    pub(super) queue: u16,
    pub(super) category: u16,
    pub(super) agent: u16,
    pub(super) public_replies: u16,
    pub(super) channel: Channel,
    pub(super) priority: Priority,
    pub(super) status: TicketStatus,
    pub(super) customer_replied_after_reply: bool,
    pub(super) first_resolution_done: bool,
    /// Where its clocks are, only with `[sla]`: 8 bytes inline rather
    /// than 40, as most of the ticket map's memory is its slots.
    pub(super) sla: Option<Slot>,
}

impl Ticket {
    pub(super) fn dims(&self) -> TicketDims {
        TicketDims {
            channel: self.channel,
            priority: self.priority,
            queue: self.queue,
        }
    }

    pub(super) fn is_resolved(&self) -> bool {
        self.resolved_ms != NEVER
    }

    pub(super) fn sla_terms(&self) -> Terms {
        Terms {
            priority: self.priority,
            status: self.status,
            queue: self.queue,
        }
    }

    /// The SLA step of a change to its status, priority or queue; with
    /// `reselect`, its policy is chosen again (SPEC §4.2).
    fn sla_change(&self, reselect: bool) -> Op {
        let open = !self.is_resolved();
        Op::Change {
            after: self.sla_terms(),
            reselect,
            // The kinds it still awaits, for clocks a new policy starts: no
            // public reply yet, an unanswered customer reply, no first
            // resolution; none once resolved.
            awaits: [
                open && self.first_reply_ms == NEVER,
                open && self.waiting_since_ms != NEVER,
                open && !self.first_resolution_done,
            ],
        }
    }
}

impl Engine {
    /// Applies a ticket event; events of other domains change nothing here.
    pub(super) fn apply_ticket(&mut self, kind: Kind<'_>, at: At) -> Result<(), Reject> {
        let ts = at.ts;
        match kind {
            Kind::TicketCreated {
                ticket,
                channel,
                priority,
                queue,
                category,
                customer,
                ticket_id,
            } => {
                if self.state.tickets.contains_key(&ticket) {
                    return Err(Reject::DuplicateTicket);
                }
                // A ticket of this id closed in this batch: its deadlines
                // must find its own clocks, not the new ticket's.
                if self.sla_steps.closing(ticket) {
                    self.end_batch();
                }
                let mut t = Ticket {
                    created_ms: ts,
                    first_reply_ms: NEVER,
                    waiting_since_ms: NEVER,
                    resolved_ms: NEVER,
                    customer: customer.unwrap_or(0),
                    queue: self.state.queues.intern_or_unknown(queue.as_deref()),
                    category: self.state.categories.intern_or_unknown(category.as_deref()),
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
                    t.sla = self.state.sla.hold(TicketClocks::default());
                    let (name, long_name) = TicketId::kept(&ticket_id);
                    let create = Op::Create {
                        name,
                        long_name,
                        queue: t.queue,
                        channel,
                        terms: t.sla_terms(),
                    };
                    self.queue_sla(ticket, t.sla, at, create);
                }
                self.cumulative
                    .count_ticket(t.dims(), TicketCounter::Created);
                self.record(at, Some(t.queue), None, |tally| {
                    tally.add(Count::Created, 1);
                    if let Some(c) = customer {
                        tally.customers.push_back(c);
                    }
                });
                self.state.tickets.insert(ticket, t);
            }
            Kind::TicketAssigned {
                ticket,
                agent,
                queue,
            } => {
                if !self.state.tickets.contains_key(&ticket) {
                    return Err(Reject::UnknownTicket);
                }
                let agent = self.state.agent_labels.intern(&agent);
                let queue = queue.map(|q| self.state.queues.intern(&q));
                let t = self
                    .state
                    .tickets
                    .get_mut(&ticket)
                    .ok_or(Reject::UnknownTicket)?;
                let before = t.queue;
                t.agent = agent;
                if let Some(q) = queue {
                    t.queue = q;
                }
                if before != t.queue {
                    let (slot, change) = (t.sla, t.sla_change(true));
                    self.queue_sla(ticket, slot, at, change);
                }
            }
            Kind::AgentReplied {
                ticket,
                agent,
                public,
            } => {
                let t = self
                    .state
                    .tickets
                    .get_mut(&ticket)
                    .ok_or(Reject::UnknownTicket)?;
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
                let (dims, queue, needs_agent, slot) =
                    (t.dims(), t.queue, t.agent == NO_AGENT, t.sla);
                if needs_agent {
                    let id = self.state.agent_labels.intern(&agent);
                    if let Some(t) = self.state.tickets.get_mut(&ticket) {
                        t.agent = id;
                    }
                }
                if started != NEVER {
                    self.observe_ticket(at, dims, queue, timer, ts.saturating_sub(started));
                    let kind = match timer {
                        Timer::NextReply => SlaKind::NextReply,
                        _ => SlaKind::FirstResponse,
                    };
                    self.queue_sla(ticket, slot, at, Op::Stop(kind));
                }
            }
            Kind::CustomerReplied { ticket } => {
                let t = self
                    .state
                    .tickets
                    .get_mut(&ticket)
                    .ok_or(Reject::UnknownTicket)?;
                // Replies before the first agent reply start no clock (§7.6).
                if t.first_reply_ms != NEVER && ts > t.first_reply_ms {
                    t.customer_replied_after_reply = true;
                    let starts_clock = t.waiting_since_ms == NEVER;
                    if starts_clock || ts < t.waiting_since_ms {
                        t.waiting_since_ms = ts;
                    }
                    if starts_clock {
                        let slot = t.sla;
                        self.queue_sla(ticket, slot, at, Op::Start(SlaKind::NextReply));
                    }
                }
            }
            Kind::StatusChanged { ticket, status } => {
                let t = self
                    .state
                    .tickets
                    .get_mut(&ticket)
                    .ok_or(Reject::UnknownTicket)?;
                t.status = status;
                let (slot, change) = (t.sla, t.sla_change(false));
                self.queue_sla(ticket, slot, at, change);
            }
            Kind::TicketUpdated {
                ticket,
                priority,
                queue,
                category,
            } => {
                if !self.state.tickets.contains_key(&ticket) {
                    return Err(Reject::UnknownTicket);
                }
                let queue = queue.map(|q| self.state.queues.intern(&q));
                let category = category.map(|c| self.state.categories.intern(&c));
                if let Some(t) = self.state.tickets.get_mut(&ticket) {
                    let before = (t.priority, t.queue);
                    t.priority = priority.unwrap_or(t.priority);
                    t.queue = queue.unwrap_or(t.queue);
                    t.category = category.unwrap_or(t.category);
                    if before != (t.priority, t.queue) {
                        let (slot, change) = (t.sla, t.sla_change(true));
                        self.queue_sla(ticket, slot, at, change);
                    }
                }
            }
            Kind::Resolved {
                ticket,
                agent,
                outcome,
            } => {
                if !self.state.tickets.contains_key(&ticket) {
                    return Err(Reject::UnknownTicket);
                }
                let agent = agent.map(|a| self.state.agent_labels.intern(&a));
                let Some(t) = self.state.tickets.get_mut(&ticket) else {
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
                let fcr = KpiRules::first_contact_resolution(
                    first,
                    t.public_replies,
                    t.customer_replied_after_reply,
                );
                let (dims, queue, category, agent, created, slot) =
                    (t.dims(), t.queue, t.category, t.agent, t.created_ms, t.sla);
                self.cumulative.count_ticket(dims, TicketCounter::Resolved);
                self.queue_sla(ticket, slot, at, Op::Resolve);
                if agent != NO_AGENT {
                    *self.cumulative.agent_resolutions.entry(agent).or_default() += 1;
                }
                self.record(at, Some(queue), None, |tally| tally.add(Count::Resolved, 1));
                if first {
                    if fcr {
                        self.cumulative
                            .count_ticket(dims, TicketCounter::FirstContactResolutions);
                    }
                    self.record(at, Some(queue), None, |tally| {
                        tally.add(Count::FirstResolutions, 1);
                        tally.add(Count::FirstContactResolutions, fcr as u64);
                    });
                    self.observe_ticket(
                        at,
                        dims,
                        queue,
                        Timer::Resolution,
                        ts.saturating_sub(created),
                    );
                }
                if let Some(outcome) = outcome {
                    self.record(at, None, None, |tally| {
                        tally.outcome(category, KpiRules::outcome_success(outcome))
                    });
                }
            }
            Kind::Reopened { ticket } => {
                let t = self
                    .state
                    .tickets
                    .get_mut(&ticket)
                    .ok_or(Reject::UnknownTicket)?;
                if !t.is_resolved() {
                    return Ok(());
                }
                t.resolved_ms = NEVER;
                t.status = TicketStatus::Open;
                let (dims, queue, slot, change) = (t.dims(), t.queue, t.sla, t.sla_change(false));
                self.queue_sla(ticket, slot, at, change);
                self.cumulative.count_ticket(dims, TicketCounter::Reopened);
                self.record(at, Some(queue), None, |tally| tally.add(Count::Reopened, 1));
            }
            Kind::Closed { ticket } => {
                let t = self
                    .state
                    .tickets
                    .remove(&ticket)
                    .ok_or(Reject::UnknownTicket)?;
                self.queue_sla(ticket, t.sla, at, Op::Release);
            }
            _ => {}
        }
        Ok(())
    }

    fn observe_ticket(&mut self, at: At, dims: TicketDims, queue: u16, timer: Timer, ms: i64) {
        let ms = ms.max(0) as u64;
        self.cumulative.observe_ticket(dims, timer, ms);
        self.record(at, Some(queue), None, |tally| tally.observe(timer, ms));
    }
}
