//! Where the engine drives a ticket's SLA clocks from its events and the
//! timer, and counts what they decide under the ticket's labels.
//!
//! An event's SLA step waits in a queue, and the queue runs in event order
//! at the end of the batch of events (or once it holds `STEPS_PER_RUN`).
//! Run between the rest of each event's work, the clock code pushed the
//! engine's hot loop out of the instruction cache; run together, both
//! stay in it (figures in the README's Design). Each step sees what it
//! would have seen run at once: before it the timer fires every deadline
//! up to the clock its event found (SPEC §4.4), a clock keeps the terms it
//! runs under, and the windows are placed by event time, not by when a
//! step runs. Nothing reads the SLA state while a batch is open:
//! [`Engine::end_batch`] closes it.

use super::clocks::{NewTicket, Sla, Slot, Terms, TicketClocks, TicketId, Verdict};
use super::policy::Kind;
use crate::decode::Channel;
use crate::engine::cumulative::{TicketCounter, TicketDims};
use crate::engine::windows::Count;
use crate::engine::{At, Engine};

/// Steps queued before they run: enough to keep the clock code in the
/// cache for a run, few enough (some 10 KB) to stay in the data cache.
const STEPS_PER_RUN: usize = 128;

/// What an event does to its ticket's clocks.
#[derive(Debug, Clone)]
pub(in crate::engine) enum Op {
    /// The ticket was created in `queue` (a label id) under `terms`.
    Create {
        name: TicketId,
        long_name: Option<Box<str>>,
        queue: u16,
        channel: Channel,
        terms: Terms,
    },
    /// A clock of this kind starts, if it has a target.
    Start(Kind),
    /// A clock of this kind stops with a verdict.
    Stop(Kind),
    Resolve,
    /// The terms changed to `after`; with `reselect`, the policy is chosen
    /// again under the ticket's queue.
    Change {
        after: Terms,
        reselect: bool,
        awaits: [bool; 3],
    },
    /// The ticket closed: its clocks are dropped and its slot freed.
    Release,
}

#[derive(Debug, Clone)]
struct Step {
    ticket: u64,
    slot: Slot,
    at: At,
    /// The engine's clock when the event came: what fell due by then
    /// fires before the step.
    clock_ms: i64,
    op: Op,
}

/// The queue of steps, and the slots of tickets closed while their steps
/// wait, for deadlines that fire before the close runs.
#[derive(Debug, Clone, Default)]
pub(in crate::engine) struct Steps {
    queued: Vec<Step>,
    closing: Vec<(u64, Slot)>,
}

impl Steps {
    pub(in crate::engine) fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Whether a ticket of this id closed in the open batch.
    pub(in crate::engine) fn closing(&self, ticket: u64) -> bool {
        self.closing.iter().any(|&(id, _)| id == ticket)
    }
}

impl Engine {
    /// Runs the SLA steps of the events applied so far and fires every
    /// deadline up to the clock. [`Engine::apply`] does this after each
    /// event; a caller applying a batch with [`Engine::apply_in_batch`]
    /// does it once, after the batch and before reading anything.
    pub fn end_batch(&mut self) {
        let mut queued = std::mem::take(&mut self.sla_steps.queued);
        for step in queued.drain(..) {
            self.run(step);
        }
        // Put back, so that the queue keeps its allocation.
        self.sla_steps.queued = queued;
        self.sla_steps.closing.clear();
        self.fire_due(self.state.clock_ms);
    }

    /// Fires every SLA deadline before `now_ms` (SPEC §4.4): at the export
    /// instant, and live by the wall clock.
    pub fn advance(&mut self, now_ms: i64) {
        self.end_batch();
        self.fire_due(now_ms);
    }

    /// Queues the step `op` of an event at `at` for a ticket with clocks
    /// in `slot` (none without `[sla]`); runs the queue once it is full.
    pub(in crate::engine) fn queue_sla(&mut self, ticket: u64, slot: Option<Slot>, at: At, op: Op) {
        let Some(slot) = slot else {
            return;
        };
        if matches!(op, Op::Release) {
            self.sla_steps.closing.push((ticket, slot));
        }
        self.sla_steps.queued.push(Step {
            ticket,
            slot,
            at,
            clock_ms: self.state.clock_ms,
            op,
        });
    }

    /// Runs the queue if it is full: called between events, never within
    /// one.
    pub(in crate::engine) fn run_sla_if_full(&mut self) {
        if self.sla_steps.queued.len() >= STEPS_PER_RUN {
            self.end_batch();
        }
    }

    fn run(&mut self, step: Step) {
        let Step {
            ticket,
            slot,
            at,
            clock_ms,
            op,
        } = step;
        self.fire_due(clock_ms);
        // What of this ticket fell due by its event fires before the event
        // (its clocks are judged in the order of its events). Most events
        // find nothing due at all.
        if self.state.sla.any_due(at.ts) {
            self.on_clocks(ticket, slot, at, |sla, c| sla.catch_up(ticket, c, at.ts));
        }
        let queues = &self.state.queues;
        let now = at.ts;
        match op {
            Op::Release => self.state.sla.release(ticket, slot),
            Op::Create {
                name,
                long_name,
                queue,
                channel,
                terms,
            } => {
                let new = NewTicket {
                    id: ticket,
                    name,
                    long_name,
                    queue: queues.name(queue),
                    channel,
                };
                let clocks = self.state.sla.create(new, terms, now);
                self.state.sla.with_clocks(slot, |_, c| *c = clocks);
            }
            Op::Start(kind) => {
                self.on_clocks(ticket, slot, at, |sla, c| sla.start(ticket, c, kind, now))
            }
            Op::Stop(kind) => {
                self.on_clocks(ticket, slot, at, |sla, c| sla.stop(ticket, c, kind, now))
            }
            Op::Resolve => self.on_clocks(ticket, slot, at, |sla, c| sla.resolve(ticket, c, now)),
            Op::Change {
                after,
                reselect,
                awaits,
            } => {
                let queue = reselect.then(|| queues.name(after.queue).to_owned());
                self.on_clocks(ticket, slot, at, |sla, c| {
                    sla.change(ticket, c, after, queue.as_deref(), awaits, now)
                })
            }
        }
    }

    /// Fires every deadline due by `now_ms`, each at its own instant.
    fn fire_due(&mut self, now_ms: i64) {
        while let Some((due_ms, ticket)) = self.state.sla.pop_due(now_ms) {
            let slot = match self.state.tickets.get(&ticket) {
                Some(t) => t.sla,
                None => self
                    .sla_steps
                    .closing
                    .iter()
                    .find(|c| c.0 == ticket)
                    .map(|c| c.1),
            };
            let Some(slot) = slot else {
                continue;
            };
            // Firing gives only breaches, each counted at its deadline;
            // nothing met comes of it to place in the windows.
            let firing = At {
                ts: due_ms,
                in_windows: false,
            };
            self.on_clocks(ticket, slot, firing, |sla, c| sla.fire(ticket, c, due_ms));
        }
    }

    /// Runs `op` on the clocks in `slot`, and counts what it decided for
    /// the event `at` under the ticket's labels after it.
    fn on_clocks(
        &mut self,
        ticket: u64,
        slot: Slot,
        at: At,
        op: impl FnOnce(&mut Sla, &mut TicketClocks),
    ) {
        let (dims, name) = self.state.sla.with_clocks(slot, |sla, clocks| {
            op(sla, clocks);
            (clocks.dims(), breached_ticket(sla, ticket, clocks))
        });
        self.count_sla(dims, at, name);
    }

    /// Counts the verdicts of the last SLA call under the ticket's labels
    /// `dims`: the counters, the compliance windows as SPEC §4.4 places
    /// them (a met clock at its event, unless late; a breach at its
    /// deadline, late or not) and the business-time histograms.
    // Out of line, as the clock operations are (see clocks.rs).
    #[inline(never)]
    fn count_sla(&mut self, dims: TicketDims, event: At, ticket_name: Option<Box<str>>) {
        if self.state.sla.verdicts.is_empty() {
            return;
        }
        // Taken out and put back, so that counting can borrow the engine
        // while the buffer keeps its allocation.
        let mut verdicts = std::mem::take(&mut self.state.sla.verdicts);
        for verdict in verdicts.drain(..) {
            let (kind, business_ms) = match verdict {
                Verdict::Met {
                    kind, business_ms, ..
                } => {
                    self.cumulative
                        .count_ticket(dims, TicketCounter::SlaMet(kind));
                    let met = Count::sla(kind, true);
                    self.record(event, Some(dims.queue), None, |t| t.add(met, 1));
                    (kind, business_ms)
                }
                Verdict::Breached { kind, at_ms } => {
                    self.cumulative
                        .count_ticket(dims, TicketCounter::SlaBreached(kind));
                    if let Some(name) = &ticket_name {
                        self.cumulative
                            .remember_breach(dims, kind, name.clone(), at_ms);
                    }
                    let deadline = At {
                        ts: at_ms,
                        in_windows: true,
                    };
                    let breached = Count::sla(kind, false);
                    self.record(deadline, Some(dims.queue), None, |t| t.add(breached, 1));
                    continue;
                }
                Verdict::StoppedLate { kind, business_ms } => (kind, business_ms),
            };
            if let Some(ms) = business_ms {
                self.cumulative
                    .observe_business(dims, kind, ms.max(0) as u64);
            }
        }
        self.state.sla.verdicts = verdicts;
    }
}

/// The id of the ticket whose clocks the last call breached, for the
/// breach counter's exemplar; copied only when something breached.
fn breached_ticket(sla: &Sla, ticket: u64, clocks: &TicketClocks) -> Option<Box<str>> {
    let breached = sla
        .verdicts
        .iter()
        .any(|v| matches!(v, Verdict::Breached { .. }));
    breached
        .then(|| sla.ticket_name(ticket, clocks))
        .flatten()
        .map(Box::from)
}

#[cfg(test)]
mod tests;
