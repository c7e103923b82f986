//! Why an input line was refused: the reasons of SPEC §7.1, each
//! exported as the `reason` label.

use std::fmt;

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
