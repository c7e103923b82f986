//! Where the engine drives a ticket's SLA clocks from its events and the
//! timer, and counts what they decide under the ticket's labels.

use super::clocks::{Sla, Terms, TicketClocks, Verdict};
use crate::engine::cumulative::{TicketCounter, TicketDims};
use crate::engine::windows::Count;
use crate::engine::{At, Engine};

impl Engine {
    /// Fires every SLA deadline before `now_ms` (SPEC §4.4): after each
    /// accepted event with the clock, at the export instant, and live by
    /// the wall clock.
    pub fn advance(&mut self, now_ms: i64) {
        if !self.settings.sla_on {
            return;
        }
        while let Some((due_ms, ticket)) = self.state.sla.pop_due(now_ms) {
            let Some(t) = self.state.tickets.get_mut(&ticket) else {
                continue;
            };
            let (terms, dims) = (t.sla_terms(), t.dims());
            let Some(slot) = t.sla else {
                continue;
            };
            let name = self.state.sla.with_clocks(slot, |sla, clocks| {
                sla.fire(ticket, clocks, &terms, due_ms);
                breached_ticket(sla, ticket, clocks)
            });
            // Firing gives only breaches, each counted at its deadline;
            // nothing met comes of it to place in the windows.
            let firing = At {
                ts: due_ms,
                in_windows: false,
            };
            self.count_sla(dims, firing, name);
        }
    }

    /// What of `ticket` fell due before its event applies, so that its
    /// clocks are judged in the order of its events.
    pub(in crate::engine) fn sla_catch_up(&mut self, ticket: u64, at: At) {
        // Every ticket's next instant is in the timer: most events find
        // nothing due there and skip the ticket lookup.
        if !self.state.sla.any_due(at.ts) {
            return;
        }
        self.sla_op(ticket, at, |sla, c, terms| {
            sla.catch_up(ticket, c, terms, at.ts)
        });
    }

    /// Runs `op` on a ticket's clocks under its terms now, and counts what
    /// it decided for the event `at`.
    pub(in crate::engine) fn sla_op(
        &mut self,
        ticket: u64,
        at: At,
        op: impl FnOnce(&mut Sla, &mut TicketClocks, &Terms),
    ) {
        if !self.settings.sla_on {
            return;
        }
        let Some(t) = self.state.tickets.get_mut(&ticket) else {
            return;
        };
        let (terms, dims) = (t.sla_terms(), t.dims());
        let Some(slot) = t.sla else {
            return;
        };
        let name = self.state.sla.with_clocks(slot, |sla, clocks| {
            op(sla, clocks, &terms);
            breached_ticket(sla, ticket, clocks)
        });
        self.count_sla(dims, at, name);
    }

    /// The ticket's status, priority or queue changed from `before` at
    /// the event `at`; with `reselect` its policy is chosen again (§4.2).
    pub(in crate::engine) fn sla_change(
        &mut self,
        ticket: u64,
        before: Terms,
        reselect: bool,
        at: At,
    ) {
        if !self.settings.sla_on {
            return;
        }
        let Some(t) = self.state.tickets.get_mut(&ticket) else {
            return;
        };
        let place = reselect.then(|| (self.state.queues.name(t.queue), t.channel));
        let (after, awaits, dims) = (t.sla_terms(), t.sla_awaits(), t.dims());
        let Some(slot) = t.sla else {
            return;
        };
        let name = self.state.sla.with_clocks(slot, |sla, clocks| {
            sla.change(ticket, clocks, &before, &after, place, awaits, at.ts);
            breached_ticket(sla, ticket, clocks)
        });
        self.count_sla(dims, at, name);
    }

    /// Counts the verdicts of the last SLA call under the ticket's labels
    /// `dims` (after the change, for a change):
    /// the counters, the compliance windows as SPEC §4.4 places them (a met
    /// clock at its event, unless late; a breach at its deadline, late or
    /// not) and the business-time histograms.
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
