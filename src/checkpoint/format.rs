//! The encoded checkpoint:
//!
//! ```text
//! "DPCK" | format version (u16 LE) | header length (u32 LE) | header
//!        | xxh3-64 of header and payload (u64 LE) | payload
//! ```
//!
//! The header (postcard) says whose state it is, at which offset, and under
//! which settings fingerprint, and can be read without the payload. The
//! payload is the engine [`State`] in postcard, compressed with zstd. The
//! version comes first so that a later layout is told apart before
//! anything else is read.

use serde::{Deserialize, Serialize};

use super::store::PartitionName;
use crate::engine::State;

/// Bumped whenever the encoded form or the engine's `State` changes shape.
pub const FORMAT_VERSION: u16 = 2;
const MAGIC: &[u8; 4] = b"DPCK";
/// zstd's fastest levels keep writing cheap; state compresses well anyway.
const ZSTD_LEVEL: i32 = 1;
/// Refuses to inflate a payload beyond this, so that a corrupt length
/// cannot exhaust memory (a million open tickets take about 300 MB).
const MAX_STATE_BYTES: usize = 8 << 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    /// The offset of the next message the state has not applied: where the
    /// consumer resumes.
    pub next_offset: i64,
    /// Wall clock when the state was taken.
    pub taken_ms: i64,
    /// [`crate::engine::Engine::state_fingerprint`] of its settings.
    pub fingerprint: u64,
    /// Length of the state before compression.
    pub state_bytes: u64,
}

/// Why a checkpoint that was found cannot be used; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    #[error("it is damaged ({0}); it will be replaced by the next checkpoint, or delete it with `deskpulse run --state-reset`")]
    Corrupt(String),
    #[error("it was written in checkpoint format {found} and this build reads format {FORMAT_VERSION}; run the version that wrote it to drain, or start over with `deskpulse run --state-reset`")]
    Version { found: u16 },
    #[error("it was saved under other window lengths, per-queue windows, `today` zone, custom ratios or SLA policies; restore the old settings, or start over with `deskpulse run --state-reset`")]
    Settings,
    #[error("it holds {found}, not this partition; delete it with `deskpulse run --state-reset`")]
    OtherPartition { found: String },
}

#[derive(Debug, thiserror::Error)]
#[error("checkpoint could not be encoded: {0}")]
pub struct EncodeError(String);

/// Encodes `state` under `header` (whose `state_bytes` is filled in here).
pub fn encode(mut header: Header, state: &State) -> Result<Vec<u8>, EncodeError> {
    let plain = postcard::to_allocvec(state).map_err(|e| EncodeError(e.to_string()))?;
    let payload =
        zstd::bulk::compress(&plain, ZSTD_LEVEL).map_err(|e| EncodeError(e.to_string()))?;
    header.state_bytes = plain.len() as u64;
    let head = postcard::to_allocvec(&header).map_err(|e| EncodeError(e.to_string()))?;
    let head_len = u32::try_from(head.len()).map_err(|e| EncodeError(e.to_string()))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 14 + head.len() + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&head_len.to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&checksum(&head, &payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

fn checksum(head: &[u8], payload: &[u8]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(head);
    hasher.update(payload);
    hasher.digest()
}

/// The parts of an encoded checkpoint, checked against its checksum.
fn split(bytes: &[u8]) -> Result<(Header, &[u8]), Unusable> {
    let corrupt = |what: &str| Unusable::Corrupt(what.to_owned());
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or(corrupt("not a checkpoint"))?;
    let (version, rest) = take::<2>(rest).ok_or(corrupt("truncated"))?;
    let found = u16::from_le_bytes(version);
    if found != FORMAT_VERSION {
        return Err(Unusable::Version { found });
    }
    let (head_len, rest) = take::<4>(rest).ok_or(corrupt("truncated"))?;
    let head_len = u32::from_le_bytes(head_len) as usize;
    let head = rest.get(..head_len).ok_or(corrupt("truncated"))?;
    let (sum, payload) = take::<8>(&rest[head_len..]).ok_or(corrupt("truncated"))?;
    if u64::from_le_bytes(sum) != checksum(head, payload) {
        return Err(corrupt("checksum mismatch"));
    }
    let header: Header =
        postcard::from_bytes(head).map_err(|e| Unusable::Corrupt(format!("header: {e}")))?;
    Ok((header, payload))
}

fn take<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
    let (head, rest) = bytes.split_at_checked(N)?;
    Some((head.try_into().ok()?, rest))
}

/// The header alone, checked: what a store compares to find the newest.
pub fn header(bytes: &[u8]) -> Result<Header, Unusable> {
    split(bytes).map(|(header, _)| header)
}

/// Decodes a checkpoint of `partition` saved under `fingerprint`.
pub fn decode(
    bytes: &[u8],
    partition: &PartitionName,
    fingerprint: u64,
) -> Result<(Header, State), Unusable> {
    let (header, payload) = split(bytes)?;
    let found = PartitionName {
        group: &header.group,
        topic: &header.topic,
        partition: header.partition,
    };
    if found != *partition {
        return Err(Unusable::OtherPartition {
            found: found.to_string(),
        });
    }
    if header.fingerprint != fingerprint {
        return Err(Unusable::Settings);
    }
    let size = usize::try_from(header.state_bytes)
        .ok()
        .filter(|&n| n <= MAX_STATE_BYTES)
        .ok_or_else(|| Unusable::Corrupt("state size out of range".to_owned()))?;
    let plain = zstd::bulk::decompress(payload, size)
        .map_err(|e| Unusable::Corrupt(format!("payload: {e}")))?;
    let state =
        postcard::from_bytes(&plain).map_err(|e| Unusable::Corrupt(format!("state: {e}")))?;
    Ok((header, state))
}
