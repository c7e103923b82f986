//! The name and help of each KPI kind the engine counts.

use crate::engine::cumulative::{InteractionOutcome, TicketCounter};
use crate::engine::windows::Timer;
use crate::kpi::Gauge;

pub(super) fn timer_name(timer: Timer) -> (&'static str, &'static str) {
    match timer {
        Timer::FirstResponse => (
            "first_response",
            "first public agent reply minus ticket creation",
        ),
        Timer::NextReply => (
            "next_reply",
            "agent reply minus the earliest unanswered customer reply",
        ),
        Timer::Resolution => ("resolution", "first resolution minus ticket creation"),
        Timer::Handle => (
            "handle",
            "talk plus hold plus after-call work per handled interaction",
        ),
        Timer::AnswerWait => (
            "answer_wait",
            "answer minus queue entry per answered interaction",
        ),
    }
}

pub(super) fn gauge_name(gauge: Gauge) -> (&'static str, &'static str) {
    match gauge {
        Gauge::Csat => ("csat_ratio", "satisfied CSAT responses / all CSAT responses"),
        Gauge::Nps => ("nps_score", "% promoters - % detractors, -100..100"),
        Gauge::Ces => ("ces_score", "mean customer effort score"),
        Gauge::Iqs => ("iqs_score", "mean internal quality review score"),
        Gauge::FirstContactResolution => (
            "first_contact_resolution_ratio",
            "first resolutions with one public reply and no customer reply after it / first resolutions",
        ),
        Gauge::Resolution => ("resolution_ratio", "resolutions / tickets created"),
        Gauge::Reopen => ("reopen_ratio", "reopens / resolutions"),
        Gauge::ServiceLevel => (
            "service_level_ratio",
            "answered within threshold / (answered + abandoned after threshold)",
        ),
        Gauge::Abandon => ("abandon_ratio", "abandoned / (answered + abandoned)"),
        Gauge::RepeatCustomer => (
            "repeat_customer_ratio",
            "customers with more than one ticket / customers with a ticket",
        ),
        Gauge::TicketsPerCustomer => ("tickets_per_customer", "tickets naming a customer / distinct customers"),
        Gauge::AgentUtilization => ("agent_utilization_ratio", "agent time busy / time not offline"),
        Gauge::Retention => ("retention_ratio", "(active now - signed up in window) / active at window start"),
        Gauge::Churn => ("churn_ratio", "churned in window / active at window start"),
    }
}

pub(super) fn counter_name(
    counter: TicketCounter,
) -> (
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
) {
    match counter {
        TicketCounter::Created => ("tickets_created_total", "tickets created", None),
        TicketCounter::Resolved => (
            "tickets_resolved_total",
            "ticket resolutions, re-resolutions included",
            None,
        ),
        TicketCounter::Reopened => ("tickets_reopened_total", "tickets reopened", None),
        TicketCounter::FirstContactResolutions => (
            "first_contact_resolutions_total",
            "first resolutions with one public reply and no customer reply after it",
            None,
        ),
        TicketCounter::CsatSatisfied => (
            "csat_responses_total",
            "CSAT responses",
            Some(("satisfied", "true")),
        ),
        TicketCounter::CsatUnsatisfied => (
            "csat_responses_total",
            "CSAT responses",
            Some(("satisfied", "false")),
        ),
        TicketCounter::NpsPromoter => (
            "nps_responses_total",
            "NPS responses",
            Some(("category", "promoter")),
        ),
        TicketCounter::NpsPassive => (
            "nps_responses_total",
            "NPS responses",
            Some(("category", "passive")),
        ),
        TicketCounter::NpsDetractor => (
            "nps_responses_total",
            "NPS responses",
            Some(("category", "detractor")),
        ),
        TicketCounter::SlaMet(kind) => (
            "sla_met_total",
            "SLA clocks stopped within their target",
            Some(("sla", kind.as_str())),
        ),
        TicketCounter::SlaBreached(kind) => (
            "sla_breaches_total",
            "SLA clocks whose deadline passed while they ran",
            Some(("sla", kind.as_str())),
        ),
    }
}

pub(super) fn outcome_name(outcome: InteractionOutcome) -> &'static str {
    match outcome {
        InteractionOutcome::Answered => "answered",
        InteractionOutcome::Abandoned => "abandoned",
        InteractionOutcome::Blocked => "blocked",
    }
}
