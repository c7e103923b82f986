//! Label values that come from input, interned to small ids and bounded
//! per label (SPEC §5.3): past the limit, new values fold into `other`.

use serde::{Deserialize, Serialize};

/// Value used for a missing optional label (SPEC §7.3).
pub const UNKNOWN: &str = "unknown";
/// Value that values beyond a label's limit fold into.
pub const OTHER: &str = "other";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelSet {
    ids: rustc_hash::FxHashMap<Box<str>, u16>,
    names: Vec<Box<str>>,
    /// From the config, never restored.
    #[serde(skip)]
    limit: usize,
    /// Events whose value was folded into `other`: a counter, so per
    /// process and never restored.
    #[serde(skip)]
    folded: u64,
}

impl LabelSet {
    pub fn new(limit: usize) -> LabelSet {
        LabelSet {
            ids: Default::default(),
            names: Vec::new(),
            limit,
            folded: 0,
        }
    }

    /// Takes the limit of `fresh` (one built from the config). Values
    /// already interned stay, even beyond a lowered limit: their ids are
    /// held by the state.
    pub fn limit_as(&mut self, fresh: &LabelSet) {
        self.limit = fresh.limit;
    }

    pub fn intern(&mut self, value: &str) -> u16 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        // `other` and `unknown` are deskpulse's own values, not input's:
        // they never count against the limit, so a missing queue reads
        // `unknown` however many queues came before it.
        if self.names.len() < self.limit || value == OTHER || value == UNKNOWN {
            return self.insert(value);
        }
        self.folded += 1;
        match self.ids.get(OTHER) {
            Some(&id) => id,
            None => self.insert(OTHER),
        }
    }

    /// Interns an optional value, `unknown` when absent.
    pub fn intern_or_unknown(&mut self, value: Option<&str>) -> u16 {
        self.intern(value.unwrap_or(UNKNOWN))
    }

    fn insert(&mut self, value: &str) -> u16 {
        // `other` and `unknown` may be added beyond the limit, so ids stay
        // below limit + 2, which the config keeps under u16::MAX.
        let id = self.names.len() as u16;
        self.names.push(value.into());
        self.ids.insert(value.into(), id);
        id
    }

    pub fn name(&self, id: u16) -> &str {
        self.names.get(id as usize).map_or(UNKNOWN, |n| n)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn folded(&self) -> u64 {
        self.folded
    }

    pub fn names(&self) -> impl Iterator<Item = (u16, &str)> {
        self.names.iter().enumerate().map(|(i, n)| (i as u16, &**n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_beyond_the_limit_fold_into_other_and_are_counted() {
        let mut set = LabelSet::new(2);
        let a = set.intern("a");
        let b = set.intern("b");
        let c = set.intern("c");
        let d = set.intern("d");
        assert_ne!(a, b);
        assert_eq!(set.name(c), OTHER);
        assert_eq!(c, d);
        assert_eq!(set.intern("a"), a, "known values keep their id");
        assert_eq!(set.folded(), 2);
        let missing = set.intern_or_unknown(None);
        assert_eq!(set.name(missing), UNKNOWN);
        assert_eq!(set.folded(), 2, "a missing value is not folded");
    }
}
