//! The typed event an accepted line becomes, and how it is built from
//! fields already checked.

use std::borrow::Cow;

use super::raw::{Field, Raw, RawEvent};
use super::rules::EventType;
use super::values::{
    agent_status, outcome, priority, ticket_status, AgentStatus, Channel, Outcome, Priority,
    TicketStatus,
};

/// 64-bit hash of an input id. Ids are kept as hashes so that state per
/// ticket stays small; a collision needs billions of live ids.
pub fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

/// An accepted event. Ids are hashed ([`id_hash`]); label values stay text
/// until the engine folds them under the cardinality limits.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub id: u64,
    /// Event time, epoch milliseconds.
    pub ts: i64,
    pub kind: Kind<'a>,
}

type Text<'a> = Option<Cow<'a, str>>;

#[derive(Debug, Clone)]
pub enum Kind<'a> {
    TicketCreated {
        ticket: u64,
        /// The id as sent, kept only for what must name the ticket later
        /// (the exemplar of an SLA breach).
        ticket_id: Cow<'a, str>,
        channel: Channel,
        priority: Priority,
        queue: Text<'a>,
        category: Text<'a>,
        customer: Option<u64>,
    },
    TicketAssigned {
        ticket: u64,
        agent: Cow<'a, str>,
        queue: Text<'a>,
    },
    AgentReplied {
        ticket: u64,
        agent: Cow<'a, str>,
        public: bool,
    },
    CustomerReplied {
        ticket: u64,
    },
    StatusChanged {
        ticket: u64,
        status: TicketStatus,
    },
    TicketUpdated {
        ticket: u64,
        priority: Option<Priority>,
        queue: Text<'a>,
        category: Text<'a>,
    },
    Resolved {
        ticket: u64,
        agent: Text<'a>,
        outcome: Option<Outcome>,
    },
    Reopened {
        ticket: u64,
    },
    Closed {
        ticket: u64,
    },
    Csat {
        score: i64,
        ticket: Option<u64>,
        customer: Option<u64>,
        agent: Text<'a>,
    },
    Nps {
        score: i64,
        customer: Option<u64>,
    },
    Ces {
        score: i64,
        ticket: Option<u64>,
        customer: Option<u64>,
    },
    Iqs {
        score: i64,
        ticket: Option<u64>,
        agent: Text<'a>,
    },
    Queued {
        interaction: u64,
        queue: Cow<'a, str>,
        channel: Channel,
        customer: Option<u64>,
        ticket: Option<u64>,
    },
    Answered {
        interaction: u64,
        agent: Cow<'a, str>,
    },
    HoldStarted {
        interaction: u64,
    },
    HoldEnded {
        interaction: u64,
    },
    InteractionEnded {
        interaction: u64,
    },
    WrapupEnded {
        interaction: u64,
    },
    Abandoned {
        interaction: u64,
    },
    Blocked {
        interaction: u64,
    },
    Completed {
        queue: Text<'a>,
        channel: Channel,
        agent: Text<'a>,
        wait_ms: i64,
        talk_ms: i64,
        hold_ms: i64,
        acw_ms: i64,
    },
    AgentStatusChanged {
        agent: Cow<'a, str>,
        status: AgentStatus,
    },
    SignedUp {
        customer: u64,
    },
    Churned {
        customer: u64,
    },
    /// A type named only by a custom ratio of the config.
    Custom,
}

/// Builds the typed event from fields already checked against the rules.
pub(super) fn build_kind<'a>(t: EventType, raw: &mut RawEvent<'a>) -> Kind<'a> {
    let mut take = |f: Field| std::mem::take(&mut raw.fields[f as usize]);
    fn text<'a>(r: Raw<'a>) -> Option<Cow<'a, str>> {
        match r {
            Raw::Str(s) => Some(s),
            _ => None,
        }
    }
    // Required fields were checked present and well typed; the defaults
    // below are never used for them.
    let id = |r: Raw<'a>| text(r).map(|s| id_hash(&s));
    let score = |r: Raw<'a>| match r {
        Raw::Int(v) => v,
        _ => 0,
    };
    let millis = |r: Raw<'a>| match r {
        Raw::Int(v) => v.saturating_mul(1000),
        Raw::Float(v) => (v * 1000.0) as i64,
        _ => 0,
    };
    let channel =
        |r: Raw<'a>, default: Channel| text(r).map_or(default, |s| Channel::from_input(&s));
    let enumerated = |r: Raw<'a>| text(r).unwrap_or_default();

    match t {
        EventType::TicketCreated => {
            let ticket_id = text(take(Field::TicketId)).unwrap_or_default();
            Kind::TicketCreated {
                ticket: id_hash(&ticket_id),
                ticket_id,
                channel: channel(take(Field::Channel), Channel::Unknown),
                priority: priority(&enumerated(take(Field::Priority))).unwrap_or(Priority::Normal),
                queue: text(take(Field::Queue)),
                category: text(take(Field::Category)),
                customer: id(take(Field::CustomerId)),
            }
        }
        EventType::TicketAssigned => Kind::TicketAssigned {
            ticket: id(take(Field::TicketId)).unwrap_or_default(),
            agent: text(take(Field::AgentId)).unwrap_or_default(),
            queue: text(take(Field::Queue)),
        },
        EventType::AgentReplied => Kind::AgentReplied {
            ticket: id(take(Field::TicketId)).unwrap_or_default(),
            agent: text(take(Field::AgentId)).unwrap_or_default(),
            public: !matches!(take(Field::Public), Raw::Bool(false)),
        },
        EventType::CustomerReplied => Kind::CustomerReplied {
            ticket: id(take(Field::TicketId)).unwrap_or_default(),
        },
        EventType::StatusChanged => Kind::StatusChanged {
            ticket: id(take(Field::TicketId)).unwrap_or_default(),
            status: ticket_status(&enumerated(take(Field::Status))).unwrap_or(TicketStatus::Open),
        },
        EventType::TicketUpdated => Kind::TicketUpdated {
            ticket: id(take(Field::TicketId)).unwrap_or_default(),
            priority: priority(&enumerated(take(Field::Priority))),
            queue: text(take(Field::Queue)),
            category: text(take(Field::Category)),
        },
        EventType::Resolved => Kind::Resolved {
            ticket: id(take(Field::TicketId)).unwrap_or_default(),
            agent: text(take(Field::AgentId)),
            outcome: outcome(&enumerated(take(Field::Outcome))),
        },
        EventType::Reopened => Kind::Reopened {
            ticket: id(take(Field::TicketId)).unwrap_or_default(),
        },
        EventType::Closed => Kind::Closed {
            ticket: id(take(Field::TicketId)).unwrap_or_default(),
        },
        EventType::Csat => Kind::Csat {
            score: score(take(Field::Score)),
            ticket: id(take(Field::TicketId)),
            customer: id(take(Field::CustomerId)),
            agent: text(take(Field::AgentId)),
        },
        EventType::Nps => Kind::Nps {
            score: score(take(Field::Score)),
            customer: id(take(Field::CustomerId)),
        },
        EventType::Ces => Kind::Ces {
            score: score(take(Field::Score)),
            ticket: id(take(Field::TicketId)),
            customer: id(take(Field::CustomerId)),
        },
        EventType::Iqs => Kind::Iqs {
            score: score(take(Field::Score)),
            ticket: id(take(Field::TicketId)),
            agent: text(take(Field::AgentId)),
        },
        EventType::Queued => Kind::Queued {
            interaction: id(take(Field::InteractionId)).unwrap_or_default(),
            queue: text(take(Field::Queue)).unwrap_or_default(),
            channel: channel(take(Field::Channel), Channel::Phone),
            customer: id(take(Field::CustomerId)),
            ticket: id(take(Field::TicketId)),
        },
        EventType::Answered => Kind::Answered {
            interaction: id(take(Field::InteractionId)).unwrap_or_default(),
            agent: text(take(Field::AgentId)).unwrap_or_default(),
        },
        EventType::HoldStarted => Kind::HoldStarted {
            interaction: id(take(Field::InteractionId)).unwrap_or_default(),
        },
        EventType::HoldEnded => Kind::HoldEnded {
            interaction: id(take(Field::InteractionId)).unwrap_or_default(),
        },
        EventType::InteractionEnded => Kind::InteractionEnded {
            interaction: id(take(Field::InteractionId)).unwrap_or_default(),
        },
        EventType::WrapupEnded => Kind::WrapupEnded {
            interaction: id(take(Field::InteractionId)).unwrap_or_default(),
        },
        EventType::Abandoned => Kind::Abandoned {
            interaction: id(take(Field::InteractionId)).unwrap_or_default(),
        },
        EventType::Blocked => Kind::Blocked {
            interaction: id(take(Field::InteractionId)).unwrap_or_default(),
        },
        EventType::Completed => Kind::Completed {
            queue: text(take(Field::Queue)),
            channel: channel(take(Field::Channel), Channel::Unknown),
            agent: text(take(Field::AgentId)),
            wait_ms: millis(take(Field::WaitS)),
            talk_ms: millis(take(Field::TalkS)),
            hold_ms: millis(take(Field::HoldS)),
            acw_ms: millis(take(Field::AcwS)),
        },
        EventType::AgentStatusChanged => Kind::AgentStatusChanged {
            agent: text(take(Field::AgentId)).unwrap_or_default(),
            status: agent_status(&enumerated(take(Field::Status))).unwrap_or(AgentStatus::Offline),
        },
        EventType::SignedUp => Kind::SignedUp {
            customer: id(take(Field::CustomerId)).unwrap_or_default(),
        },
        EventType::Churned => Kind::Churned {
            customer: id(take(Field::CustomerId)).unwrap_or_default(),
        },
    }
}
