//! Step one of decoding: the JSON object read into the fields we know,
//! each kept as an untyped value, without allocating for keys.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::reject::Reject;

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
    pub(super) fn is_missing(&self) -> bool {
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
    pub(super) fields: [Raw<'a>; FIELD_COUNT],
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
