//! Duplicate detection by `event_id` within a horizon of event time.
//!
//! Each accepted event is one sighting `(ts, id)` in a queue in the order
//! accepted; an index finds the latest sighting of an id by its place in
//! the queue. That is 16 bytes a sighting and a 5-byte index slot, where
//! a map from id to time beside the queue held both twice (about 50
//! bytes with the map's free slots).

use std::collections::VecDeque;

use hashbrown::hash_table::{Entry, HashTable};
use serde::{Deserialize, Serialize};

use super::cow::{Chunked, Parts};

#[derive(Debug, Clone, Deserialize)]
#[serde(from = "Sightings")]
pub struct Dedup {
    /// `(ts, id hash)` in the order accepted, for expiry and the size bound.
    order: Chunked<(i64, u64)>,
    /// Number of `order[0]`: a sighting's number is `first` plus its place
    /// in `order`, wrapping, which is unique as `order` holds fewer than
    /// 2^32.
    first: u32,
    /// Number of the latest sighting of each id, found by the id (already
    /// a hash).
    latest: Parts<HashTable<u32>>,
    horizon_ms: i64,
    max_entries: usize,
}

/// What a checkpoint holds: the sightings; the index is rebuilt from them,
/// and the limits come from the config ([`Dedup::limit_as`]).
#[derive(Serialize)]
struct SightingsRef<'a> {
    order: &'a Chunked<(i64, u64)>,
}

#[derive(Deserialize)]
struct Sightings {
    order: VecDeque<(i64, u64)>,
}

impl Serialize for Dedup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SightingsRef { order: &self.order }.serialize(s)
    }
}

impl From<Sightings> for Dedup {
    fn from(s: Sightings) -> Dedup {
        let mut d = Dedup::new(i64::MAX, usize::MAX);
        for (ts, id) in s.order {
            d.push(id, ts);
        }
        d
    }
}

impl Dedup {
    pub fn new(horizon_ms: i64, max_entries: usize) -> Dedup {
        Dedup {
            order: Chunked::default(),
            first: 0,
            latest: Parts::default(),
            horizon_ms,
            // Sighting numbers are u32.
            max_entries: max_entries.min(u32::MAX as usize),
        }
    }

    /// Takes the horizon and size bound of `fresh` (one built from the
    /// config); what lies beyond them goes at the next event.
    pub fn limit_as(&mut self, fresh: &Dedup) {
        self.horizon_ms = fresh.horizon_ms;
        self.max_entries = fresh.max_entries;
    }

    fn sighting(&self, number: u32) -> Option<&(i64, u64)> {
        self.order.get(number.wrapping_sub(self.first) as usize)
    }

    /// Was an event with this id accepted within the horizon of `clock_ms`?
    pub fn is_duplicate(&self, id: u64, clock_ms: i64) -> bool {
        self.latest
            .of(id)
            .find(id, |&n| self.sighting(n).is_some_and(|s| s.1 == id))
            .and_then(|&n| self.sighting(n))
            .is_some_and(|&(ts, _)| clock_ms.saturating_sub(ts) <= self.horizon_ms)
    }

    pub fn remember(&mut self, id: u64, ts_ms: i64, clock_ms: i64) {
        self.push(id, ts_ms);
        let expired_before = clock_ms.saturating_sub(self.horizon_ms);
        while let Some(&(ts, oldest)) = self.order.front() {
            if ts >= expired_before && self.order.len() <= self.max_entries {
                break;
            }
            // The id may have been seen again later; forget only this sighting.
            let first = self.first;
            if let Ok(latest) = self
                .latest
                .of_mut(oldest)
                .find_entry(oldest, |&n| n == first)
            {
                latest.remove();
            }
            self.order.pop_front();
            self.first = first.wrapping_add(1);
        }
    }

    /// Appends a sighting and makes it the id's latest.
    fn push(&mut self, id: u64, ts_ms: i64) {
        let number = self.first.wrapping_add(self.order.len() as u32);
        self.order.push_back((ts_ms, id));
        let (order, first) = (&self.order, self.first);
        let id_of = |n: &u32| order.get(n.wrapping_sub(first) as usize).map(|s| s.1);
        match self
            .latest
            .of_mut(id)
            .entry(id, |n| id_of(n) == Some(id), |n| id_of(n).unwrap_or(0))
        {
            Entry::Occupied(mut e) => *e.get_mut() = number,
            Entry::Vacant(e) => {
                e.insert(number);
            }
        }
    }

    /// A copy for a checkpoint, sharing the sightings and the index
    /// copy-on-write (see `cow`).
    pub fn share(&mut self) -> Dedup {
        Dedup {
            order: self.order.share(),
            latest: self.latest.share(),
            ..*self
        }
    }

    pub fn len(&self) -> usize {
        self.latest.iter().map(HashTable::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.iter().all(HashTable::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_within_horizon_only() {
        let mut d = Dedup::new(3_600_000, 100);
        d.remember(7, 0, 0);
        assert!(d.is_duplicate(7, 3_600_000));
        assert!(!d.is_duplicate(7, 3_600_001));
        assert!(!d.is_duplicate(8, 0));
    }

    #[test]
    fn size_bound_forgets_oldest() {
        let mut d = Dedup::new(3_600_000, 2);
        for id in 1..=3 {
            d.remember(id, 0, 0);
        }
        assert_eq!(d.len(), 2);
        assert!(!d.is_duplicate(1, 0));
        assert!(d.is_duplicate(3, 0));
    }

    #[test]
    fn an_id_seen_again_is_forgotten_only_with_its_latest_sighting() {
        let mut d = Dedup::new(10, 100);
        d.remember(1, 0, 0);
        // Past the horizon, so accepted again; the first sighting expires
        // while the second is kept.
        d.remember(1, 20, 20);
        assert!(d.is_duplicate(1, 25));
        assert_eq!(d.len(), 1);
        d.remember(2, 31, 31);
        assert!(!d.is_duplicate(1, 31), "the second sighting expired too");
        assert!(d.is_duplicate(2, 31));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn sighting_numbers_wrap() {
        let mut d = Dedup::new(i64::MAX, 3);
        d.first = u32::MAX - 1;
        for id in 1..=5 {
            d.remember(id, 0, 0);
        }
        assert_eq!(d.len(), 3);
        assert!((3..=5).all(|id| d.is_duplicate(id, 0)));
        assert!(!d.is_duplicate(2, 0));
    }

    #[test]
    fn a_checkpoint_keeps_the_sightings() {
        let mut d = Dedup::new(10, 100);
        d.remember(1, 0, 0);
        d.remember(1, 20, 20);
        d.remember(2, 21, 21);
        let text = serde_json::to_string(&d).expect("serialise");
        let mut back: Dedup = serde_json::from_str(&text).expect("deserialise");
        // The limits come from the config, not the checkpoint.
        back.limit_as(&Dedup::new(10, 100));
        assert_eq!(back.len(), 2);
        assert!(back.is_duplicate(1, 30) && back.is_duplicate(2, 30));
        assert!(!back.is_duplicate(1, 31));
    }
}
