//! [`Chunked`]: a sequence in copy-on-write chunks.

use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

use super::{serialize_seq, Filling, Part};

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
}
