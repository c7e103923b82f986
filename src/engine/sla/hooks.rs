//! Where the engine drives a ticket's SLA clocks from its events and the
//! timer, and counts what they decide under the ticket's labels.

use super::super::Engine;
use super::clocks::{Sla, Terms, TicketClocks, Verdict};
use crate::engine::cumulative::TicketCounter;
use crate::engine::tickets::Ticket;

impl Engine {
    /// Fires every SLA deadline before `now_ms` (SPEC §4.4): after each
    /// accepted event with the clock, and at the export instant.
    pub fn advance(&mut self, now_ms: i64) {
        if !self.settings.sla_on {
            return;
        }
        while let Some((at, ticket)) = self.sla.pop_due(now_ms) {
            if let Some(t) = self.tickets.get_mut(&ticket) {
                let terms = t.sla_terms();
                if let Some(clocks) = t.sla.as_deref_mut() {
                    self.sla.fire(ticket, clocks, &terms, at);
                }
            }
            self.count_sla(ticket);
        }
    }

    /// What of `ticket` fell due before its event at `ts` applies, so that
    /// its clocks are judged in the order of its events.
    pub(in crate::engine) fn sla_catch_up(&mut self, ticket: u64, ts: i64) {
        self.sla_op(ticket, |sla, c, terms| sla.catch_up(ticket, c, terms, ts));
    }

    /// Runs `op` on a ticket's clocks under its terms now, and counts what
    /// it decided.
    pub(in crate::engine) fn sla_op(
        &mut self,
        ticket: u64,
        op: impl FnOnce(&mut Sla, &mut TicketClocks, &Terms),
    ) {
        if !self.settings.sla_on {
            return;
        }
        if let Some(t) = self.tickets.get_mut(&ticket) {
            let terms = t.sla_terms();
            if let Some(clocks) = t.sla.as_deref_mut() {
                op(&mut self.sla, clocks, &terms);
            }
        }
        self.count_sla(ticket);
    }

    /// The ticket's status, priority or queue changed from `before`; with
    /// `reselect` its policy is chosen again (SPEC §4.2).
    pub(in crate::engine) fn sla_change(
        &mut self,
        ticket: u64,
        before: Terms,
        reselect: bool,
        ts: i64,
    ) {
        if !self.settings.sla_on {
            return;
        }
        if let Some(t) = self.tickets.get_mut(&ticket) {
            let place = reselect.then(|| (self.queues.name(t.queue), t.channel));
            let (after, awaits) = (t.sla_terms(), t.sla_awaits());
            if let Some(clocks) = t.sla.as_deref_mut() {
                self.sla
                    .change(ticket, clocks, &before, &after, place, awaits, ts);
            }
        }
        self.count_sla(ticket);
    }

    /// Counts the verdicts of the last SLA calls under the ticket's labels.
    pub(in crate::engine) fn count_sla(&mut self, ticket: u64) {
        let Some(dims) = self.tickets.get(&ticket).map(Ticket::dims) else {
            self.sla.verdicts.clear();
            return;
        };
        for verdict in self.sla.verdicts.drain(..) {
            let counter = match verdict {
                Verdict::Met { kind, .. } => TicketCounter::SlaMet(kind),
                Verdict::Breached { kind, .. } => TicketCounter::SlaBreached(kind),
                Verdict::StoppedLate { .. } => continue,
            };
            self.cumulative.count_ticket(dims, counter);
        }
    }
}
