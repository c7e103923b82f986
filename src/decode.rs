//! Decode: one input line (JSON) into a typed [`Event`], with the checks of
//! SPEC §7.1 in their order. The only place where input is parsed.
//!
//! Decoding runs in two steps so that the engine can drop duplicates
//! between them, as §7.1 orders: [`parse`] reads the JSON object and keeps
//! every field we know as an untyped value; [`Decoder::validate`] then
//! checks presence, types, time and ranges and builds the event.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Why an input line was refused, exported as the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reject {
    InvalidJson,
    MissingField,
    InvalidField,
    InvalidTs,
    FutureTs,
    OutOfRange,
    UnknownType,
    UnknownTicket,
    UnknownInteraction,
    DuplicateTicket,
}

impl Reject {
    pub const ALL: [Reject; 10] = [
        Reject::InvalidJson,
        Reject::MissingField,
        Reject::InvalidField,
        Reject::InvalidTs,
        Reject::FutureTs,
        Reject::OutOfRange,
        Reject::UnknownType,
        Reject::UnknownTicket,
        Reject::UnknownInteraction,
        Reject::DuplicateTicket,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reject::InvalidJson => "invalid_json",
            Reject::MissingField => "missing_field",
            Reject::InvalidField => "invalid_field",
            Reject::InvalidTs => "invalid_ts",
            Reject::FutureTs => "future_ts",
            Reject::OutOfRange => "out_of_range",
            Reject::UnknownType => "unknown_type",
            Reject::UnknownTicket => "unknown_ticket",
            Reject::UnknownInteraction => "unknown_interaction",
            Reject::DuplicateTicket => "duplicate_ticket",
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JSON value as read, before we know what type the field should have.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Raw<'a> {
    #[default]
    Absent,
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond i64 (only its size matters to us).
    BigInt,
    Float(f64),
    Str(Cow<'a, str>),
    /// An object or array.
    Nested,
}

impl Raw<'_> {
    fn is_missing(&self) -> bool {
        matches!(self, Raw::Absent | Raw::Null)
    }
}

/// The fields of an event that any type uses. Unknown keys are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    EventId,
    Type,
    Ts,
    TicketId,
    InteractionId,
    AgentId,
    CustomerId,
    Channel,
    Priority,
    Queue,
    Category,
    Status,
    Outcome,
    Public,
    Score,
    WaitS,
    TalkS,
    HoldS,
    AcwS,
}

const FIELD_COUNT: usize = 19;

impl Field {
    fn from_key(key: &str) -> Option<Field> {
        Some(match key {
            "event_id" => Field::EventId,
            "type" => Field::Type,
            "ts" => Field::Ts,
            "ticket_id" => Field::TicketId,
            "interaction_id" => Field::InteractionId,
            "agent_id" => Field::AgentId,
            "customer_id" => Field::CustomerId,
            "channel" => Field::Channel,
            "priority" => Field::Priority,
            "queue" => Field::Queue,
            "category" => Field::Category,
            "status" => Field::Status,
            "outcome" => Field::Outcome,
            "public" => Field::Public,
            "score" => Field::Score,
            "wait_s" => Field::WaitS,
            "talk_s" => Field::TalkS,
            "hold_s" => Field::HoldS,
            "acw_s" => Field::AcwS,
            _ => return None,
        })
    }
}

/// A parsed JSON object: the known fields, untyped.
#[derive(Debug, Default)]
pub struct RawEvent<'a> {
    fields: [Raw<'a>; FIELD_COUNT],
}

impl<'a> RawEvent<'a> {
    pub fn get(&self, field: Field) -> &Raw<'a> {
        &self.fields[field as usize]
    }

    /// The `event_id`, when it is a string: what dedup looks at.
    pub fn event_id(&self) -> Option<&str> {
        match self.get(Field::EventId) {
            Raw::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Step one: the line must be one JSON object. Fills `into`, which the
/// caller owns, so the large raw event is not moved around per line.
pub fn parse<'a>(line: &'a str, into: &mut RawEvent<'a>) -> Result<(), Reject> {
    let mut de = serde_json::Deserializer::from_str(line);
    de.deserialize_map(RawEventVisitor(into))
        .and_then(|()| de.end())
        .map_err(|_| Reject::InvalidJson)
}

struct RawEventVisitor<'r, 'a>(&'r mut RawEvent<'a>);

/// Reads an object key straight into a [`Field`], without allocating.
struct FieldKey;

impl<'de> de::DeserializeSeed<'de> for FieldKey {
    type Value = Option<Field>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(FieldKey)
    }
}

impl<'de> Visitor<'de> for FieldKey {
    type Value = Option<Field>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Option<Field>, E> {
        Ok(Field::from_key(key))
    }
}

impl<'de> Visitor<'de> for RawEventVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key_seed(FieldKey)? {
            match key {
                // A repeated key keeps its last value, as most JSON readers do.
                Some(field) => self.0.fields[field as usize] = map.next_value::<Raw<'de>>()?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

impl<'de> de::Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw<'de>, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw<'de>, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw<'de>, E> {
        Ok(i64::try_from(v).map_or(Raw::BigInt, Raw::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw<'de>, E> {
        // serde_json hands integers beyond u64 over as floats; a whole
        // number that large is still a JSON integer, just too big for us.
        if v.fract() == 0.0 && v.abs() >= i64::MAX as f64 {
            return Ok(Raw::BigInt);
        }
        Ok(Raw::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Raw<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Raw::Nested)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Raw<'de>, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Raw::Nested)
    }
}

/// 64-bit hash of an input id. Ids are kept as hashes so that state per
/// ticket stays small; a collision needs billions of live ids.
pub fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Channel {
    Email,
    Chat,
    Phone,
    Web,
    Social,
    Other,
    Unknown,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Email,
        Channel::Chat,
        Channel::Phone,
        Channel::Web,
        Channel::Social,
        Channel::Other,
        Channel::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Chat => "chat",
            Channel::Phone => "phone",
            Channel::Web => "web",
            Channel::Social => "social",
            Channel::Other => "other",
            Channel::Unknown => "unknown",
        }
    }

    /// Values outside the spec's list are `other`: the list has that
    /// catch-all, so a new channel keeps its tickets rather than losing them.
    fn from_input(s: &str) -> Channel {
        match s {
            "email" => Channel::Email,
            "chat" => Channel::Chat,
            "phone" => Channel::Phone,
            "web" => Channel::Web,
            "social" => Channel::Social,
            _ => Channel::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TicketStatus {
    Open,
    Pending,
    OnHold,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 3] = [
        TicketStatus::Open,
        TicketStatus::Pending,
        TicketStatus::OnHold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::OnHold => "on_hold",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentStatus {
    Available,
    Busy,
    Away,
    Offline,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 4] = [
        AgentStatus::Available,
        AgentStatus::Busy,
        AgentStatus::Away,
        AgentStatus::Offline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Busy => "busy",
            AgentStatus::Away => "away",
            AgentStatus::Offline => "offline",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
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

    fn from_str(s: &str) -> Option<EventType> {
        // Looked up on every event: a hash map rather than 25 comparisons.
        static BY_NAME: std::sync::OnceLock<rustc_hash::FxHashMap<&'static str, EventType>> =
            std::sync::OnceLock::new();
        BY_NAME
            .get_or_init(|| EventType::ALL.iter().map(|t| (t.as_str(), *t)).collect())
            .get(s)
            .copied()
    }

    /// Fields this type reads, and which of them must be present.
    fn rules(self) -> &'static [(Field, Check, Need)] {
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
enum Need {
    Required,
    Optional,
}

/// What a field's value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Check {
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
    fn well_typed(self, raw: &Raw) -> bool {
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

    fn in_range(self, raw: &Raw) -> bool {
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

fn priority(s: &str) -> Option<Priority> {
    Priority::ALL.into_iter().find(|p| p.as_str() == s)
}
fn ticket_status(s: &str) -> Option<TicketStatus> {
    TicketStatus::ALL.into_iter().find(|p| p.as_str() == s)
}
fn agent_status(s: &str) -> Option<AgentStatus> {
    AgentStatus::ALL.into_iter().find(|p| p.as_str() == s)
}
fn outcome(s: &str) -> Option<Outcome> {
    match s {
        "success" => Some(Outcome::Success),
        "failure" => Some(Outcome::Failure),
        _ => None,
    }
}

/// What a validated line is: a spec type, or a type that only custom
/// ratios name (by its index in [`Decoder::custom_types`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeId {
    Spec(EventType),
    Custom(usize),
}

/// Step two of decoding; knows the extra event types that custom ratios name.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    custom_types: Vec<String>,
    custom_index: HashMap<String, usize>,
    future_tolerance_ms: i64,
}

impl Decoder {
    pub fn new(
        custom_types: impl IntoIterator<Item = String>,
        future_tolerance_ms: i64,
    ) -> Decoder {
        let mut decoder = Decoder {
            future_tolerance_ms,
            ..Decoder::default()
        };
        for name in custom_types {
            if EventType::from_str(&name).is_none() && !decoder.custom_index.contains_key(&name) {
                decoder
                    .custom_index
                    .insert(name.clone(), decoder.custom_types.len());
                decoder.custom_types.push(name);
            }
        }
        decoder
    }

    /// The `type` text of a type this decoder accepts.
    pub fn type_name(&self, type_id: TypeId) -> &str {
        match type_id {
            TypeId::Spec(t) => t.as_str(),
            TypeId::Custom(i) => &self.custom_types[i],
        }
    }

    /// The type a name stands for, if any (spec types first).
    pub fn type_id(&self, name: &str) -> Option<TypeId> {
        EventType::from_str(name)
            .map(TypeId::Spec)
            .or_else(|| self.custom_index.get(name).map(|&i| TypeId::Custom(i)))
    }

    /// Checks after dedup, in the order of §7.1, up to `unknown_type`; the
    /// engine checks the ticket and interaction rules that need state.
    pub fn validate<'a>(
        &self,
        raw: &mut RawEvent<'a>,
        wall_ms: i64,
    ) -> Result<(TypeId, Event<'a>), Reject> {
        let type_name = match raw.get(Field::Type) {
            Raw::Str(s) => Some(s.as_ref()),
            _ => None,
        };
        let type_id = type_name.and_then(|name| self.type_id(name));
        let rules: &[(Field, Check, Need)] = match type_id {
            Some(TypeId::Spec(t)) => t.rules(),
            _ => &[],
        };
        const ENVELOPE: [Field; 3] = [Field::EventId, Field::Type, Field::Ts];

        let missing = ENVELOPE.iter().any(|&f| raw.get(f).is_missing())
            || rules
                .iter()
                .any(|&(f, _, need)| need == Need::Required && raw.get(f).is_missing());
        if missing {
            return Err(Reject::MissingField);
        }
        let envelope_typed = matches!(raw.get(Field::EventId), Raw::Str(_))
            && matches!(raw.get(Field::Type), Raw::Str(_))
            && matches!(raw.get(Field::Ts), Raw::Str(_) | Raw::Int(_) | Raw::BigInt);
        let fields_typed = rules.iter().all(|&(f, check, _)| {
            let value = raw.get(f);
            value.is_missing() || check.well_typed(value)
        });
        if !envelope_typed || !fields_typed {
            return Err(Reject::InvalidField);
        }
        let ts = parse_ts(raw.get(Field::Ts)).ok_or(Reject::InvalidTs)?;
        if ts > wall_ms.saturating_add(self.future_tolerance_ms) {
            return Err(Reject::FutureTs);
        }
        if !rules
            .iter()
            .all(|&(f, check, _)| check.in_range(raw.get(f)))
        {
            return Err(Reject::OutOfRange);
        }
        let type_id = type_id.ok_or(Reject::UnknownType)?;
        let id = raw.event_id().map(id_hash).unwrap_or_default();
        let kind = match type_id {
            TypeId::Spec(t) => build_kind(t, raw),
            TypeId::Custom(_) => Kind::Custom,
        };
        Ok((type_id, Event { id, ts, kind }))
    }
}

/// `ts` as epoch milliseconds: a JSON integer, or RFC 3339 with an offset
/// (digits below the millisecond truncated).
pub fn parse_ts(raw: &Raw) -> Option<i64> {
    match raw {
        Raw::Int(ms) => Some(*ms),
        Raw::Str(s) => rfc3339_common(s.as_bytes()).or_else(|| {
            chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp_millis())
        }),
        _ => None,
    }
}

/// The usual shape, `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`, read without
/// chrono because it is on every event's path. `None` means "not this
/// shape or not plainly valid": chrono then decides, so this never accepts
/// what chrono would refuse, nor reads anything differently (a test checks).
fn rfc3339_common(b: &[u8]) -> Option<i64> {
    fn digits(b: &[u8]) -> Option<i64> {
        b.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[month as usize - 1]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        let kept = &fraction[..len.min(3)];
        millis = digits(kept)? * 10i64.pow(3 - kept.len() as u32);
        rest = &fraction[len..];
    }
    let offset_minutes = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm: years counted from March so the leap day comes last).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Builds the typed event from fields already checked against the rules.
fn build_kind<'a>(t: EventType, raw: &mut RawEvent<'a>) -> Kind<'a> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn decode(line: &str) -> Result<Event<'_>, Reject> {
        let decoder = Decoder::new(["training.attended".to_string()], 3_600_000);
        let mut raw = RawEvent::default();
        parse(line, &mut raw)?;
        decoder.validate(&mut raw, NOW).map(|(_, e)| e)
    }

    #[test]
    fn rfc3339_and_epoch_agree() {
        let a = decode(r#"{"event_id":"a","type":"ticket.created","ts":"2023-11-14T22:13:20.123999Z","ticket_id":"t"}"#).unwrap();
        let b = decode(
            r#"{"event_id":"b","type":"ticket.created","ts":1700000000123,"ticket_id":"t"}"#,
        )
        .unwrap();
        assert_eq!(a.ts, b.ts);
        let offset = decode(r#"{"event_id":"c","type":"ticket.created","ts":"2023-11-15T00:13:20.123+02:00","ticket_id":"t"}"#).unwrap();
        assert_eq!(offset.ts, b.ts);
    }

    #[test]
    fn checks_follow_spec_order() {
        let cases = [
            ("{not json", Reject::InvalidJson),
            ("[1,2]", Reject::InvalidJson),
            (r#"{"event_id":"x","ts":1}"#, Reject::MissingField),
            (
                r#"{"event_id":"x","type":"ticket.created","ts":1}"#,
                Reject::MissingField,
            ),
            (
                r#"{"event_id":"x","type":"ticket.created","ts":1,"ticket_id":null}"#,
                Reject::MissingField,
            ),
            (
                r#"{"event_id":7,"type":"ticket.created","ts":1,"ticket_id":"t"}"#,
                Reject::InvalidField,
            ),
            (
                r#"{"event_id":"x","type":"ticket.created","ts":1.5,"ticket_id":"t"}"#,
                Reject::InvalidField,
            ),
            (
                r#"{"event_id":"x","type":"ticket.created","ts":1,"ticket_id":"t","priority":"p1"}"#,
                Reject::InvalidField,
            ),
            (
                r#"{"event_id":"x","type":"survey.csat","ts":1,"score":4.5}"#,
                Reject::InvalidField,
            ),
            (
                r#"{"event_id":"x","type":"ticket.created","ts":"2023-11-14T22:13:20","ticket_id":"t"}"#,
                Reject::InvalidTs,
            ),
            (
                r#"{"event_id":"x","type":"ticket.created","ts":"yesterday","ticket_id":"t"}"#,
                Reject::InvalidTs,
            ),
            (
                r#"{"event_id":"x","type":"ticket.created","ts":4102444800000,"ticket_id":"t"}"#,
                Reject::FutureTs,
            ),
            (
                r#"{"event_id":"x","type":"survey.csat","ts":1,"score":6}"#,
                Reject::OutOfRange,
            ),
            (
                r#"{"event_id":"x","type":"interaction.completed","ts":1,"interaction_id":"i","wait_s":-1,"talk_s":3}"#,
                Reject::OutOfRange,
            ),
            (
                r#"{"event_id":"x","type":"ticket.teleported","ts":1,"score":600}"#,
                Reject::UnknownType,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(decode(line).map(|_| ()), Err(want), "{line}");
        }
    }

    #[test]
    fn defaults_and_custom_types() {
        let e = decode(
            r#"{"event_id":"x","type":"ticket.created","ts":1,"ticket_id":"t","channel":"sms"}"#,
        )
        .unwrap();
        match e.kind {
            Kind::TicketCreated {
                channel,
                priority,
                queue,
                ..
            } => {
                assert_eq!(channel, Channel::Other);
                assert_eq!(priority, Priority::Normal);
                assert_eq!(queue, None);
            }
            other => panic!("{other:?}"),
        }
        let custom = decode(r#"{"event_id":"x","type":"training.attended","ts":1}"#).unwrap();
        assert!(matches!(custom.kind, Kind::Custom));
        let private = decode(r#"{"event_id":"x","type":"ticket.agent_replied","ts":1,"ticket_id":"t","agent_id":"a","public":false}"#).unwrap();
        assert!(matches!(
            private.kind,
            Kind::AgentReplied { public: false, .. }
        ));
    }

    #[test]
    fn escaped_strings_decode() {
        let e = decode(r#"{"event_id":"x","type":"ticket.created","ts":1,"ticket_id":"t","queue":"b\u00e9\"q"}"#).unwrap();
        match e.kind {
            Kind::TicketCreated { queue, .. } => assert_eq!(queue.as_deref(), Some("bé\"q")),
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        /// The fast path reads exactly what chrono reads.
        #[test]
        fn rfc3339_fast_path_agrees_with_chrono(
            ms in -62_000_000_000_000i64..253_000_000_000_000i64,
            offset_minutes in -(23 * 60 + 59)..(23 * 60 + 59i32),
            fraction_digits in 0usize..10,
            zulu in proptest::bool::ANY,
        ) {
            let offset = if zulu { chrono::FixedOffset::east_opt(0) } else { chrono::FixedOffset::east_opt(offset_minutes * 60) };
            let Some(offset) = offset else { return Ok(()); };
            let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else { return Ok(()); };
            let local = t.with_timezone(&offset);
            let mut text = local.format("%Y-%m-%dT%H:%M:%S").to_string();
            if fraction_digits > 0 {
                let nanos = format!("{:09}", local.timestamp_subsec_nanos());
                text.push('.');
                text.push_str(&format!("{:0<width$}", &nanos[..fraction_digits.min(9)], width = fraction_digits));
            }
            text.push_str(&if zulu { "Z".to_string() } else { local.format("%:z").to_string() });
            let chrono = chrono::DateTime::parse_from_rfc3339(&text).ok().map(|t| t.timestamp_millis());
            let fast = rfc3339_common(text.as_bytes());
            proptest::prop_assert!(fast.is_some(), "the usual shape takes the fast path: {}", text);
            proptest::prop_assert_eq!(fast, chrono, "{}", text);
        }

        /// On any text, the fast path either declines or agrees with chrono.
        #[test]
        fn rfc3339_fast_path_never_accepts_what_chrono_refuses(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,4})?(Z|[+-][0-9]{2}:[0-9]{2}|)") {
            if let Some(fast) = rfc3339_common(text.as_bytes()) {
                let chrono = chrono::DateTime::parse_from_rfc3339(&text).ok().map(|t| t.timestamp_millis());
                proptest::prop_assert_eq!(Some(fast), chrono, "{}", text);
            }
        }
    }
}
