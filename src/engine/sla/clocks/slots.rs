//! Where the engine keeps every ticket's clocks: one vector of slots, a
//! ticket holding the index of its own. A box per ticket cost an
//! allocation at creation and a free at close, the largest SLA cost of the
//! engine's hot loop after the calendars, and 8 more bytes per ticket (a
//! 40-byte box takes a 48-byte heap block). A freed slot is reused by the
//! next ticket, so the vector stays as long as the most tickets ever open
//! at once.

use serde::{Deserialize, Serialize};

use crate::engine::cow::Chunked;

use super::TicketClocks;

/// The index of a ticket's clocks in [`Slots`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot(u32);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Slots {
    /// In copy-on-write chunks, as a checkpoint copies them.
    clocks: Chunked<TicketClocks>,
    free: Chunked<u32>,
}

impl Slots {
    /// A slot for `c`; none once 2^32 tickets hold clocks at once (some
    /// 400 GB of state), and a ticket beyond that runs no clocks.
    pub(super) fn hold(&mut self, c: TicketClocks) -> Option<Slot> {
        if let Some(i) = self.free.pop_back() {
            self.clocks[i as usize] = c;
            return Some(Slot(i));
        }
        let i = u32::try_from(self.clocks.len()).ok()?;
        self.clocks.push_back(c);
        Some(Slot(i))
    }

    /// A copy: the caller works on it beside the rest of [`super::Sla`]
    /// and puts it back.
    pub(super) fn get(&self, slot: Slot) -> TicketClocks {
        self.clocks[slot.0 as usize]
    }

    pub(super) fn put(&mut self, slot: Slot, c: TicketClocks) {
        self.clocks[slot.0 as usize] = c;
    }

    /// A copy for a checkpoint, sharing the chunks (see `cow`).
    pub(super) fn share(&mut self) -> Slots {
        Slots {
            clocks: self.clocks.share(),
            free: self.free.share(),
        }
    }

    pub(super) fn release(&mut self, slot: Slot) {
        self.free.push_back(slot.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_slot_is_taken_by_the_next_ticket() {
        let mut slots = Slots::default();
        let a = slots.hold(TicketClocks::default());
        let b = slots.hold(TicketClocks::default());
        assert_ne!(a, b);
        slots.release(a.expect("a slot"));
        assert_eq!(slots.hold(TicketClocks::default()), a);
        assert_eq!(slots.clocks.len(), 2);
    }
}
