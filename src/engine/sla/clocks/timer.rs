//! The deadline timer: a min-heap of `(instant, ticket)` with one live
//! entry per ticket that has something due, at the instant its clocks
//! keep in `scheduled_ms`. An entry replaced before it comes up is
//! cancelled by putting it in a second heap; the two drop equal tops
//! together, so a cancelled entry never comes up and nothing is searched
//! for. Once cancelled entries are as many as live ones both are
//! compacted, so the timer holds at most about three entries per live
//! one however often tickets reschedule.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

type Entry = Reverse<(i64, u64)>;

/// Timers with fewer cancelled entries are not compacted, nor shrunk
/// below this capacity: small ones would do it too often to matter.
const COMPACT_FROM: usize = 4096;

#[derive(Debug, Clone, Default)]
pub(super) struct Timer {
    due: BinaryHeap<Entry>,
    /// A sub-multiset of `due`.
    cancelled: BinaryHeap<Entry>,
}

impl Timer {
    /// Entries held, cancelled ones (and their copies in `cancelled`)
    /// included.
    pub(super) fn len(&self) -> usize {
        self.due.len() + self.cancelled.len()
    }

    pub(super) fn push(&mut self, at: i64, id: u64) {
        self.due.push(Reverse((at, id)));
    }

    /// Cancels an entry that was pushed and has not come up.
    pub(super) fn cancel(&mut self, at: i64, id: u64) {
        self.cancelled.push(Reverse((at, id)));
        if self.cancelled.len() >= COMPACT_FROM && 2 * self.cancelled.len() >= self.due.len() {
            self.compact();
        }
    }

    /// Whether some entry, cancelled ones included, is due by `now`.
    pub(super) fn any_due(&self, now: i64) -> bool {
        self.due.peek().is_some_and(|&Reverse((at, _))| at <= now)
    }

    /// Removes and returns the earliest live entry due by `now`.
    pub(super) fn pop_due(&mut self, now: i64) -> Option<(i64, u64)> {
        // The common case, after every event: nothing is due.
        if !self.any_due(now) {
            return None;
        }
        let mut popped = None;
        while let Some(&Reverse(entry)) = self.due.peek() {
            if entry.0 > now {
                break;
            }
            self.due.pop();
            // `cancelled` is within `due`, so its least entry is never
            // below `due`'s: equal means this one was cancelled.
            if self.cancelled.peek() == Some(&Reverse(entry)) {
                self.cancelled.pop();
                continue;
            }
            popped = Some(entry);
            break;
        }
        shrink(&mut self.due);
        shrink(&mut self.cancelled);
        popped
    }

    /// Drops the cancelled entries from `due` in one pass over both sorted.
    fn compact(&mut self) {
        let mut due = std::mem::take(&mut self.due).into_vec();
        let mut cancelled = std::mem::take(&mut self.cancelled).into_vec();
        due.sort_unstable();
        cancelled.sort_unstable();
        let mut gone = cancelled.into_iter().peekable();
        due.retain(|e| {
            while gone.next_if(|g| g < e).is_some() {}
            gone.next_if_eq(e).is_none()
        });
        due.shrink_to_fit();
        self.due = BinaryHeap::from(due);
    }
}

/// Gives memory back once a heap holds under a quarter of its capacity
/// (after a burst of deadlines), leaving room to grow again.
fn shrink(heap: &mut BinaryHeap<Entry>) {
    let (len, capacity) = (heap.len(), heap.capacity());
    if capacity > COMPACT_FROM && len < capacity / 4 {
        heap.shrink_to(len * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(t: &mut Timer, now: i64) -> Vec<(i64, u64)> {
        std::iter::from_fn(|| t.pop_due(now)).collect()
    }

    #[test]
    fn a_cancelled_entry_never_comes_up_and_an_equal_live_one_does() {
        let mut t = Timer::default();
        t.push(5, 1);
        t.push(5, 1);
        t.push(3, 2);
        t.cancel(5, 1);
        assert_eq!(drain(&mut t, 4), vec![(3, 2)]);
        assert_eq!(drain(&mut t, 5), vec![(5, 1)]);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn compaction_keeps_the_live_entries_in_order_and_gives_memory_back() {
        let mut t = Timer::default();
        let n = 3 * COMPACT_FROM as u64;
        for id in (0..n).rev() {
            t.push(id as i64, id);
        }
        // Cancelled as many as live: compacted at the last of them.
        for id in (0..n).step_by(2) {
            t.cancel(id as i64, id);
        }
        assert_eq!(t.len(), n as usize / 2);
        let live: Vec<_> = (1..n).step_by(2).map(|id| (id as i64, id)).collect();
        assert_eq!(drain(&mut t, n as i64), live);
        assert!(t.due.capacity() <= COMPACT_FROM, "{}", t.due.capacity());
    }
}
