//! Worker threads of live mode: each owns the engine shards of some
//! assigned partitions and applies their messages, in order, as the
//! polling thread hands them over. Nothing here is shared between workers,
//! so the hot path takes no lock; what the polling thread must read
//! (progress, readiness) is published in atomics. A worker also wakes on
//! a tick: with `[sla]`, to fire the deadlines of its caught-up partitions
//! by the wall clock (what fired is in the next picture); with a state
//! store, to hand a copy of each partition's state to the checkpoint
//! writer every `state.checkpoint_interval`, and on revoke and shutdown.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{wall_ms, DeadLetterSink, RejectLog, DELAY_BUCKETS};
use crate::checkpoint::{Checkpoints, Header, Job};
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

/// A partition's engine restored from its checkpoint.
pub struct Handover {
    pub engine: Box<Engine>,
    /// The group's committed offset, when past the checkpoint's: messages
    /// before it change the state but are not counted again.
    pub counted_before: Option<i64>,
}

/// A worker's part of a picture: its shards merged at one instant.
pub struct Part {
    pub snapshot: Option<Snapshot>,
    pub delay: ClassicHistogram,
}

/// What a worker is asked to do, in the order asked.
pub enum Work {
    /// With the engine restored from its checkpoint, if there was one.
    Assign(PartitionKey, Arc<Progress>, Option<Handover>),
    Apply(Batch),
    /// Every message handed over before this one has been read up to the
    /// high watermark of the partition's last fetch: it is caught up, and
    /// its deadlines fire by the wall clock until its next message.
    ReachedEnd(PartitionKey),
    /// Checkpoint the shard, and drop it keeping its counters.
    Revoke(PartitionKey),
    /// Checkpoint every shard (at shutdown).
    CheckpointAll,
    /// Answer once everything before is applied.
    Barrier(Sender<()>),
    Picture(i64, Sender<Part>),
}

/// How often a worker fires the SLA deadlines of its caught-up partitions
/// by the wall clock. SPEC §4.4 wants a breach shown within a second of
/// its deadline, with no event needed; a tenth of that leaves the rest to
/// the scrape. A tick that finds nothing due costs a heap peek per
/// caught-up shard; without `[sla]` or a state store there is no tick.
const TICK: Duration = Duration::from_millis(100);

struct Shard {
    engine: Engine,
    progress: Arc<Progress>,
    delay: ClassicHistogram,
    /// Read to the high watermark of its last fetch, and no message
    /// since: its deadlines fire by the wall clock. While it reads a
    /// backlog they fire only by its event-time clock (the engine does
    /// that before each event's SLA step, at the end of each batch), so
    /// that a reply still waiting in the backlog is judged at its own
    /// `ts`, not breached for being late to arrive.
    caught_up: bool,
    /// The offset the last checkpoint resumes at, and when it was taken.
    checkpointed_next: Option<i64>,
    checkpointed_at: Instant,
    /// Set while a copy of its state waits for the writer.
    checkpoint_pending: Arc<AtomicBool>,
    /// See [`Handover::counted_before`]; `None` once passed.
    counted_before: Option<i64>,
}

impl Shard {
    /// Once the messages already counted have been applied, the counts
    /// start afresh from `next`: what came before was counted already.
    fn pass_counted(&mut self, next: i64) {
        if self.counted_before.is_some_and(|counted| next >= counted) {
            self.engine.reset_counts();
            self.delay = ClassicHistogram::new(DELAY_BUCKETS);
            self.counted_before = None;
        }
    }
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
    dead_letters: Option<Arc<dyn DeadLetterSink>>,
    checkpoints: Option<Checkpoints>,
) {
    let ticks = !config.sla_rules.is_off() || checkpoints.is_some();
    let mut worker = Worker {
        shards: HashMap::new(),
        retired: None,
        retired_delay: ClassicHistogram::new(DELAY_BUCKETS),
        reject_log: RejectLog::new(10),
        spent,
        config,
        dead_letters,
        checkpoints,
    };
    if !ticks {
        inbox.iter().for_each(|work| worker.handle(work));
        return;
    }
    let mut next_tick = Instant::now() + TICK;
    loop {
        match inbox.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
            Ok(work) => worker.handle(work),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Checked after every piece of work too: a worker kept busy by
        // other partitions still ticks for its caught-up ones.
        let now = Instant::now();
        if now >= next_tick {
            worker.fire_by_wall_clock(wall_ms());
            worker.checkpoint_due();
            next_tick = now + TICK;
        }
    }
}

struct Worker {
    shards: HashMap<PartitionKey, Shard>,
    /// The counts of partitions that moved away, kept so counters never
    /// go down while this process lives.
    retired: Option<Snapshot>,
    retired_delay: ClassicHistogram,
    reject_log: RejectLog,
    spent: Sender<Batch>,
    config: Config,
    dead_letters: Option<Arc<dyn DeadLetterSink>>,
    checkpoints: Option<Checkpoints>,
}

impl Worker {
    fn handle(&mut self, work: Work) {
        match work {
            Work::Assign(partition, progress, restored) => {
                let (engine, counted_before) = match restored {
                    Some(h) => (*h.engine, h.counted_before),
                    None => (Engine::new(&self.config), None),
                };
                self.shards.insert(
                    partition,
                    Shard {
                        engine,
                        // A restored shard's checkpoint is where it starts.
                        checkpointed_next: progress.applied_next(),
                        checkpointed_at: Instant::now(),
                        checkpoint_pending: Arc::new(AtomicBool::new(false)),
                        progress,
                        delay: ClassicHistogram::new(DELAY_BUCKETS),
                        caught_up: false,
                        counted_before,
                    },
                );
            }
            Work::Apply(batch) => self.apply(batch),
            Work::ReachedEnd(partition) => {
                if let Some(shard) = self.shards.get_mut(&partition) {
                    shard.progress.reached_end.store(true, Ordering::Release);
                    shard.caught_up = true;
                    // What fell due while it was catching up fires now,
                    // not a tick later.
                    shard.engine.advance(wall_ms());
                }
            }
            Work::Revoke(partition) => {
                if let Some(mut shard) = self.shards.remove(&partition) {
                    self.checkpoint(partition, &mut shard, true);
                    let counters = shard.engine.snapshot(wall_ms()).counters_only();
                    merge_into(&mut self.retired, &counters);
                    self.retired_delay.merge(&shard.delay);
                }
            }
            Work::CheckpointAll => {
                let mut shards = std::mem::take(&mut self.shards);
                for (partition, shard) in &mut shards {
                    self.checkpoint(*partition, shard, true);
                }
                self.shards = shards;
            }
            Work::Barrier(done) => {
                let _ = done.send(());
            }
            Work::Picture(now_ms, reply) => {
                // What fell due since the last tick shows now, as replay
                // at this instant shows it.
                self.fire_by_wall_clock(now_ms);
                let mut part = Part {
                    snapshot: self.retired.clone(),
                    delay: self.retired_delay.clone(),
                };
                for shard in self.shards.values() {
                    merge_into(&mut part.snapshot, &shard.engine.snapshot(now_ms));
                    part.delay.merge(&shard.delay);
                }
                let _ = reply.send(part);
            }
        }
    }

    fn apply(&mut self, mut batch: Batch) {
        for item in &batch.items {
            // Revoked since it was fetched: its new owner reads it.
            let Some(shard) = self.shards.get_mut(&item.partition) else {
                continue;
            };
            // Reading again: whether this is the end is known only once
            // the polling thread has seen the fetch's high watermark.
            shard.caught_up = false;
            // Also before: a broker may skip past the commit.
            shard.pass_counted(item.offset);
            let wall = wall_ms();
            let payload = &batch.bytes[item.payload.clone()];
            match shard.engine.apply_in_batch(payload, wall) {
                Ok(Applied::Accepted { ts_ms, .. }) => {
                    let delay = wall.saturating_sub(ts_ms).max(0) as u64;
                    shard.delay.observe(DELAY_BUCKETS, delay);
                }
                Ok(Applied::Duplicate | Applied::Blank) => {}
                Err(reason) => {
                    let topic = &self.config.kafka.topics[item.partition.0];
                    self.reject_log.rejected(reason, &Place(topic, item));
                    if let Some(dead_letters) = &self.dead_letters {
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
            shard.pass_counted(item.offset + 1);
            shard
                .progress
                .applied_next
                .store(item.offset + 1, Ordering::Release);
        }
        // The SLA work of the batch runs per partition, after its events.
        for shard in self.shards.values_mut() {
            shard.engine.end_batch();
        }
        batch.clear();
        let _ = self.spent.send(batch);
    }

    /// SPEC §4.4: a caught-up partition fires its deadlines by the wall
    /// clock. Only SLA timers move: the event-time clock, lateness and
    /// the windows stay as the events left them.
    fn fire_by_wall_clock(&mut self, now: i64) {
        for shard in self.shards.values_mut().filter(|s| s.caught_up) {
            shard.engine.advance(now);
        }
    }
}

impl Worker {
    /// Checkpoints every shard whose interval has passed.
    fn checkpoint_due(&mut self) {
        let Some(interval) = self.checkpoints.as_ref().map(|c| c.interval) else {
            return;
        };
        let mut shards = std::mem::take(&mut self.shards);
        for (partition, shard) in &mut shards {
            if shard.checkpointed_at.elapsed() >= interval {
                self.checkpoint(*partition, shard, false);
            }
        }
        self.shards = shards;
    }

    /// Hands a copy of the shard's state to the writer, if it applied
    /// anything since its last checkpoint. The copy is all the worker
    /// waits for. A periodic one is skipped while the last still waits
    /// for a slow store (`forced` ones, on revoke and at shutdown, are
    /// not): memory holds at most two copies of a partition's state.
    fn checkpoint(&self, partition: PartitionKey, shard: &mut Shard, forced: bool) {
        let Some(checkpoints) = &self.checkpoints else {
            return;
        };
        let Some(next_offset) = shard.progress.applied_next() else {
            return;
        };
        shard.checkpointed_at = Instant::now();
        if shard.checkpointed_next == Some(next_offset)
            || (!forced && shard.checkpoint_pending.load(Ordering::Acquire))
        {
            return;
        }
        let started = Instant::now();
        let state = Box::new(shard.engine.checkpoint_copy());
        let paused = started.elapsed();
        let header = Header {
            group: self.config.kafka.group_id.clone(),
            topic: self.config.kafka.topics[partition.0].clone(),
            partition: partition.1,
            next_offset,
            taken_ms: wall_ms(),
            fingerprint: checkpoints.fingerprint,
            state_bytes: 0,
        };
        let pending = shard.checkpoint_pending.clone();
        checkpoints.save(
            Job {
                header,
                state,
                pending,
            },
            paused,
        );
        shard.checkpointed_next = Some(next_offset);
    }
}

fn merge_into(merged: &mut Option<Snapshot>, snapshot: &Snapshot) {
    match merged {
        Some(merged) => merged.merge(snapshot),
        None => *merged = Some(snapshot.clone()),
    }
}
