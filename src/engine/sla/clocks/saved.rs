//! What a checkpoint holds of the SLA state: the clocks and the long ids.
//! Policies and calendars come from the config; the timer and the gauges
//! are rebuilt from the clocks, each of which knows its timer instant and
//! flags, so a restored engine fires and shows exactly what the saved one
//! would have.

use serde::{Deserialize, Serialize};

use super::{Kind, Sla, Slot, Slots, AT_RISK, BREACHED, NONE};
use crate::engine::IdMap;

#[derive(Serialize)]
struct SavedRef<'a> {
    slots: &'a Slots,
    long_ids: &'a IdMap<Box<str>>,
}

#[derive(Deserialize)]
struct Saved {
    slots: Slots,
    long_ids: IdMap<Box<str>>,
}

impl Serialize for Sla {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SavedRef {
            slots: &self.slots,
            long_ids: &self.long_ids,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Sla {
    /// The saved clocks, under no policy until [`Sla::restored`].
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Sla, D::Error> {
        let saved = Saved::deserialize(d)?;
        Ok(Sla {
            slots: saved.slots,
            long_ids: saved.long_ids,
            ..Sla::default()
        })
    }
}

impl Sla {
    /// What [`Serialize`] writes, with no policy, timer or gauges.
    pub fn saved_copy(&mut self) -> Sla {
        Sla {
            slots: self.slots.share(),
            long_ids: self.long_ids.share(),
            ..Sla::default()
        }
    }

    /// `fresh`'s rules and calendars with `saved`'s clocks, the timer and
    /// gauges rebuilt from every ticket's clocks (`tickets`: id and slot).
    pub fn restored(fresh: Sla, saved: Sla, tickets: impl Iterator<Item = (u64, Slot)>) -> Sla {
        let mut sla = Sla {
            slots: saved.slots,
            long_ids: saved.long_ids,
            ..fresh
        };
        for (id, slot) in tickets {
            let c = sla.slots.get(slot);
            if c.scheduled_ms != NONE {
                sla.timer.push(c.scheduled_ms, id);
            }
            for kind in Kind::ALL {
                for (flag, gauge) in [(BREACHED, &mut sla.breached), (AT_RISK, &mut sla.at_risk)] {
                    if c.flag(kind, flag) {
                        Sla::gauge(gauge, c.terms.queue, kind, true);
                    }
                }
            }
        }
        sla
    }
}
