//! Customers (SPEC §1.3, §1.5, §7.8–7.9, §7.12): sign-ups and churn for retention,
//! and what they say of their tickets in CSAT, NPS and CES surveys, with
//! the internal quality reviews that score the same tickets.

use super::cumulative::{TicketCounter, TicketDims};
use super::rules::{KpiRules, NpsCategory};
use super::windows::Count;
use super::{At, Engine, NO_AGENT};
use crate::decode::{Channel, Kind, Priority, Reject};

impl Engine {
    /// Applies a customer or survey event; events of other domains change
    /// nothing here.
    pub(super) fn apply_customer(&mut self, kind: Kind<'_>, at: At) -> Result<(), Reject> {
        match kind {
            Kind::Csat {
                score,
                ticket,
                agent,
                ..
            } => {
                let (dims, agent) = self.survey_dims(ticket, agent.as_deref());
                let satisfied = self.settings.kpi.csat_satisfied(score);
                let counter = if satisfied {
                    TicketCounter::CsatSatisfied
                } else {
                    TicketCounter::CsatUnsatisfied
                };
                self.cumulative.count_ticket(dims, counter);
                self.record(at, Some(dims.queue), agent, |tally| {
                    tally.add(Count::CsatResponses, 1);
                    tally.add(Count::CsatSatisfied, satisfied as u64);
                });
            }
            Kind::Nps { score, .. } => {
                let (dims, _) = self.survey_dims(None, None);
                let (counter, count) = match KpiRules::nps_category(score) {
                    NpsCategory::Promoter => (TicketCounter::NpsPromoter, Count::NpsPromoters),
                    NpsCategory::Passive => (TicketCounter::NpsPassive, Count::NpsPassives),
                    NpsCategory::Detractor => (TicketCounter::NpsDetractor, Count::NpsDetractors),
                };
                self.cumulative.count_ticket(dims, counter);
                self.record(at, Some(dims.queue), None, |tally| tally.add(count, 1));
            }
            Kind::Ces { score, ticket, .. } => {
                let (dims, _) = self.survey_dims(ticket, None);
                self.record(at, Some(dims.queue), None, |tally| {
                    tally.add(Count::CesSum, score as u64);
                    tally.add(Count::CesResponses, 1);
                });
            }
            Kind::Iqs {
                score,
                ticket,
                agent,
            } => {
                let (dims, agent) = self.survey_dims(ticket, agent.as_deref());
                self.record(at, Some(dims.queue), agent, |tally| {
                    tally.add(Count::IqsSum, score as u64);
                    tally.add(Count::IqsReviews, 1);
                });
            }
            Kind::SignedUp { customer } => {
                // A repeated sign-up is not a new customer.
                let new = self.state.customers.insert(customer);
                if new {
                    self.record(at, None, None, |tally| tally.add(Count::SignUps, 1));
                }
            }
            Kind::Churned { customer } => {
                self.state.customers.remove(&customer);
                self.record(at, None, None, |tally| tally.add(Count::Churns, 1));
            }
            _ => {}
        }
        Ok(())
    }

    /// Channel, priority, queue and agent of the ticket a survey names;
    /// `unknown` dimensions when it names none we hold (§7.12).
    /// The survey's own `agent` wins over its ticket's (README).
    fn survey_dims(
        &mut self,
        ticket: Option<u64>,
        agent: Option<&str>,
    ) -> (TicketDims, Option<u16>) {
        let agent = agent.map(|a| self.state.agent_labels.intern(a));
        match ticket.and_then(|id| self.state.tickets.get(&id)) {
            Some(t) => (t.dims(), agent.or((t.agent != NO_AGENT).then_some(t.agent))),
            None => (
                TicketDims {
                    channel: Channel::Unknown,
                    priority: Priority::Normal,
                    queue: self.state.queues.intern_or_unknown(None),
                },
                agent,
            ),
        }
    }
}
