//! The event types of SPEC §1, the fields each reads and which of them
//! it needs, and the checks of §7.1 on their values: type first, range
//! later.

use super::raw::{Field, Raw};
use super::values::{agent_status, outcome, priority, ticket_status};

/// The event types of SPEC §1, in the order of the spec's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    TicketCreated,
    TicketAssigned,
    AgentReplied,
    CustomerReplied,
    StatusChanged,
    TicketUpdated,
    Resolved,
    Reopened,
    Closed,
    Csat,
    Nps,
    Ces,
    Iqs,
    Queued,
    Answered,
    HoldStarted,
    HoldEnded,
    InteractionEnded,
    WrapupEnded,
    Abandoned,
    Blocked,
    Completed,
    AgentStatusChanged,
    SignedUp,
    Churned,
}

impl EventType {
    pub const ALL: [EventType; 25] = [
        EventType::TicketCreated,
        EventType::TicketAssigned,
        EventType::AgentReplied,
        EventType::CustomerReplied,
        EventType::StatusChanged,
        EventType::TicketUpdated,
        EventType::Resolved,
        EventType::Reopened,
        EventType::Closed,
        EventType::Csat,
        EventType::Nps,
        EventType::Ces,
        EventType::Iqs,
        EventType::Queued,
        EventType::Answered,
        EventType::HoldStarted,
        EventType::HoldEnded,
        EventType::InteractionEnded,
        EventType::WrapupEnded,
        EventType::Abandoned,
        EventType::Blocked,
        EventType::Completed,
        EventType::AgentStatusChanged,
        EventType::SignedUp,
        EventType::Churned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::TicketCreated => "ticket.created",
            EventType::TicketAssigned => "ticket.assigned",
            EventType::AgentReplied => "ticket.agent_replied",
            EventType::CustomerReplied => "ticket.customer_replied",
            EventType::StatusChanged => "ticket.status_changed",
            EventType::TicketUpdated => "ticket.updated",
            EventType::Resolved => "ticket.resolved",
            EventType::Reopened => "ticket.reopened",
            EventType::Closed => "ticket.closed",
            EventType::Csat => "survey.csat",
            EventType::Nps => "survey.nps",
            EventType::Ces => "survey.ces",
            EventType::Iqs => "review.iqs",
            EventType::Queued => "interaction.queued",
            EventType::Answered => "interaction.answered",
            EventType::HoldStarted => "interaction.hold_started",
            EventType::HoldEnded => "interaction.hold_ended",
            EventType::InteractionEnded => "interaction.ended",
            EventType::WrapupEnded => "interaction.wrapup_ended",
            EventType::Abandoned => "interaction.abandoned",
            EventType::Blocked => "interaction.blocked",
            EventType::Completed => "interaction.completed",
            EventType::AgentStatusChanged => "agent.status_changed",
            EventType::SignedUp => "customer.signed_up",
            EventType::Churned => "customer.churned",
        }
    }

    pub(super) fn from_str(s: &str) -> Option<EventType> {
        // Looked up on every event: a hash map rather than 25 comparisons.
        static BY_NAME: std::sync::OnceLock<rustc_hash::FxHashMap<&'static str, EventType>> =
            std::sync::OnceLock::new();
        BY_NAME
            .get_or_init(|| EventType::ALL.iter().map(|t| (t.as_str(), *t)).collect())
            .get(s)
            .copied()
    }

    /// Fields this type reads, and which of them must be present.
    pub(super) fn rules(self) -> &'static [(Field, Check, Need)] {
        use Check::*;
        use Field::*;
        use Need::*;
        match self {
            EventType::TicketCreated => &[
                (TicketId, Text, Required),
                (Channel, Text, Optional),
                (Priority, PriorityValue, Optional),
                (Queue, Text, Optional),
                (Category, Text, Optional),
                (CustomerId, Text, Optional),
            ],
            EventType::TicketAssigned => &[
                (TicketId, Text, Required),
                (AgentId, Text, Required),
                (Queue, Text, Optional),
            ],
            EventType::AgentReplied => &[
                (TicketId, Text, Required),
                (AgentId, Text, Required),
                (Public, Flag, Optional),
            ],
            EventType::CustomerReplied | EventType::Reopened | EventType::Closed => {
                &[(TicketId, Text, Required)]
            }
            EventType::StatusChanged => &[
                (TicketId, Text, Required),
                (Status, TicketStatusValue, Required),
            ],
            EventType::TicketUpdated => &[
                (TicketId, Text, Required),
                (Priority, PriorityValue, Optional),
                (Queue, Text, Optional),
                (Category, Text, Optional),
            ],
            EventType::Resolved => &[
                (TicketId, Text, Required),
                (AgentId, Text, Optional),
                (Outcome, OutcomeValue, Optional),
            ],
            EventType::Csat => &[
                (Score, IntIn(1, 5), Required),
                (TicketId, Text, Optional),
                (CustomerId, Text, Optional),
                (AgentId, Text, Optional),
            ],
            EventType::Nps => &[
                (Score, IntIn(0, 10), Required),
                (CustomerId, Text, Optional),
            ],
            EventType::Ces => &[
                (Score, IntIn(1, 7), Required),
                (TicketId, Text, Optional),
                (CustomerId, Text, Optional),
            ],
            EventType::Iqs => &[
                (Score, IntIn(0, 100), Required),
                (TicketId, Text, Optional),
                (AgentId, Text, Optional),
            ],
            EventType::Queued => &[
                (InteractionId, Text, Required),
                (Queue, Text, Required),
                (Channel, Text, Optional),
                (CustomerId, Text, Optional),
                (TicketId, Text, Optional),
            ],
            EventType::Answered => &[(InteractionId, Text, Required), (AgentId, Text, Required)],
            EventType::HoldStarted
            | EventType::HoldEnded
            | EventType::InteractionEnded
            | EventType::WrapupEnded
            | EventType::Abandoned
            | EventType::Blocked => &[(InteractionId, Text, Required)],
            EventType::Completed => &[
                (InteractionId, Text, Required),
                (WaitS, Seconds, Required),
                (TalkS, Seconds, Required),
                (HoldS, Seconds, Optional),
                (AcwS, Seconds, Optional),
                (Queue, Text, Optional),
                (Channel, Text, Optional),
                (AgentId, Text, Optional),
            ],
            EventType::AgentStatusChanged => &[
                (AgentId, Text, Required),
                (Status, AgentStatusValue, Required),
            ],
            EventType::SignedUp | EventType::Churned => &[(CustomerId, Text, Required)],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Need {
    Required,
    Optional,
}

/// What a field's value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Check {
    Text,
    Flag,
    /// A JSON integer; out of the inclusive range is `out_of_range`.
    IntIn(i64, i64),
    /// A non-negative number of seconds.
    Seconds,
    PriorityValue,
    TicketStatusValue,
    AgentStatusValue,
    OutcomeValue,
}

impl Check {
    /// Is the value of the right JSON type and, for enumerations, one of
    /// the listed values? Ranges are checked later, as §7.1 orders.
    pub(super) fn well_typed(self, raw: &Raw) -> bool {
        match (self, raw) {
            (Check::Text, Raw::Str(_)) => true,
            (Check::Flag, Raw::Bool(_)) => true,
            (Check::IntIn(..), Raw::Int(_) | Raw::BigInt) => true,
            (Check::Seconds, Raw::Int(_) | Raw::BigInt | Raw::Float(_)) => true,
            (Check::PriorityValue, Raw::Str(s)) => priority(s).is_some(),
            (Check::TicketStatusValue, Raw::Str(s)) => ticket_status(s).is_some(),
            (Check::AgentStatusValue, Raw::Str(s)) => agent_status(s).is_some(),
            (Check::OutcomeValue, Raw::Str(s)) => outcome(s).is_some(),
            _ => false,
        }
    }

    pub(super) fn in_range(self, raw: &Raw) -> bool {
        match (self, raw) {
            (Check::IntIn(lo, hi), Raw::Int(v)) => (lo..=hi).contains(v),
            (Check::IntIn(..), Raw::BigInt) => false,
            (Check::Seconds, Raw::Int(v)) => *v >= 0,
            (Check::Seconds, Raw::Float(v)) => *v >= 0.0,
            (Check::Seconds, Raw::BigInt) => false,
            _ => true,
        }
    }
}
