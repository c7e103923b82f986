//! The records of the state topic, and putting a checkpoint back together
//! from its chunks. No Kafka here, so that all of it is tested on its own.
//!
//! Keys name whose record it is; compaction keeps the latest record of
//! each key. With `PART` = `GROUP/TOPIC/PARTITION` (group and topic
//! escaped as the directory store escapes path components):
//!
//! ```text
//! partition 0 (the index)  manifest/PART           where a checkpoint's chunks are
//!                          reset/GROUP             every older checkpoint of GROUP is gone
//! partitions 1 and up      chunk/PART/SLOT/INDEX   a piece of at most CHUNK_BYTES
//! ```
//!
//! A value is `"DPST"`, the layout byte, a postcard head, and for a chunk
//! its bytes. A tombstone (no value) on a manifest key deletes it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::dir::path_safe;
use crate::checkpoint::store::PartitionName;

/// The index: manifests and reset marks, all small, so that finding a
/// partition's newest manifest never reads a chunk.
pub(super) const INDEX_PARTITION: i32 = 0;
/// A chunk's bytes: with its key, head and batch, a record stays below the
/// largest message of librdkafka's and Kafka's defaults (1,000,000 bytes
/// and 1 MiB), so that the store works on brokers nobody has tuned.
pub(super) const CHUNK_BYTES: usize = 900 * 1000;
/// Tells the store's records from anything else written to the topic.
const MAGIC: &[u8; 4] = b"DPST";
/// Bumped whenever a head changes shape.
const LAYOUT: u8 = 1;
/// Refuses to put together more than this, so that a damaged manifest
/// cannot exhaust memory (an encoded checkpoint is tens of MB).
const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;

/// Where the chunks of one save are. Written only once every chunk is
/// acknowledged, so a manifest always names chunks that were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Manifest {
    /// Of this save, in every chunk: a chunk of another save is refused.
    pub id: u64,
    /// Saves of a partition take turns between slot 0 and 1, so that a
    /// save never overwrites the keys of the checkpoint it replaces.
    pub slot: u8,
    pub chunk_partition: i32,
    /// Offset of each chunk in `chunk_partition`, in order.
    pub offsets: Vec<i64>,
    /// Length and xxh3-64 of the whole checkpoint.
    pub bytes: u64,
    pub checksum: u64,
    /// Wall clock of the save, for whoever reads the topic by hand.
    pub saved_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ChunkHead {
    pub id: u64,
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ResetMark {
    pub reset_ms: i64,
}

/// The slot a save takes: the one the partition's newest manifest does not
/// use, so that under compaction its chunks keep their latest place.
pub(super) fn next_slot(newest: Option<&Manifest>) -> u8 {
    match newest {
        Some(manifest) if manifest.slot == 0 => 1,
        _ => 0,
    }
}

fn part(p: &PartitionName) -> String {
    format!(
        "{}/{}/{}",
        path_safe(p.group),
        path_safe(p.topic),
        p.partition
    )
}

pub(super) fn manifest_key(p: &PartitionName) -> String {
    format!("manifest/{}", part(p))
}

/// The start of every manifest key of `group`.
pub(super) fn group_manifests(group: &str) -> String {
    format!("manifest/{}/", path_safe(group))
}

pub(super) fn reset_key(group: &str) -> String {
    format!("reset/{}", path_safe(group))
}

/// The chunk key beside a manifest key: `manifest/PART` → `chunk/PART/SLOT/INDEX`.
pub(super) fn chunk_key(manifest_key: &str, slot: u8, index: usize) -> String {
    let part = manifest_key
        .strip_prefix("manifest/")
        .unwrap_or(manifest_key);
    format!("chunk/{part}/{slot}/{index}")
}

/// `MAGIC | LAYOUT | head | data`.
pub(super) fn encode<T: Serialize>(head: &T, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + 32 + data.len());
    out.extend_from_slice(MAGIC);
    out.push(LAYOUT);
    let mut out = postcard::to_extend(head, out).map_err(|e| e.to_string())?;
    out.extend_from_slice(data);
    Ok(out)
}

/// The head and data of a value, or `None` if it is not one of ours in
/// this layout.
pub(super) fn decode<T: DeserializeOwned>(value: &[u8]) -> Option<(T, &[u8])> {
    let rest = value.strip_prefix(MAGIC)?.strip_prefix(&[LAYOUT])?;
    postcard::take_from_bytes(rest).ok()
}

/// Why the chunks a manifest names do not make its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(super) struct Broken(pub String);

/// A checkpoint put back together from the chunk records read forward
/// from its first chunk's offset. Records between its chunks (other
/// partitions' chunks) are passed over.
pub(super) struct Assembly<'m> {
    manifest: &'m Manifest,
    manifest_key: &'m str,
    next: usize,
    bytes: Vec<u8>,
}

impl<'m> Assembly<'m> {
    pub fn new(manifest: &'m Manifest, manifest_key: &'m str) -> Result<Assembly<'m>, Broken> {
        let chunks = manifest.offsets.len() as u64;
        let in_order = manifest.offsets.windows(2).all(|w| w[0] < w[1]);
        // Every chunk but the last is full.
        let fits = manifest.bytes <= chunks * CHUNK_BYTES as u64
            && (chunks == 0 || manifest.bytes > (chunks - 1) * CHUNK_BYTES as u64);
        if !in_order || !fits || manifest.bytes > MAX_CHECKPOINT_BYTES {
            return Err(Broken(format!(
                "the manifest is damaged ({} bytes in {chunks} chunks)",
                manifest.bytes
            )));
        }
        Ok(Assembly {
            manifest,
            manifest_key,
            next: 0,
            bytes: Vec::with_capacity(manifest.bytes as usize),
        })
    }

    /// The offset of the next chunk wanted; `None` once all are in.
    pub fn wants(&self) -> Option<i64> {
        self.manifest.offsets.get(self.next).copied()
    }

    /// Takes the record at `offset` if it is the next chunk.
    pub fn offer(&mut self, offset: i64, key: &[u8], value: Option<&[u8]>) -> Result<(), Broken> {
        let Some(wanted) = self.wants() else {
            return Ok(());
        };
        if offset < wanted {
            return Ok(());
        }
        let index = self.next;
        let count = self.manifest.offsets.len();
        let missing = |why: &str| Broken(format!("chunk {index} of {count} {why}"));
        if offset > wanted {
            return Err(missing(&format!(
                "is gone from offset {wanted} (compacted or deleted)"
            )));
        }
        let expected = chunk_key(self.manifest_key, self.manifest.slot, index);
        if key != expected.as_bytes() {
            return Err(missing("has another key"));
        }
        let (head, data) = value
            .and_then(decode::<ChunkHead>)
            .ok_or_else(|| missing("is unreadable"))?;
        if head.id != self.manifest.id {
            return Err(missing("belongs to another save"));
        }
        if head.index as usize != index || head.count as usize != count {
            return Err(missing("is out of place"));
        }
        self.bytes.extend_from_slice(data);
        self.next += 1;
        Ok(())
    }

    /// The checkpoint, once every chunk is in and the whole checks out.
    pub fn finish(self) -> Result<Vec<u8>, Broken> {
        if self.wants().is_some() {
            return Err(Broken(format!(
                "only {} of {} chunks were found",
                self.next,
                self.manifest.offsets.len()
            )));
        }
        if self.bytes.len() as u64 != self.manifest.bytes
            || checksum(&self.bytes) != self.manifest.checksum
        {
            return Err(Broken("its chunks do not add up to it".to_owned()));
        }
        Ok(self.bytes)
    }
}

pub(super) fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: PartitionName = PartitionName {
        group: "desk/pulse",
        topic: "events",
        partition: 7,
    };

    type Log = Vec<(i64, String, Vec<u8>)>;

    /// The records a save of `bytes` writes, from offset 100 on, and its
    /// manifest.
    fn saved(bytes: &[u8], id: u64, slot: u8) -> (Manifest, Log) {
        saved_at(bytes, id, slot, 100)
    }

    /// [`saved`] from offset `at` on, every other offset.
    fn saved_at(bytes: &[u8], id: u64, slot: u8, at: i64) -> (Manifest, Log) {
        let key = manifest_key(&P);
        let pieces: Vec<&[u8]> = bytes.chunks(CHUNK_BYTES).collect();
        let records: Vec<_> = pieces
            .iter()
            .enumerate()
            .map(|(i, data)| {
                let head = ChunkHead {
                    id,
                    index: i as u32,
                    count: pieces.len() as u32,
                };
                let value = encode(&head, data).expect("encodes");
                (at + 2 * i as i64, chunk_key(&key, slot, i), value)
            })
            .collect();
        let manifest = Manifest {
            id,
            slot,
            chunk_partition: 1,
            offsets: records.iter().map(|r| r.0).collect(),
            bytes: bytes.len() as u64,
            checksum: checksum(bytes),
            saved_ms: 0,
        };
        (manifest, records)
    }

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// What compaction leaves of `log`: the latest record of each key.
    fn compacted(log: &[(i64, String, Vec<u8>)]) -> Log {
        log.iter()
            .filter(|(offset, key, _)| !log.iter().any(|(o, k, _)| k == key && o > offset))
            .cloned()
            .collect()
    }

    fn assemble(
        manifest: &Manifest,
        records: &[(i64, String, Vec<u8>)],
    ) -> Result<Vec<u8>, Broken> {
        let key = manifest_key(&P);
        let mut assembly = Assembly::new(manifest, &key)?;
        for (offset, k, v) in records {
            assembly.offer(*offset, k.as_bytes(), Some(v))?;
        }
        assembly.finish()
    }

    #[test]
    fn keys_escape_the_group_and_pair_chunks_with_their_manifest() {
        assert_eq!(manifest_key(&P), "manifest/desk%2Fpulse/events/7");
        assert!(manifest_key(&P).starts_with(&group_manifests("desk/pulse")));
        assert!(!manifest_key(&P).starts_with(&group_manifests("desk")));
        assert_eq!(reset_key("desk/pulse"), "reset/desk%2Fpulse");
        assert_eq!(
            chunk_key(&manifest_key(&P), 1, 12),
            "chunk/desk%2Fpulse/events/7/1/12"
        );
    }

    #[test]
    fn a_value_round_trips_and_a_foreign_one_is_refused() {
        let head = ResetMark { reset_ms: 42 };
        let value = encode(&head, b"tail").expect("encodes");
        assert_eq!(decode::<ResetMark>(&value), Some((head, &b"tail"[..])));
        assert_eq!(decode::<ResetMark>(b"{\"json\":1}"), None);
        let mut later = value.clone();
        later[4] = LAYOUT + 1;
        assert_eq!(decode::<ResetMark>(&later), None);
    }

    #[test]
    fn chunks_read_forward_make_the_checkpoint_among_other_records() {
        let original = bytes(2 * CHUNK_BYTES + 12_345);
        let (manifest, records) = saved(&original, 9, 1);
        assert_eq!(records.len(), 3);
        // Another partition's chunk between each of ours is passed over.
        let mut mixed = Vec::new();
        for (offset, key, value) in &records {
            mixed.push((*offset, key.clone(), value.clone()));
            mixed.push((*offset + 1, "chunk/other/x/0/0/0".to_owned(), b"x".to_vec()));
        }
        assert_eq!(assemble(&manifest, &mixed), Ok(original.clone()));
        let (empty, none) = saved(&[], 3, 0);
        assert_eq!(assemble(&empty, &none), Ok(Vec::new()));
    }

    #[test]
    fn after_compaction_a_cut_save_leaves_the_last_checkpoint_whole() {
        let last_bytes = bytes(3 * CHUNK_BYTES);
        let (last, mut log) = saved_at(&last_bytes, 1, next_slot(None), 100);
        // A save cut after two chunks, then a whole one.
        let (_, cut) = saved_at(&bytes(3 * CHUNK_BYTES), 2, next_slot(Some(&last)), 200);
        log.extend(cut.into_iter().take(2));
        assert_eq!(assemble(&last, &compacted(&log)), Ok(last_bytes.clone()));
        let next_bytes = bytes(2 * CHUNK_BYTES);
        let (next, written) = saved_at(&next_bytes, 3, next_slot(Some(&last)), 300);
        log.extend(written);
        assert_eq!(assemble(&next, &compacted(&log)), Ok(next_bytes));
        // The one it replaced is whole too, until the save after next.
        assert_eq!(assemble(&last, &compacted(&log)), Ok(last_bytes));
        let (_, after) = saved_at(&bytes(1), 4, next_slot(Some(&next)), 400);
        log.extend(after);
        assert!(assemble(&last, &compacted(&log)).is_err());
    }

    #[test]
    fn a_mix_of_two_saves_is_refused() {
        let original = bytes(3 * CHUNK_BYTES);
        let (manifest, mut records) = saved(&original, 9, 0);
        // The middle chunk of another save of the same slot, at its place.
        let (_, other) = saved(&bytes(3 * CHUNK_BYTES + 1), 10, 0);
        records[1].2 = other[1].2.clone();
        let refused = assemble(&manifest, &records).expect_err("a mix is refused");
        assert!(refused.0.contains("another save"), "{refused}");
    }

    #[test]
    fn missing_misplaced_or_altered_chunks_are_refused() {
        let original = bytes(2 * CHUNK_BYTES + 1);
        let (manifest, records) = saved(&original, 9, 0);
        let why = |records: &[(i64, String, Vec<u8>)]| {
            assemble(&manifest, records).expect_err("refused").0
        };
        // Compacted away: the next record read is past the wanted offset.
        assert!(why(&[records[0].clone(), records[2].clone()]).contains("is gone"));
        // A crash before the last chunk, or a read that stopped early.
        assert!(why(&records[..2]).contains("only 2 of 3"));
        // The other slot's key at the wanted offset.
        let mut swapped = records.clone();
        swapped[0].1 = chunk_key(&manifest_key(&P), 1, 0);
        assert!(why(&swapped).contains("another key"));
        // A flipped byte passes every chunk check but not the checksum.
        let mut flipped = records.clone();
        let last = flipped[2].2.len() - 1;
        flipped[2].2[last] ^= 1;
        assert!(why(&flipped).contains("do not add up"));
        // A manifest whose length cannot be its chunks'.
        let mut damaged = manifest.clone();
        damaged.bytes = 10 * CHUNK_BYTES as u64;
        let key = manifest_key(&P);
        assert!(Assembly::new(&damaged, &key).is_err());
    }
}
