//! The ticket id a ticket's clocks keep for the exemplars of its breaches.

use serde::{Deserialize, Serialize};

/// A ticket id of at most 8 bytes, kept inline for the exemplars of its
/// breaches (SPEC §4.5); a longer one (or one with a NUL) is kept in
/// [`super::Sla`]'s map of long ids instead: a longer inline id would
/// cost every ticket, rather than only those with long ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketId([u8; 8]);

impl TicketId {
    fn new(id: &str) -> TicketId {
        let mut bytes = [0; 8];
        if let Some(inline) = bytes.get_mut(..id.len()) {
            if !id.as_bytes().contains(&0) {
                inline.copy_from_slice(id.as_bytes());
            }
        }
        TicketId(bytes)
    }

    /// The id inline, and a copy of it when it does not fit.
    pub fn kept(id: &str) -> (TicketId, Option<Box<str>>) {
        let inline = TicketId::new(id);
        let long = (inline.as_str().is_none() && !id.is_empty()).then(|| id.into());
        (inline, long)
    }

    /// The id, if it was short enough to keep.
    pub fn as_str(&self) -> Option<&str> {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(8);
        std::str::from_utf8(&self.0[..len])
            .ok()
            .filter(|s| !s.is_empty())
    }
}
