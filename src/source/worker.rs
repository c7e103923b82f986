//! Worker threads of live mode: each owns the engine shards of some
//! assigned partitions and applies their messages, in order, as the
//! polling thread hands them over. Nothing here is shared between workers,
//! so the hot path takes no lock; what the polling thread must read
//! (progress, readiness) is published in atomics.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use super::kafka::DeadLetters;
use super::{wall_ms, RejectLog, DELAY_BUCKETS};
use crate::config::Config;
use crate::engine::cumulative::ClassicHistogram;
use crate::engine::snapshot::Snapshot;
use crate::engine::{Applied, Engine};

/// A partition: index of its topic in the consumed topics, and number.
pub type PartitionKey = (usize, i32);

/// What the polling thread and a partition's worker both see of it.
#[derive(Debug)]
pub struct Progress {
    /// Offset after the last applied message; -1 before the first.
    pub applied_next: AtomicI64,
    /// The partition has been read to its end at least once.
    pub reached_end: AtomicBool,
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress {
            applied_next: AtomicI64::new(-1),
            reached_end: AtomicBool::new(false),
        })
    }

    pub fn applied_next(&self) -> Option<i64> {
        Some(self.applied_next.load(Ordering::Acquire)).filter(|&next| next >= 0)
    }
}

/// Messages copied out of librdkafka, many to a buffer, so that handing
/// them to a worker costs no allocation per message.
#[derive(Default)]
pub struct Batch {
    bytes: Vec<u8>,
    items: Vec<Item>,
}

struct Item {
    partition: PartitionKey,
    offset: i64,
    key: Option<Range<usize>>,
    payload: Range<usize>,
}

impl Batch {
    pub fn with_capacity(messages: usize) -> Batch {
        Batch {
            bytes: Vec::with_capacity(messages * 512),
            items: Vec::with_capacity(messages),
        }
    }

    pub fn push(
        &mut self,
        partition: PartitionKey,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
    ) {
        let mut copy = |bytes: &[u8]| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(bytes);
            start..self.bytes.len()
        };
        let key = key.map(&mut copy);
        let payload = copy(payload);
        self.items.push(Item {
            partition,
            offset,
            key,
            payload,
        });
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
    }

    pub fn holds_any(&self, partitions: &[PartitionKey]) -> bool {
        self.items.iter().any(|i| partitions.contains(&i.partition))
    }

    /// Drops the items of `partitions`; their bytes stay until the batch
    /// is handed over.
    pub fn retain_other_than(&mut self, partitions: &[PartitionKey]) {
        self.items.retain(|i| !partitions.contains(&i.partition));
    }
}

/// A worker's part of a picture: its shards merged at one instant.
pub struct Part {
    pub snapshot: Option<Snapshot>,
    pub delay: ClassicHistogram,
}

/// What a worker is asked to do, in the order asked.
pub enum Work {
    Assign(PartitionKey, Arc<Progress>),
    Apply(Batch),
    /// Every message handed over before this one has been read to the
    /// partition's end.
    ReachedEnd(PartitionKey),
    /// Drop the shard, keeping its counters.
    Revoke(PartitionKey),
    /// Answer once everything before is applied.
    Barrier(Sender<()>),
    Picture(i64, Sender<Part>),
}

struct Shard {
    engine: Engine,
    progress: Arc<Progress>,
    delay: ClassicHistogram,
}

/// Where a rejected message came from, for the log.
struct Place<'a>(&'a str, &'a Item);

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}@{}", self.0, self.1.partition.1, self.1.offset)
    }
}

/// Runs until the polling thread drops its sender; applied batches go
/// back, emptied, through `spent`.
pub fn work(
    inbox: Receiver<Work>,
    spent: Sender<Batch>,
    config: Config,
    dead_letters: Option<Arc<DeadLetters>>,
) {
    let mut shards: HashMap<PartitionKey, Shard> = HashMap::new();
    // The counts of partitions that moved away, kept so counters never
    // go down while this process lives.
    let mut retired: Option<Snapshot> = None;
    let mut retired_delay = ClassicHistogram::new(DELAY_BUCKETS);
    let mut reject_log = RejectLog::new(10);
    for work in inbox {
        match work {
            Work::Assign(partition, progress) => {
                shards.insert(
                    partition,
                    Shard {
                        engine: Engine::new(&config),
                        progress,
                        delay: ClassicHistogram::new(DELAY_BUCKETS),
                    },
                );
            }
            Work::Apply(mut batch) => {
                for item in &batch.items {
                    // Revoked since it was fetched: its new owner reads it.
                    let Some(shard) = shards.get_mut(&item.partition) else {
                        continue;
                    };
                    let wall = wall_ms();
                    let payload = &batch.bytes[item.payload.clone()];
                    match shard.engine.apply(payload, wall) {
                        Ok(Applied::Accepted { ts_ms, .. }) => {
                            let delay = wall.saturating_sub(ts_ms).max(0) as u64;
                            shard.delay.observe(DELAY_BUCKETS, delay);
                        }
                        Ok(Applied::Duplicate | Applied::Blank) => {}
                        Err(reason) => {
                            let topic = &config.kafka.topics[item.partition.0];
                            reject_log.rejected(reason, &Place(topic, item));
                            if let Some(dead_letters) = &dead_letters {
                                let key = item.key.clone().map(|k| &batch.bytes[k]);
                                dead_letters.send(
                                    topic,
                                    item.partition.1,
                                    item.offset,
                                    key,
                                    payload,
                                    reason,
                                );
                            }
                        }
                    }
                    shard
                        .progress
                        .applied_next
                        .store(item.offset + 1, Ordering::Release);
                }
                batch.clear();
                let _ = spent.send(batch);
            }
            Work::ReachedEnd(partition) => {
                if let Some(shard) = shards.get(&partition) {
                    shard.progress.reached_end.store(true, Ordering::Release);
                }
            }
            Work::Revoke(partition) => {
                if let Some(shard) = shards.remove(&partition) {
                    let counters = shard.engine.snapshot(wall_ms()).counters_only();
                    merge_into(&mut retired, &counters);
                    retired_delay.merge(&shard.delay);
                }
            }
            Work::Barrier(done) => {
                let _ = done.send(());
            }
            Work::Picture(now_ms, reply) => {
                let mut part = Part {
                    snapshot: retired.clone(),
                    delay: retired_delay.clone(),
                };
                for shard in shards.values() {
                    merge_into(&mut part.snapshot, &shard.engine.snapshot(now_ms));
                    part.delay.merge(&shard.delay);
                }
                let _ = reply.send(part);
            }
        }
    }
}

fn merge_into(merged: &mut Option<Snapshot>, snapshot: &Snapshot) {
    match merged {
        Some(merged) => merged.merge(snapshot),
        None => *merged = Some(snapshot.clone()),
    }
}
