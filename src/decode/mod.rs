//! Decode: one input line (JSON) into a typed [`Event`], with the checks of
//! SPEC §7.1 in their order. The only place where input is parsed.
//!
//! Decoding runs in two steps so that the engine can drop duplicates
//! between them, as §7.1 orders: [`parse`] reads the JSON object and keeps
//! every field we know as an untyped value; [`Decoder::validate`] then
//! checks presence, types, time and ranges and builds the event.
//!
//! By job: the reasons for refusing a line (`reject.rs`); the JSON object
//! read into untyped fields (`raw.rs`); the event types and the checks
//! of §7.1 each type's fields get (`rules.rs`); `ts` (`ts.rs`); the
//! enumerated field values (`values.rs`); the typed event built from
//! checked fields (`event.rs`); here, the [`Decoder`] that runs the
//! checks in order.

use std::collections::HashMap;

mod event;
mod raw;
mod reject;
mod rules;
mod ts;
mod values;

pub use event::{id_hash, Event, Kind};
pub use raw::{parse, Field, Raw, RawEvent};
pub use reject::Reject;
pub use rules::EventType;
pub use ts::parse_ts;
pub use values::{AgentStatus, Channel, Outcome, Priority, TicketStatus};

use event::build_kind;
use rules::{Check, Need};

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

#[cfg(test)]
mod tests;
