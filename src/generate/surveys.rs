//! Surveys and reviews: CSAT, CES and IQS about a resolved ticket, NPS
//! on their own.

use std::fmt::Write;

use super::fields::{agent_field, customer_field, ticket_field};
use super::Generator;

impl Generator {
    pub(super) fn survey(&mut self, s: Survey, now: i64, out: &mut String) {
        let (kind, score) = match s.kind {
            SurveyKind::Csat => ("survey.csat", 1 + self.rng.pick(&[6, 5, 9, 28, 52])),
            SurveyKind::Nps => (
                "survey.nps",
                self.rng.pick(&[2, 1, 1, 2, 2, 4, 6, 10, 14, 26, 32]),
            ),
            SurveyKind::Ces => ("survey.ces", 1 + self.rng.pick(&[3, 4, 6, 10, 20, 30, 27])),
            SurveyKind::Iqs => (
                "review.iqs",
                (84.0 + 9.0 * self.rng.normal()).round().clamp(0.0, 100.0) as usize,
            ),
        };
        self.begin(out, kind, now);
        put!(out, r#","score":{score}"#);
        if let Some(ticket) = s.ticket {
            ticket_field(out, ticket);
        }
        // Reviews are about the agent, not the customer.
        if s.kind != SurveyKind::Iqs {
            customer_field(out, s.customer);
        }
        let names_agent = match s.kind {
            SurveyKind::Csat => self.rng.chance(0.5),
            SurveyKind::Iqs => true,
            _ => false,
        };
        if let (true, Some(agent)) = (names_agent, s.agent) {
            agent_field(out, agent);
        }
    }
}

#[derive(Clone, Copy)]
pub(super) struct Survey {
    pub(super) kind: SurveyKind,
    pub(super) ticket: Option<u64>,
    pub(super) customer: u32,
    pub(super) agent: Option<u16>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SurveyKind {
    Csat,
    Nps,
    Ces,
    Iqs,
}
