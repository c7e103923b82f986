//! Rolling windows (SPEC §3): what one slot counts ([`Tally`]), the
//! 60-slot epoch-aligned ring ([`Ring`]) and the since-midnight window
//! ([`Today`]).

use std::sync::OnceLock;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

mod today;
pub use today::Today;

use super::cow::{Chunked, Part};
use super::sla::policy::Kind as SlaKind;
use crate::config::SLOTS_PER_WINDOW;

/// The duration KPIs that have windowed summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    FirstResponse,
    NextReply,
    Resolution,
    Handle,
    AnswerWait,
}

impl Timer {
    pub const ALL: [Timer; 5] = [
        Timer::FirstResponse,
        Timer::NextReply,
        Timer::Resolution,
        Timer::Handle,
        Timer::AnswerWait,
    ];
}

/// The counters the windowed ratios are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Count {
    Created,
    Resolved,
    Reopened,
    FirstResolutions,
    FirstContactResolutions,
    CsatResponses,
    CsatSatisfied,
    NpsPromoters,
    NpsPassives,
    NpsDetractors,
    CesSum,
    CesResponses,
    IqsSum,
    IqsReviews,
    Answered,
    AnsweredInTime,
    Abandoned,
    AbandonedLate,
    Blocked,
    SignUps,
    Churns,
    BusyMs,
    OnlineMs,
    /// SLA clocks met, and breached, by kind (SPEC §4.4 places them).
    SlaMetFirstResponse,
    SlaMetNextReply,
    SlaMetResolution,
    SlaBreachedFirstResponse,
    SlaBreachedNextReply,
    SlaBreachedResolution,
}

pub const COUNT_KINDS: usize = 29;

impl Count {
    /// The count of SLA clocks of `kind` that met their target, or breached.
    pub fn sla(kind: SlaKind, met: bool) -> Count {
        const MET: [Count; 3] = [
            Count::SlaMetFirstResponse,
            Count::SlaMetNextReply,
            Count::SlaMetResolution,
        ];
        const BREACHED: [Count; 3] = [
            Count::SlaBreachedFirstResponse,
            Count::SlaBreachedNextReply,
            Count::SlaBreachedResolution,
        ];
        if met {
            MET[kind as usize]
        } else {
            BREACHED[kind as usize]
        }
    }
}

/// A histogram that stores only the HDR buckets it has seen, so that an
/// empty or sparse slot costs almost nothing. Keys are the lowest value of
/// each bucket of [`hdr_layout`], so that quantiles over the buckets are
/// exactly those of a real `hdrhistogram::Histogram` over the raw values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SparseHistogram {
    /// (bucket key in ms, count): sorted by key, one per key, up to
    /// `sorted`; then values recorded since, in arrival order. Inserting
    /// each value in place would move the sorted part, which in the long
    /// slots holds thousands of buckets.
    buckets: Vec<(u64, u64)>,
    sorted: usize,
    count: u64,
    sum_ms: u64,
}

/// The HDR layout of the windowed quantiles (SPEC §3): 3 significant
/// digits, unit 1 ms. Only its bucket arithmetic is used, which does not
/// depend on the values it could hold, so one empty histogram serves all.
pub fn hdr_layout() -> &'static Histogram<u64> {
    static LAYOUT: OnceLock<Histogram<u64>> = OnceLock::new();
    LAYOUT.get_or_init(|| Histogram::new(3).expect("3 significant digits is a valid precision"))
}

/// Lowest value of the HDR bucket holding `v`: its key.
pub fn hdr_bucket_key(v: u64) -> u64 {
    hdr_layout().lowest_equivalent(v)
}

impl SparseHistogram {
    pub fn record(&mut self, value_ms: u64) {
        self.buckets.push((hdr_bucket_key(value_ms), 1));
        // Folding once the new values reach an eighth of the sorted part
        // costs a bounded amount per value, and bounds the extra memory.
        if self.buckets.len() - self.sorted >= (self.sorted / 8).max(32) {
            self.fold();
        }
        self.count += 1;
        self.sum_ms = self.sum_ms.saturating_add(value_ms);
    }

    /// Adds all of `others` at once: merging them one by one would copy
    /// the growing total again for each. The result is wholly sorted.
    pub fn merge_all<'a>(&mut self, others: impl Iterator<Item = &'a SparseHistogram> + Clone) {
        self.buckets
            .reserve(others.clone().map(|h| h.buckets.len()).sum());
        for other in others {
            self.buckets.extend_from_slice(&other.buckets);
            self.count += other.count;
            self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
        }
        self.fold();
    }

    /// Sorts all buckets and adds up those of the same key.
    fn fold(&mut self) {
        // The stable sort takes sorted runs as they are and merges them.
        self.buckets.sort_by_key(|&(key, _)| key);
        self.buckets.dedup_by(|next, kept| {
            let same = next.0 == kept.0;
            if same {
                kept.1 += next.1;
            }
            same
        });
        self.sorted = self.buckets.len();
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum_ms(&self) -> u64 {
        self.sum_ms
    }

    /// (bucket key in ms, count), sorted by key, of a histogram made by
    /// [`SparseHistogram::merge_all`], as windows are.
    pub fn buckets(&self) -> &[(u64, u64)] {
        debug_assert_eq!(self.sorted, self.buckets.len(), "not merged");
        &self.buckets
    }

    fn clear(&mut self) {
        self.buckets.clear();
        self.sorted = 0;
        self.count = 0;
        self.sum_ms = 0;
    }
}

/// Successes and resolutions with an outcome, for one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeTally {
    pub success: u64,
    pub total: u64,
}

impl OutcomeTally {
    pub fn add(&mut self, other: OutcomeTally) {
        self.success += other.success;
        self.total += other.total;
    }
}

/// Everything one slot of one window counts for one scope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tally {
    counts: [u64; COUNT_KINDS],
    timers: [SparseHistogram; 5],
    /// Customer id hashes, one per ticket created that names a customer:
    /// the one part of a tally that grows with the tickets, so copied on
    /// write (see `cow`).
    pub customers: Chunked<u64>,
    /// By category label id.
    pub outcomes: Vec<(u16, OutcomeTally)>,
    /// (numerator, denominator) per custom ratio, in config order.
    pub custom: Vec<[f64; 2]>,
}

impl Tally {
    pub fn add(&mut self, count: Count, n: u64) {
        self.counts[count as usize] += n;
    }

    pub fn get(&self, count: Count) -> u64 {
        self.counts[count as usize]
    }

    pub fn observe(&mut self, timer: Timer, ms: u64) {
        self.timers[timer as usize].record(ms);
    }

    pub fn timer(&self, timer: Timer) -> &SparseHistogram {
        &self.timers[timer as usize]
    }

    pub fn outcome(&mut self, category: u16, success: bool) {
        self.outcome_of(category).add(OutcomeTally {
            success: success as u64,
            total: 1,
        });
    }

    /// The outcome tally of a category, added if new.
    fn outcome_of(&mut self, category: u16) -> &mut OutcomeTally {
        let i = match self.outcomes.iter().position(|(c, _)| *c == category) {
            Some(i) => i,
            None => {
                self.outcomes.push((category, OutcomeTally::default()));
                self.outcomes.len() - 1
            }
        };
        &mut self.outcomes[i].1
    }

    pub fn custom(&mut self, ratio: usize, side: usize, amount: f64) {
        if self.custom.len() <= ratio {
            self.custom.resize(ratio + 1, [0.0; 2]);
        }
        self.custom[ratio][side] += amount;
    }

    /// Adds another tally into this one.
    pub fn merge(&mut self, other: &Tally) {
        self.merge_all(&[other]);
    }

    /// Adds other tallies into this one (window aggregation).
    pub fn merge_all(&mut self, others: &[&Tally]) {
        for other in others {
            for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
                *mine += theirs;
            }
            self.customers.extend(other.customers.iter().copied());
            for &(category, tally) in &other.outcomes {
                self.outcome_of(category).add(tally);
            }
            for (ratio, sides) in other.custom.iter().enumerate() {
                for (side, amount) in sides.iter().enumerate() {
                    self.custom(ratio, side, *amount);
                }
            }
        }
        for (timer, mine) in self.timers.iter_mut().enumerate() {
            mine.merge_all(others.iter().map(|t| &t.timers[timer]));
        }
    }

    /// A copy for a checkpoint, sharing the customer ids.
    pub(super) fn share(&mut self) -> Tally {
        Tally {
            counts: self.counts,
            timers: self.timers.clone(),
            customers: self.customers.share(),
            outcomes: self.outcomes.clone(),
            custom: self.custom.clone(),
        }
    }

    /// Empties the tally but keeps its allocations, for slot reuse.
    pub fn clear(&mut self) {
        self.counts = [0; COUNT_KINDS];
        self.timers.iter_mut().for_each(SparseHistogram::clear);
        self.customers.clear();
        self.outcomes.clear();
        self.custom.clear();
    }
}

/// Slot index of a time for a slot length (floor, also before 1970).
pub fn slot_of(ts_ms: i64, slot_ms: i64) -> i64 {
    ts_ms.div_euclid(slot_ms)
}

/// A rolling window of 60 slots of `length / 60`, aligned to the epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ring {
    slot_ms: i64,
    /// (slot index held, tally); position = index mod 60. The slots, and
    /// each tally, are shared with a checkpoint's copy until next changed
    /// (see `cow`): copying the thousands of tallies of the queues' and
    /// agents' windows was most of a checkpoint's pause.
    slots: Part<Vec<(i64, Part<Tally>)>>,
    /// The first millisecond and index of the slot last recorded into: an
    /// event mostly falls in the slot of the one before, and the division
    /// that finds a slot was the costliest step of a record. (0, 0) holds
    /// for any `slot_ms`, so it is the start and what a restore takes.
    #[serde(skip)]
    last_slot: (i64, i64),
}

impl Ring {
    pub fn new(length_ms: i64) -> Ring {
        Ring {
            slot_ms: length_ms / SLOTS_PER_WINDOW,
            slots: Part::Owned(vec![(i64::MIN, Part::default()); SLOTS_PER_WINDOW as usize]),
            last_slot: (0, 0),
        }
    }

    /// `slot_of(ts_ms, self.slot_ms)`.
    fn slot_index(&mut self, ts_ms: i64) -> i64 {
        let (start, index) = self.last_slot;
        if (start..start.saturating_add(self.slot_ms)).contains(&ts_ms) {
            return index;
        }
        let index = slot_of(ts_ms, self.slot_ms);
        if let Some(start) = index.checked_mul(self.slot_ms) {
            self.last_slot = (start, index);
        }
        index
    }

    pub fn slot_ms(&self) -> i64 {
        self.slot_ms
    }

    /// A copy for a checkpoint. A ring changed since the last one shares
    /// its changed tallies first, so that when it is next changed, copying
    /// its slots copies no tally.
    fn share(&mut self) -> Ring {
        if let Part::Owned(slots) = &mut self.slots {
            slots.iter_mut().for_each(|(_, tally)| tally.make_shared());
        }
        Ring {
            slot_ms: self.slot_ms,
            slots: self.slots.share(),
            last_slot: self.last_slot,
        }
    }

    /// First millisecond the window covers at clock `now_ms`.
    pub fn start_ms(&self, now_ms: i64) -> i64 {
        (slot_of(now_ms, self.slot_ms) - (SLOTS_PER_WINDOW - 1)) * self.slot_ms
    }

    /// The tally of the slot holding `ts_ms`, recycling the ring position
    /// if it held an older slot; `None` when the ring has moved past it.
    pub fn tally_at(&mut self, ts_ms: i64) -> Option<&mut Tally> {
        let index = self.slot_index(ts_ms);
        let position = index.rem_euclid(SLOTS_PER_WINDOW) as usize;
        let (held, tally) = &mut self.slots.get_mut()[position];
        if index > *held {
            *held = index;
            tally.clear_with(Tally::clear);
        }
        (index == *held).then(|| tally.get_mut())
    }

    /// Adds the slots covered at clock `now_ms` into `into`.
    pub fn aggregate(&self, now_ms: i64, into: &mut Tally) {
        let last = slot_of(now_ms, self.slot_ms);
        let first = last - (SLOTS_PER_WINDOW - 1);
        let covered: Vec<&Tally> = self
            .slots
            .get()
            .iter()
            .filter(|(index, _)| (first..=last).contains(index))
            .map(|(_, tally)| tally.get())
            .collect();
        into.merge_all(&covered);
    }

    /// Spreads `[start, end)` over the slots it covers, within one window
    /// length before `end`, calling `add(tally, overlap_ms)` for each.
    pub fn spread(&mut self, start_ms: i64, end_ms: i64, mut add: impl FnMut(&mut Tally, u64)) {
        let window_ms = self.slot_ms * SLOTS_PER_WINDOW;
        let mut from = start_ms.max(end_ms.saturating_sub(window_ms));
        while from < end_ms {
            let slot_end = (slot_of(from, self.slot_ms) + 1) * self.slot_ms;
            let to = slot_end.min(end_ms);
            if let Some(tally) = self.tally_at(from) {
                add(tally, (to - from) as u64);
            }
            from = to;
        }
    }
}

/// All windows of one scope: the configured rings, then `today` if kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowSet {
    rings: Vec<Ring>,
    today: Option<Today>,
}

impl WindowSet {
    pub fn new(lengths_ms: &[i64], today: Option<chrono_tz::Tz>) -> WindowSet {
        WindowSet {
            rings: lengths_ms.iter().map(|&l| Ring::new(l)).collect(),
            today: today.map(Today::new),
        }
    }

    /// A copy for a checkpoint, sharing what grows with the tickets.
    pub fn share(&mut self) -> WindowSet {
        WindowSet {
            rings: self.rings.iter_mut().map(Ring::share).collect(),
            today: self.today.as_mut().map(Today::share),
        }
    }

    pub fn record(&mut self, ts_ms: i64, mut f: impl FnMut(&mut Tally)) {
        for ring in &mut self.rings {
            if let Some(tally) = ring.tally_at(ts_ms) {
                f(tally);
            }
        }
        if let Some(tally) = self.today.as_mut().and_then(|t| t.tally_at(ts_ms)) {
            f(tally);
        }
    }

    pub fn spread(&mut self, start_ms: i64, end_ms: i64, mut add: impl FnMut(&mut Tally, u64)) {
        for ring in &mut self.rings {
            ring.spread(start_ms, end_ms, &mut add);
        }
        if let Some(today) = &mut self.today {
            today.spread(start_ms, end_ms, add);
        }
    }

    /// One aggregated tally per window (rings, then today), with the
    /// first millisecond each window covers.
    pub fn aggregate(&self, now_ms: i64) -> Vec<(i64, Tally)> {
        let mut out: Vec<(i64, Tally)> = Vec::with_capacity(self.rings.len() + 1);
        for ring in &self.rings {
            let mut tally = Tally::default();
            ring.aggregate(now_ms, &mut tally);
            out.push((ring.start_ms(now_ms), tally));
        }
        if let Some(today) = &self.today {
            let mut tally = Tally::default();
            today.aggregate(now_ms, &mut tally);
            out.push((today.start_ms(now_ms), tally));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn five_minute_window_starts_59_slots_back(t in -1_000_000_000_000i64..4_000_000_000_000i64) {
            let ring = Ring::new(300_000);
            prop_assert_eq!(ring.start_ms(t), (t.div_euclid(5_000) - 59) * 5_000);
        }

        #[test]
        fn ring_holds_exactly_the_covered_slots(
            now in 1_000_000_000i64..2_000_000_000i64,
            back in 0i64..400_000,
        ) {
            let mut ring = Ring::new(300_000);
            let ts = now - back;
            if let Some(t) = ring.tally_at(ts) { t.add(Count::Created, 1); }
            let mut agg = Tally::default();
            ring.aggregate(now, &mut agg);
            let covered = slot_of(ts, 5_000) >= slot_of(now, 5_000) - 59;
            prop_assert_eq!(agg.get(Count::Created), covered as u64);
        }

        #[test]
        fn merging_slots_equals_recording_in_one(
            slots in prop::collection::vec(
                prop::collection::vec(prop_oneof![0u64..3000, 0u64..20_000_000], 0..100),
                0..8,
            ),
        ) {
            let parts: Vec<SparseHistogram> = slots
                .iter()
                .map(|values| {
                    let mut h = SparseHistogram::default();
                    values.iter().for_each(|&v| h.record(v));
                    h
                })
                .collect();
            let mut merged = SparseHistogram::default();
            merged.merge_all(parts.iter());
            let mut one = SparseHistogram::default();
            slots.iter().flatten().for_each(|&v| one.record(v));
            one.fold();
            prop_assert_eq!(merged.buckets(), one.buckets());
            prop_assert_eq!(merged.count(), one.count());
            prop_assert_eq!(merged.sum_ms(), one.sum_ms());
        }
    }

    #[test]
    fn newer_slot_recycles_older_and_stale_write_is_refused() {
        let mut ring = Ring::new(60_000); // 1 s slots
        ring.tally_at(0).unwrap().add(Count::Created, 1);
        ring.tally_at(60_000).unwrap().add(Count::Created, 2); // same position, newer
        assert!(ring.tally_at(500).is_none(), "slot 0 was recycled");
        let mut agg = Tally::default();
        ring.aggregate(60_000, &mut agg);
        assert_eq!(agg.get(Count::Created), 2);
    }

    #[test]
    fn today_resets_at_local_midnight() {
        let zone: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let mut today = Today::new(zone);
        // 2024-03-01T22:30:00Z is 23:30 in Berlin; midnight Berlin is 23:00Z.
        let before = 1_709_332_200_000;
        today.tally_at(before).unwrap().add(Count::Created, 1);
        let after = before + 3_600_000;
        today.tally_at(after).unwrap().add(Count::Created, 1);
        assert!(
            today.tally_at(before).is_none(),
            "yesterday is no longer counted"
        );
        let mut agg = Tally::default();
        today.aggregate(after, &mut agg);
        assert_eq!(agg.get(Count::Created), 1);
        assert_eq!(today.start_ms(after), 1_709_334_000_000);
    }

    #[test]
    fn spread_splits_a_span_over_slots() {
        let mut ring = Ring::new(60_000);
        ring.spread(500, 2_500, |t, ms| t.add(Count::BusyMs, ms));
        let mut agg = Tally::default();
        ring.aggregate(2_500, &mut agg);
        assert_eq!(agg.get(Count::BusyMs), 2_000);
        assert_eq!(ring.tally_at(1_000).unwrap().get(Count::BusyMs), 1_000);
    }

    #[test]
    fn sparse_merge_keeps_counts_and_sums() {
        let mut a = SparseHistogram::default();
        let mut b = SparseHistogram::default();
        for v in [1, 5000, 5001, 70_000] {
            a.record(v);
        }
        for v in [5000, 9] {
            b.record(v);
        }
        a.merge_all([&b].into_iter());
        assert_eq!(a.count(), 6);
        assert_eq!(a.sum_ms(), 1 + 5000 + 5001 + 70_000 + 5000 + 9);
        assert_eq!(a.buckets().iter().map(|b| b.1).sum::<u64>(), 6);
    }
}
