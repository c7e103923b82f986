//! Copy-on-write containers for the engine's large state. A checkpoint
//! copies the state on the partition's worker (`Engine::checkpoint_copy`),
//! and a flat map of a million tickets took some 100 ms to copy: the
//! worker stood still that long every interval. These containers keep
//! their entries in parts shared through an `Arc`, so the copy only
//! counts references, and the engine copies a part only when it first
//! changes it while a checkpoint still holds it: a few hundred
//! microseconds at most, spread over the events that follow.
//!
//! Each serialises as the std container it replaces (a map, a set or a
//! sequence), so the checkpoint format is unchanged.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::IdHasher;

/// Parts of a keyed container. A million tickets make some 4,000 per part.
const PARTS: usize = 256;

/// The part of key `id`, from bits that hashbrown uses for neither the
/// bucket (the low bits) nor the tag (the top seven), since the ids are
/// hashes already: within a part the tags still tell keys apart.
fn part_of(id: u64) -> usize {
    (id >> 40) as usize % PARTS
}

/// A value the engine owns, or shares with checkpoint copies. The
/// engine's reads and writes of an owned part touch no reference count:
/// an `Arc` alone would take an atomic compare-and-swap on every write.
#[derive(Debug, Clone)]
pub enum Part<T> {
    Owned(T),
    Shared(Arc<T>),
}

impl<T: Default> Default for Part<T> {
    fn default() -> Self {
        Part::Owned(T::default())
    }
}

impl<T: Clone + Default> Part<T> {
    pub fn get(&self) -> &T {
        match self {
            Part::Owned(value) => value,
            Part::Shared(value) => value,
        }
    }

    /// Owns the value again, copying it only if a copy still holds it.
    pub fn get_mut(&mut self) -> &mut T {
        if let Part::Shared(shared) = self {
            let shared = std::mem::take(shared);
            *self = Part::Owned(Arc::try_unwrap(shared).unwrap_or_else(|s| (*s).clone()));
        }
        match self {
            Part::Owned(value) => value,
            Part::Shared(shared) => Arc::make_mut(shared),
        }
    }

    /// A copy sharing the value. Moving an owned value into an `Arc`
    /// moves its header, not its entries (`T` is a container).
    pub fn share(&mut self) -> Part<T> {
        self.make_shared();
        self.clone()
    }

    /// Moves an owned value into an `Arc`, so that copies share it.
    pub fn make_shared(&mut self) {
        if let Part::Owned(value) = self {
            *self = Part::Shared(Arc::new(std::mem::take(value)));
        }
    }
}

impl<T: Clone + Default> Part<T> {
    /// Empties it with `clear`, which keeps an owned value's allocations;
    /// a shared one is let go rather than copied to be emptied.
    pub fn clear_with(&mut self, clear: impl FnOnce(&mut T)) {
        match self {
            Part::Owned(value) => clear(value),
            Part::Shared(_) => *self = Part::default(),
        }
    }
}

/// Saved as the value itself.
impl<T: Serialize + Clone + Default> Serialize for Part<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Part<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Part::Owned)
    }
}

/// `PARTS` values, each shared with copies until first changed.
#[derive(Debug, Clone)]
pub struct Parts<T> {
    parts: Box<[Part<T>]>,
}

impl<T: Default> Default for Parts<T> {
    fn default() -> Self {
        Parts {
            parts: (0..PARTS).map(|_| Part::default()).collect(),
        }
    }
}

impl<T: Clone + Default> Parts<T> {
    pub fn of(&self, id: u64) -> &T {
        self.parts[part_of(id)].get()
    }

    /// Part of `id`, copied first if a checkpoint holds it.
    pub fn of_mut(&mut self, id: u64) -> &mut T {
        self.parts[part_of(id)].get_mut()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.parts.iter().map(Part::get)
    }

    /// A copy that shares every part, for a checkpoint.
    pub fn share(&mut self) -> Parts<T> {
        Parts {
            parts: self.parts.iter_mut().map(Part::share).collect(),
        }
    }

    /// Calls `change` on each part for which `touches` holds, so that a
    /// pass that changes few parts copies only those.
    fn change_where(&mut self, touches: impl Fn(&T) -> bool, mut change: impl FnMut(&mut T)) {
        for part in self.parts.iter_mut().filter(|p| touches(p.get())) {
            change(part.get_mut());
        }
    }
}

type Map<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// A map keyed by id hash, in copy-on-write parts.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    parts: Parts<Map<V>>,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            parts: Parts::default(),
        }
    }
}

impl<V: Clone> IdMap<V> {
    /// A copy for a checkpoint, sharing every part.
    pub fn share(&mut self) -> IdMap<V> {
        IdMap {
            parts: self.parts.share(),
        }
    }

    pub fn get(&self, id: &u64) -> Option<&V> {
        self.parts.of(*id).get(id)
    }

    /// A miss may copy the part too, once per checkpoint: cheaper than a
    /// second lookup on every hit.
    pub fn get_mut(&mut self, id: &u64) -> Option<&mut V> {
        self.parts.of_mut(*id).get_mut(id)
    }

    pub fn contains_key(&self, id: &u64) -> bool {
        self.parts.of(*id).contains_key(id)
    }

    pub fn insert(&mut self, id: u64, value: V) -> Option<V> {
        self.parts.of_mut(id).insert(id, value)
    }

    pub fn entry(&mut self, id: u64) -> std::collections::hash_map::Entry<'_, u64, V> {
        self.parts.of_mut(id).entry(id)
    }

    pub fn remove(&mut self, id: &u64) -> Option<V> {
        self.parts.of_mut(*id).remove(id)
    }

    pub fn len(&self) -> usize {
        self.parts.iter().map(Map::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(Map::is_empty)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u64, &V)> {
        self.parts.iter().flat_map(|p| p.iter())
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.parts.iter().flat_map(|p| p.values())
    }

    /// Removes the entries `drop` holds for, calling `dropped` with each:
    /// a part with none to remove is not copied.
    pub fn remove_where(&mut self, drop: impl Fn(&V) -> bool, mut dropped: impl FnMut(u64, &V)) {
        self.parts.change_where(
            |part| part.values().any(&drop),
            |part| {
                part.retain(|&id, v| {
                    let remove = drop(v);
                    if remove {
                        dropped(id, v);
                    }
                    !remove
                })
            },
        );
    }
}

impl<V: Serialize + Clone> Serialize for IdMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // With its length first, as in `serialize_seq`.
        let mut map = s.serialize_map(Some(self.len()))?;
        for (id, value) in self.iter() {
            map.serialize_entry(id, value)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de> + Clone> Deserialize<'de> for IdMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MapFilling(PhantomData))
    }
}

type Set = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// A set of id hashes, in copy-on-write parts.
#[derive(Debug, Clone, Default)]
pub struct IdSet {
    parts: Parts<Set>,
}

impl IdSet {
    /// A copy for a checkpoint, sharing every part.
    pub fn share(&mut self) -> IdSet {
        IdSet {
            parts: self.parts.share(),
        }
    }

    /// Whether `id` is new.
    pub fn insert(&mut self, id: u64) -> bool {
        self.parts.of_mut(id).insert(id)
    }

    pub fn remove(&mut self, id: &u64) -> bool {
        self.parts.of_mut(*id).remove(id)
    }

    pub fn len(&self) -> usize {
        self.parts.iter().map(Set::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(Set::is_empty)
    }
}

impl Serialize for IdSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_seq(s, self.len(), self.parts.iter().flatten())
    }
}

impl<'de> Deserialize<'de> for IdSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(Filling(PhantomData))
    }
}

impl Extend<u64> for IdSet {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

/// A sequence with its length first: postcard writes it before the
/// entries, and a flattened iterator does not know it.
fn serialize_seq<S: Serializer, T: Serialize>(
    s: S,
    len: usize,
    values: impl Iterator<Item = T>,
) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(len))?;
    for value in values {
        seq.serialize_element(&value)?;
    }
    seq.end()
}

/// Entries per chunk of a [`Chunked`]: 4,096 SLA clocks are 160 KB.
const CHUNK: usize = 4096;

/// A sequence in copy-on-write chunks, pushed at the back and popped at
/// either end: the SLA clocks and their free list, and the dedup
/// sightings in the order accepted.
#[derive(Debug, Clone)]
pub struct Chunked<T> {
    chunks: std::collections::VecDeque<Part<Vec<T>>>,
    /// Entries popped from the front of the first chunk; they stay in it,
    /// unread, so that popping copies nothing.
    head: usize,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Default::default(),
            head: 0,
            len: 0,
        }
    }
}

impl<T: Clone> Chunked<T> {
    /// A copy for a checkpoint, sharing every chunk.
    pub fn share(&mut self) -> Chunked<T> {
        Chunked {
            chunks: self.chunks.iter_mut().map(Part::share).collect(),
            head: self.head,
            len: self.len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn place(&self, i: usize) -> (usize, usize) {
        let at = self.head + i;
        (at / CHUNK, at % CHUNK)
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        let (chunk, at) = self.place(i);
        self.chunks.get(chunk).and_then(|c| c.get().get(at))
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let (chunk, at) = self.place(i);
        self.chunks
            .get_mut(chunk)
            .and_then(|c| c.get_mut().get_mut(at))
    }

    pub fn front(&self) -> Option<&T> {
        self.get(0)
    }

    pub fn push_back(&mut self, value: T) {
        match self.chunks.back_mut() {
            Some(last) if last.get().len() < CHUNK => last.get_mut().push(value),
            _ => {
                // Grown by doubling as a Vec is, as most sequences (a
                // window slot's customers) stay short.
                self.chunks.push_back(Part::Owned(vec![value]));
            }
        }
        self.len += 1;
    }

    pub fn pop_back(&mut self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let last = self.chunks.back_mut()?;
        let chunk = last.get_mut();
        let value = chunk.pop();
        let emptied = chunk.is_empty();
        self.len -= 1;
        if self.len == 0 {
            self.clear();
        } else if emptied {
            self.chunks.pop_back();
        }
        value
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let value = self.front()?.clone();
        self.head += 1;
        self.len -= 1;
        if self.len == 0 {
            self.clear();
        } else if self.head == CHUNK {
            // Every chunk but the last is full.
            self.chunks.pop_front();
            self.head = 0;
        }
        Some(value)
    }

    /// Empties it, keeping the first chunk's allocation if it is not
    /// shared: a window slot is emptied and filled again.
    pub fn clear(&mut self) {
        self.chunks.truncate(1);
        match self.chunks.front_mut() {
            Some(Part::Owned(first)) => first.clear(),
            _ => self.chunks.clear(),
        }
        self.head = 0;
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks
            .iter()
            .flat_map(|c| c.get().iter())
            .skip(self.head)
    }
}

/// A position handed out by the caller itself (an SLA clock's slot), so
/// one out of range is a bug, as with a `Vec`.
impl<T: Clone> std::ops::Index<usize> for Chunked<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        self.get(i).expect("a position within the sequence")
    }
}

impl<T: Clone> std::ops::IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.get_mut(i).expect("a position within the sequence")
    }
}

impl<T: Serialize + Clone> Serialize for Chunked<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_seq(s, self.len, self.iter())
    }
}

impl<'de, T: Deserialize<'de> + Clone> Deserialize<'de> for Chunked<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(Filling(PhantomData))
    }
}

impl<T: Clone> Extend<T> for Chunked<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, values: I) {
        for value in values {
            self.push_back(value);
        }
    }
}

/// Reads a sequence of `T` straight into container `C`, with no std
/// container in between.
struct Filling<C, T>(PhantomData<(C, T)>);

impl<'de, C, T> Visitor<'de> for Filling<C, T>
where
    C: Default + Extend<T>,
    T: Deserialize<'de>,
{
    type Value = C;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<C, A::Error> {
        let mut filled = C::default();
        while let Some(value) = seq.next_element()? {
            filled.extend(Some(value));
        }
        Ok(filled)
    }
}

/// [`Filling`] for an [`IdMap`], from a map.
struct MapFilling<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de> + Clone> Visitor<'de> for MapFilling<V> {
    type Value = IdMap<V>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<IdMap<V>, A::Error> {
        let mut map = IdMap::<V>::default();
        // Sized up front, as a std map would be: growing each part by
        // doubling rehashed every entry about twice.
        let each = entries.size_hint().unwrap_or(0) / PARTS;
        for part in map.parts.parts.iter_mut() {
            part.get_mut().reserve(each + each / 8);
        }
        while let Some((id, value)) = entries.next_entry()? {
            map.insert(id, value);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[derive(Debug, Clone)]
    enum Op {
        PushBack(u32),
        PopBack,
        PopFront,
        Set(usize, u32),
        Copy,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u32>().prop_map(Op::PushBack),
            1 => Just(Op::PopBack),
            2 => Just(Op::PopFront),
            1 => (any::<usize>(), any::<u32>()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => Just(Op::Copy),
        ]
    }

    proptest! {
        /// A chunked sequence behaves as a VecDeque, and a copy taken at
        /// any point keeps what it held while the original changes.
        #[test]
        fn chunked_is_a_deque_and_copies_stay_put(
            ops in proptest::collection::vec(op(), 0..3 * CHUNK),
        ) {
            let mut chunked = Chunked::default();
            let mut model = VecDeque::new();
            let mut copies = Vec::new();
            for op in ops {
                match op {
                    Op::PushBack(v) => { chunked.push_back(v); model.push_back(v); }
                    Op::PopBack => prop_assert_eq!(chunked.pop_back(), model.pop_back()),
                    Op::PopFront => prop_assert_eq!(chunked.pop_front(), model.pop_front()),
                    Op::Set(i, v) if !model.is_empty() => {
                        let i = i % model.len();
                        *chunked.get_mut(i).expect("in range") = v;
                        model[i] = v;
                    }
                    Op::Set(..) => prop_assert!(chunked.get_mut(0).is_none()),
                    Op::Copy => copies.push((chunked.share(), model.clone())),
                }
                prop_assert_eq!(chunked.len(), model.len());
                prop_assert_eq!(chunked.front(), model.front());
            }
            prop_assert!(chunked.iter().eq(model.iter()));
            for (copy, then) in copies {
                prop_assert!(copy.iter().eq(then.iter()));
                prop_assert!((0..then.len()).all(|i| copy.get(i) == then.get(i)));
            }
        }
    }

    #[test]
    fn a_map_copy_keeps_its_entries_while_the_original_changes() {
        let mut map = IdMap::default();
        for id in 0..10_000u64 {
            map.insert(id.wrapping_mul(0x9E37_79B9_7F4A_7C15), id);
        }
        let copy = map.share();
        map.remove_where(|&v| v % 2 == 0, |_, _| {});
        for id in 0..10_000u64 {
            let key = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            *map.get_mut(&key).map_or(&mut 0, |v| v) += 1;
            assert_eq!(copy.get(&key), Some(&id));
        }
        assert_eq!((map.len(), copy.len()), (5_000, 10_000));
        let text = serde_json::to_string(&map).expect("serialise");
        let back: IdMap<u64> = serde_json::from_str(&text).expect("deserialise");
        assert!(map.iter().all(|(k, v)| back.get(k) == Some(v)));
        assert_eq!(back.len(), map.len());
    }

    #[test]
    fn a_set_copy_keeps_its_ids() {
        let mut set = IdSet::default();
        assert!(set.insert(1 << 41) && !set.insert(1 << 41));
        let copy = set.share();
        assert!(set.remove(&(1 << 41)) && !set.remove(&(1 << 41)));
        assert_eq!((set.len(), copy.len()), (0, 1));
    }

    #[test]
    fn a_copy_shares_every_part_until_one_changes() {
        let mut map = IdMap::default();
        for id in 0..100_000u64 {
            map.insert(id << 40, id);
        }
        let copy = map.share();
        let shared = |a: &IdMap<u64>, b: &IdMap<u64>| {
            a.parts
                .parts
                .iter()
                .zip(b.parts.parts.iter())
                .filter(
                    |pair| matches!(pair, (Part::Shared(x), Part::Shared(y)) if Arc::ptr_eq(x, y)),
                )
                .count()
        };
        assert_eq!(shared(&map, &copy), PARTS);
        map.insert(5 << 40, 0);
        assert_eq!(shared(&map, &copy), PARTS - 1);
    }
}
