//! The polling thread's side of the workers: which worker owns each
//! assigned partition, the batches it fills for them, when a partition is
//! caught up, and the answers to the HTTP side's requests.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::Producer;

use super::context::{locked, Change, LiveContext, Route};
use super::lag::{cached_high_watermark, lag};
use crate::engine::cumulative::ClassicHistogram;
use crate::engine::Engine;
use crate::source::worker::{Batch, PartitionKey, Work};
use crate::source::{
    wall_ms, ConsumerStats, HttpStats, PartitionStats, Picture, Readiness, Request, DELAY_BUCKETS,
};

/// Messages per batch handed to a worker.
pub(super) const BATCH: usize = 256;

/// The polling thread's view of the assigned partitions, and the batches
/// it is filling for the workers.
pub(super) struct Router {
    pub(super) routes: HashMap<PartitionKey, LocalRoute>,
    pub(super) batches: Vec<Batch>,
    /// Batches the workers are done with, emptied for reuse.
    pub(super) spent_batches: Receiver<Batch>,
    /// An engine that never sees an event: the picture of no partitions.
    pub(super) idle: Engine,
}

pub(super) struct LocalRoute {
    route: Route,
    /// Offset after the last message handed to the worker.
    routed_next: Option<i64>,
    /// Messages were handed over since the worker last heard that the
    /// partition is at its end.
    unsettled: bool,
}

impl Router {
    pub(super) fn route(&mut self, context: &LiveContext, message: &BorrowedMessage<'_>) {
        let Some(topic) = context.topic_index(message.topic()) else {
            return;
        };
        let key = (topic, message.partition());
        // Revoked since it was fetched: its new owner reads it.
        let Some(local) = self.routes.get_mut(&key) else {
            return;
        };
        local.routed_next = Some(message.offset() + 1);
        local.unsettled = true;
        let worker = local.route.worker;
        let batch = &mut self.batches[worker];
        batch.push(
            key,
            message.offset(),
            message.key(),
            message.payload().unwrap_or_default(),
        );
        if batch.len() >= BATCH {
            self.send(context, worker);
        }
    }

    fn send(&mut self, context: &LiveContext, worker: usize) {
        if self.batches[worker].is_empty() {
            return;
        }
        let next = self
            .spent_batches
            .try_recv()
            .unwrap_or_else(|_| Batch::with_capacity(BATCH));
        let batch = std::mem::replace(&mut self.batches[worker], next);
        if context.workers[worker].send(Work::Apply(batch)).is_err() {
            tracing::error!(worker, "a worker thread has stopped");
        }
    }

    pub(super) fn flush(&mut self, context: &LiveContext) {
        for worker in 0..self.batches.len() {
            self.send(context, worker);
        }
    }

    pub(super) fn apply_changes(&mut self, context: &LiveContext) {
        let changes = std::mem::take(&mut *locked(&context.changes));
        for change in changes {
            match change {
                Change::Assigned(list) => {
                    for (key, route) in list {
                        self.routes.insert(
                            key,
                            LocalRoute {
                                route,
                                routed_next: None,
                                unsettled: false,
                            },
                        );
                    }
                }
                Change::Revoked(keys) => {
                    // Messages of these partitions not yet handed over are
                    // dropped: the next owner reads them from the commit.
                    for key in &keys {
                        self.routes.remove(key);
                    }
                    for batch in &mut self.batches {
                        if batch.holds_any(&keys) {
                            batch.retain_other_than(&keys);
                        }
                    }
                }
            }
        }
    }

    /// At a partition's end (librdkafka: a fetch found its position at
    /// the high watermark). librdkafka names only the partition number, so
    /// when several topics have a partition of that number, each counts as
    /// at its end only if it has handed over everything below the high
    /// watermark of its last fetch, or has handed over nothing yet (then
    /// its shard holds no clock that could fire).
    pub(super) fn reached_end(&mut self, consumer: &BaseConsumer<LiveContext>, partition: i32) {
        let context = consumer.context();
        let sharing = self.routes.keys().filter(|(_, p)| *p == partition).count();
        let at_end: Vec<PartitionKey> = self
            .routes
            .iter()
            .filter(|(key, local)| {
                key.1 == partition
                    && (sharing == 1
                        || local.routed_next.is_none()
                        || drained(consumer, **key, local))
            })
            .map(|(key, _)| *key)
            .collect();
        for key in at_end {
            self.caught_up(context, key);
        }
    }

    /// Hands over what is waiting, then tells the workers of partitions
    /// with nothing left below the high watermark of their last fetch
    /// that they are caught up: on a busy partition every fetch returns
    /// messages and no end is ever reported, yet it is at its end after
    /// each. The watermark is the one each fetch brings (as librdkafka
    /// caches it), never one asked of the broker: Tansu's ListOffsets can
    /// under-report the end, and a false "caught up" would breach clocks
    /// whose replies still wait in the backlog. A watermark from a newer
    /// fetch than the messages handed over only delays this.
    pub(super) fn settle(&mut self, consumer: &BaseConsumer<LiveContext>) {
        let context = consumer.context();
        self.flush(context);
        for (key, local) in &mut self.routes {
            if local.unsettled && drained(consumer, *key, local) {
                local.unsettled = false;
                let _ = context.workers[local.route.worker].send(Work::ReachedEnd(*key));
            }
        }
    }

    /// After the messages before it, so that it means applied.
    fn caught_up(&mut self, context: &LiveContext, key: PartitionKey) {
        let Some(local) = self.routes.get_mut(&key) else {
            return;
        };
        local.unsettled = false;
        let worker = local.route.worker;
        self.send(context, worker);
        let _ = context.workers[worker].send(Work::ReachedEnd(key));
    }

    /// Ready once the group has assigned partitions (and not taken them
    /// away as lost since) and each has been read to its end once, and
    /// while the brokers answer: an instance cut off from its brokers
    /// shows numbers that stand still, which should not pass for live.
    fn readiness(&self, context: &LiveContext) -> Readiness {
        let caught_up = context.joined.load(Ordering::Acquire)
            && !context.lost.load(Ordering::Acquire)
            && self
                .routes
                .values()
                .all(|local| local.route.progress.reached_end.load(Ordering::Acquire));
        if !context.brokers.up() {
            Readiness::BrokersNotAnswering
        } else if !caught_up {
            Readiness::CatchingUp
        } else {
            Readiness::Ready
        }
    }

    pub(super) fn answer(&mut self, consumer: &BaseConsumer<LiveContext>, request: Request) {
        let context = consumer.context();
        // A requester that gave up has dropped its receiver: nothing to do.
        match request {
            Request::Ready(reply) => {
                let _ = reply.send(self.readiness(context));
            }
            Request::Picture(reply) => {
                let picture = self.picture(consumer);
                let _ = reply.send(Arc::new(picture));
            }
        }
    }

    /// Every worker snapshots its shards at the same instant, in parallel;
    /// the parts are merged here.
    fn picture(&mut self, consumer: &BaseConsumer<LiveContext>) -> Picture {
        let context = consumer.context();
        self.flush(context);
        let now = wall_ms();
        let (reply, parts) = mpsc::channel();
        for worker in &context.workers {
            let _ = worker.send(Work::Picture(now, reply.clone()));
        }
        drop(reply);
        let mut snapshot = self.idle.snapshot(now);
        let mut delay = ClassicHistogram::new(DELAY_BUCKETS);
        for part in parts {
            if let Some(part_snapshot) = &part.snapshot {
                snapshot.merge(part_snapshot);
            }
            delay.merge(&part.delay);
        }
        let checkpoints = context.checkpoints.as_ref().map(|c| c.stats().clone());
        let mut partitions: Vec<PartitionStats> = self
            .routes
            .iter()
            .map(|((topic, partition), local)| {
                let high = cached_high_watermark(consumer, &context.c_topics[*topic], *partition);
                let topic = context.topics[*topic].clone();
                let checkpoint = checkpoints
                    .as_ref()
                    .and_then(|c| c.saved.get(&(topic.clone(), *partition)))
                    .map(|&(taken_ms, bytes)| {
                        (now.saturating_sub(taken_ms).max(0) as f64 / 1000.0, bytes)
                    });
                PartitionStats {
                    topic,
                    partition: *partition,
                    lag: lag(high, &local.route.progress),
                    checkpoint,
                }
            })
            .collect();
        partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        let (sent, failed) = context.dead_letters.as_ref().map_or((0, 0), |d| {
            let counts = d.producer.context();
            (
                counts.sent.load(Ordering::Relaxed),
                counts.failed.load(Ordering::Relaxed),
            )
        });
        Picture {
            snapshot,
            consumer: ConsumerStats {
                partitions,
                ready: self.readiness(context) == Readiness::Ready,
                brokers_up: context.brokers.up(),
                broker_outages: context.brokers.outages(),
                delay: Some(delay),
                dead_letters_sent: sent,
                dead_letters_failed: failed,
                consumer_errors: context.errors.load(Ordering::Relaxed),
                checkpoints,
                http: HttpStats::default(),
            },
        }
    }
}

/// Everything below the high watermark of the partition's last fetch has
/// been handed over.
fn drained(consumer: &BaseConsumer<LiveContext>, key: PartitionKey, local: &LocalRoute) -> bool {
    let topic = &consumer.context().c_topics[key.0];
    match (
        local.routed_next,
        cached_high_watermark(consumer, topic, key.1),
    ) {
        (Some(next), Some(high)) => next >= high,
        _ => false,
    }
}
