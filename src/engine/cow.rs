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

mod chunked;
pub use chunked::Chunked;

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
    #[inline]
    pub fn get(&self) -> &T {
        match self {
            Part::Owned(value) => value,
            Part::Shared(value) => value,
        }
    }

    // Inline, with the rare unsharing kept out of line: called out of line
    // on every window slot and map part written, this was some 300
    // instructions an event.
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        if let Part::Shared(_) = self {
            self.unshare();
        }
        match self {
            Part::Owned(value) => value,
            Part::Shared(shared) => Arc::make_mut(shared),
        }
    }

    /// Owns the value again, copying it only if a copy still holds it.
    #[cold]
    #[inline(never)]
    fn unshare(&mut self) {
        if let Part::Shared(shared) = std::mem::replace(self, Part::Owned(T::default())) {
            *self = Part::Owned(Arc::try_unwrap(shared).unwrap_or_else(|s| (*s).clone()));
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
    #[inline]
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
    #[inline]
    pub fn of(&self, id: u64) -> &T {
        self.parts[part_of(id)].get()
    }

    /// Part of `id`, copied first if a checkpoint holds it.
    #[inline]
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

/// A plain map keyed by id hash: one part of an [`IdMap`], or a scratch
/// map that no checkpoint copies.
pub type FlatIdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// A map keyed by id hash, in copy-on-write parts.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    parts: Parts<FlatIdMap<V>>,
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
        self.parts.iter().map(FlatIdMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(FlatIdMap::is_empty)
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
