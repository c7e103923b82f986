//! Duplicate detection by `event_id` within a horizon of event time.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::IdMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dedup {
    /// id hash → event time of the accepted event.
    seen: IdMap<i64>,
    /// Insertion order, for expiry and the size bound.
    order: VecDeque<(i64, u64)>,
    horizon_ms: i64,
    max_entries: usize,
}

impl Dedup {
    pub fn new(horizon_ms: i64, max_entries: usize) -> Dedup {
        Dedup {
            seen: IdMap::default(),
            order: VecDeque::new(),
            horizon_ms,
            max_entries,
        }
    }

    /// Was an event with this id accepted within the horizon of `clock_ms`?
    pub fn is_duplicate(&self, id: u64, clock_ms: i64) -> bool {
        self.seen
            .get(&id)
            .is_some_and(|&ts| clock_ms.saturating_sub(ts) <= self.horizon_ms)
    }

    pub fn remember(&mut self, id: u64, ts_ms: i64, clock_ms: i64) {
        self.seen.insert(id, ts_ms);
        self.order.push_back((ts_ms, id));
        let expired_before = clock_ms.saturating_sub(self.horizon_ms);
        while let Some(&(ts, oldest)) = self.order.front() {
            if ts >= expired_before && self.order.len() <= self.max_entries {
                break;
            }
            self.order.pop_front();
            // The id may have been seen again later; forget only this sighting.
            if self.seen.get(&oldest) == Some(&ts) {
                self.seen.remove(&oldest);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
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
}
