//! Live input: a member of a Kafka consumer group with one engine shard per
//! assigned partition, so that each partition keeps its own clock (SPEC §3).
//!
//! One thread polls the consumer: it serves rebalances, copies messages
//! into batches for the worker threads that own the shards
//! (`worker.rs`), tells them when a partition is caught up, stores the
//! offsets they have applied, and answers the HTTP side's requests
//! between messages.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use rdkafka::client::Client;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use tokio::sync::oneshot;

use super::worker::{self, Batch, PartitionKey, Progress, Work};
use super::{wall_ms, ConsumerStats, PartitionStats, DELAY_BUCKETS};
use crate::config::{Config, KafkaConfig};
use crate::decode::Reject;
use crate::engine::cumulative::ClassicHistogram;
use crate::engine::snapshot::Snapshot;
use crate::engine::Engine;

/// How long one poll waits for a message when there is nothing to hand
/// over; also how late a request from the HTTP side may be answered
/// while the topics are idle.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Messages per batch handed to a worker.
const BATCH: usize = 256;
/// Polls between two stores of applied offsets while busy.
const STORE_EVERY: u32 = 1024;
/// How long shutdown waits for dead letters still in flight.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The merged state of every shard at one wall-clock instant.
pub struct Picture {
    pub snapshot: Snapshot,
    pub consumer: ConsumerStats,
}

/// What the HTTP side asks the polling thread for.
pub enum Request {
    /// All shards merged at the wall clock, with the consumer's own stats.
    Picture(oneshot::Sender<Arc<Picture>>),
    /// Readiness alone: cheap, for `/healthz` and `/readyz`.
    Ready(oneshot::Sender<bool>),
}

/// The ClientConfig every client of ours starts from: brokers, then the
/// operator's pass-through properties (security, SASL, SSL, tuning).
pub fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.brokers);
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config
}

/// Which worker owns an assigned partition, and how far it has got.
#[derive(Clone)]
struct Route {
    worker: usize,
    progress: Arc<Progress>,
}

enum Change {
    Assigned(Vec<(PartitionKey, Route)>),
    Revoked(Vec<PartitionKey>),
}

/// Callbacks librdkafka makes from inside `poll`, on the polling thread:
/// rebalances, which must hand partitions over before they move, and log
/// lines, which go to tracing. The mutexes are never contended: only the
/// polling thread takes them, and not per message.
struct LiveContext {
    topics: Vec<String>,
    /// The same, for librdkafka's C calls.
    c_topics: Vec<CString>,
    workers: Vec<Sender<Work>>,
    routes: Mutex<HashMap<PartitionKey, Route>>,
    changes: Mutex<Vec<Change>>,
    /// The group has assigned partitions (perhaps none) at least once.
    joined: AtomicBool,
    errors: AtomicU64,
    /// Until the startup checks pass, client log lines are debug only, so
    /// that a startup failure reads as the one line that explains it.
    started: AtomicBool,
    dead_letters: Option<Arc<DeadLetters>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ClientContext for LiveContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if !self.started.load(Ordering::Relaxed) {
            tracing::debug!(facility, "kafka: {message}");
            return;
        }
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(facility, "kafka: {message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(facility, "kafka: {message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(facility, "kafka: {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(facility, "kafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Reaching a partition's end is news, not an error; `poll` hands
        // it over too.
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            return;
        }
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self.started.load(Ordering::Relaxed) {
            tracing::warn!(%error, "kafka: {reason}");
        } else {
            tracing::debug!(%error, "kafka: {reason}");
        }
    }
}

impl ConsumerContext for LiveContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            // Finish the partitions before they move: their workers apply
            // what they were handed and drop the shards, then the offsets
            // are committed, so the next owner starts where we stop.
            let keys = self.keys_of(list);
            for key in &keys {
                if let Some(route) = locked(&self.routes).get(key) {
                    tracing::info!(
                        topic = self.topics[key.0],
                        partition = key.1,
                        "partition revoked"
                    );
                    let _ = self.workers[route.worker].send(Work::Revoke(*key));
                }
            }
            self.barrier();
            self.finish(consumer);
            let mut routes = locked(&self.routes);
            for key in &keys {
                routes.remove(key);
            }
            drop(routes);
            locked(&self.changes).push(Change::Revoked(keys));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let mut routes = locked(&self.routes);
            let mut assigned = Vec::new();
            for key in self.keys_of(list) {
                // The worker with the fewest partitions takes the next one.
                let mut load = vec![0usize; self.workers.len()];
                routes.values().for_each(|r| load[r.worker] += 1);
                let worker = (0..load.len()).min_by_key(|&w| load[w]).unwrap_or(0);
                let route = Route {
                    worker,
                    progress: Progress::new(),
                };
                tracing::info!(
                    topic = self.topics[key.0],
                    partition = key.1,
                    worker,
                    "partition assigned"
                );
                let _ = self.workers[worker].send(Work::Assign(key, route.progress.clone()));
                routes.insert(key, route.clone());
                assigned.push((key, route));
            }
            drop(routes);
            locked(&self.changes).push(Change::Assigned(assigned));
            self.joined.store(true, Ordering::Release);
        }
    }
}

impl LiveContext {
    fn keys_of(&self, list: &TopicPartitionList) -> Vec<PartitionKey> {
        list.elements()
            .iter()
            .filter_map(|e| Some((self.topic_index(e.topic())?, e.partition())))
            .collect()
    }

    fn topic_index(&self, topic: &str) -> Option<usize> {
        self.topics.iter().position(|t| t == topic)
    }

    /// Stores the offsets the workers have applied, for the next commit.
    fn store_applied(&self, consumer: &BaseConsumer<Self>) {
        let mut list = TopicPartitionList::new();
        for (key, route) in locked(&self.routes).iter() {
            if let Some(next) = route.progress.applied_next() {
                let _ = list.add_partition_offset(&self.topics[key.0], key.1, Offset::Offset(next));
            }
        }
        if list.count() > 0 {
            if let Err(error) = consumer.store_offsets(&list) {
                tracing::debug!(%error, "offsets not stored");
            }
        }
    }

    /// Dead letters first, then offsets: a committed offset never points
    /// past a rejected message whose copy could still be lost.
    fn finish(&self, consumer: &BaseConsumer<Self>) {
        if let Some(dead_letters) = &self.dead_letters {
            if let Err(e) = dead_letters.producer.flush(FLUSH_TIMEOUT) {
                tracing::warn!(error = %e, "dead letters still unsent at commit");
            }
        }
        self.store_applied(consumer);
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => tracing::warn!(error = %e, "committing offsets failed"),
        }
    }

    /// Waits until every worker has applied what it was handed.
    fn barrier(&self) {
        let (done, finished) = mpsc::channel();
        for worker in &self.workers {
            let _ = worker.send(Work::Barrier(done.clone()));
        }
        drop(done);
        finished.iter().for_each(drop);
    }
}

/// The optional dead-letter topic: a copy of each rejected message, with
/// the reason and where it came from in headers.
pub struct DeadLetters {
    producer: BaseProducer<DeliveryCounts>,
    topic: String,
}

#[derive(Default)]
struct DeliveryCounts {
    sent: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for DeliveryCounts {}

impl ProducerContext for DeliveryCounts {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.sent.fetch_add(1, Ordering::Relaxed),
            Err((error, _)) => {
                tracing::warn!(%error, "a dead letter was not delivered");
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// Header names on dead letters.
pub const DEAD_LETTER_HEADERS: [&str; 4] = [
    "deskpulse-reason",
    "deskpulse-topic",
    "deskpulse-partition",
    "deskpulse-offset",
];

impl DeadLetters {
    pub fn send(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
        reason: Reject,
    ) {
        let (partition, offset) = (partition.to_string(), offset.to_string());
        let values = [reason.as_str(), topic, &partition, &offset];
        let headers = DEAD_LETTER_HEADERS.iter().zip(values).fold(
            OwnedHeaders::new_with_capacity(DEAD_LETTER_HEADERS.len()),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value),
                })
            },
        );
        let mut record: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::to(&self.topic)
            .payload(payload)
            .headers(headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Err(error) = send_waiting(&self.producer, record) {
            tracing::warn!(%error, "a dead letter could not be queued");
            self.producer
                .context()
                .failed
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Queues `record`; while the producer's local queue is full, waits for
/// deliveries rather than drop it, which slows the caller only meanwhile.
pub fn send_waiting<C: ProducerContext>(
    producer: &BaseProducer<C>,
    mut record: BaseRecord<'_, [u8], [u8], C::DeliveryOpaque>,
) -> Result<(), KafkaError> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(10));
            }
            Err((error, _)) => return Err(error),
        }
    }
}

pub struct LiveConsumer {
    consumer: BaseConsumer<LiveContext>,
    router: Router,
    workers: Vec<JoinHandle<()>>,
}

/// The polling thread's view of the assigned partitions, and the batches
/// it is filling for the workers.
struct Router {
    routes: HashMap<PartitionKey, LocalRoute>,
    batches: Vec<Batch>,
    /// Batches the workers are done with, emptied for reuse.
    spent_batches: Receiver<Batch>,
    /// An engine that never sees an event: the picture of no partitions.
    idle: Engine,
}

struct LocalRoute {
    route: Route,
    /// Offset after the last message handed to the worker.
    routed_next: Option<i64>,
    /// Messages were handed over since the worker last heard that the
    /// partition is at its end.
    unsettled: bool,
}

impl LiveConsumer {
    /// Starts the workers, creates the clients, and checks that the
    /// brokers answer and the topics exist; each failure is one line
    /// saying what to fix.
    pub fn connect(config: &Config) -> anyhow::Result<LiveConsumer> {
        let kafka = &config.kafka;
        let dead_letters = match &kafka.dead_letter_topic {
            Some(topic) => Some(Arc::new(DeadLetters {
                producer: client_config(kafka)
                    .create_with_context(DeliveryCounts::default())
                    .map_err(|e| client_error("dead-letter producer", e))?,
                topic: topic.clone(),
            })),
            None => None,
        };
        let count = match kafka.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut inboxes = Vec::with_capacity(count);
        let mut workers = Vec::with_capacity(count);
        let (spent, spent_batches) = mpsc::channel();
        for index in 0..count {
            let (inbox, work) = mpsc::channel();
            let (config, dead_letters, spent) =
                (config.clone(), dead_letters.clone(), spent.clone());
            workers.push(
                std::thread::Builder::new()
                    .name(format!("worker-{index}"))
                    .spawn(move || worker::work(work, spent, config, dead_letters))
                    .context("cannot start a worker thread")?,
            );
            inboxes.push(inbox);
        }
        let context = LiveContext {
            topics: kafka.topics.clone(),
            // A name with a NUL byte cannot exist on a broker: the empty
            // name finds no partition, so nothing is known of it.
            c_topics: kafka
                .topics
                .iter()
                .map(|t| CString::new(t.as_str()).unwrap_or_default())
                .collect(),
            workers: inboxes,
            routes: Mutex::new(HashMap::new()),
            changes: Mutex::new(Vec::new()),
            joined: AtomicBool::new(false),
            errors: AtomicU64::new(0),
            started: AtomicBool::new(false),
            dead_letters,
        };
        let mut client = ClientConfig::new();
        // Defaults an operator may change through kafka.properties.
        client
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("enable.auto.commit", "true")
            // librdkafka pauses a partition's fetching this long once its
            // local queue holds queued.min.messages; at its default (1 s) a
            // consumer slower than the broker idles most of the time.
            .set("fetch.queue.backoff.ms", "10");
        for (key, value) in client_config(kafka).config_map() {
            client.set(key, value);
        }
        // What the design relies on: offsets stored by hand once applied,
        // and word of reaching a partition's end.
        client
            .set("group.id", &kafka.group_id)
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true");
        let consumer: BaseConsumer<LiveContext> = client
            .create_with_context(context)
            .map_err(|e| client_error("consumer", e))?;
        let topics: Vec<(&str, &str)> = kafka
            .topics
            .iter()
            .map(|t| (t.as_str(), "kafka.topics"))
            .chain(
                kafka
                    .dead_letter_topic
                    .iter()
                    .map(|t| (t.as_str(), "kafka.dead_letter_topic")),
            )
            .collect();
        check_topics(consumer.client(), kafka, &topics)?;
        consumer.context().started.store(true, Ordering::Relaxed);
        let names: Vec<&str> = kafka.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .with_context(|| format!("cannot subscribe to {names:?}"))?;
        Ok(LiveConsumer {
            consumer,
            router: Router {
                routes: HashMap::new(),
                batches: (0..count).map(|_| Batch::with_capacity(BATCH)).collect(),
                spent_batches,
                idle: Engine::new(config),
            },
            workers,
        })
    }

    /// Consumes until `stop` is set, answering `requests` between
    /// messages; then commits what was applied and leaves the group.
    pub fn run(self, requests: Receiver<Request>, stop: &AtomicBool) {
        let LiveConsumer {
            consumer,
            mut router,
            workers,
        } = self;
        let context = consumer.context();
        let mut polls_since_store = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let busy = router.batches.iter().any(|b| !b.is_empty());
            let polled = consumer.poll(if busy { Duration::ZERO } else { POLL_INTERVAL });
            router.apply_changes(context);
            polls_since_store += 1;
            match polled {
                None => {
                    // Idle: hand over what is waiting, say which partitions
                    // that brings to their end, and store progress.
                    router.settle(&consumer);
                    context.store_applied(&consumer);
                    polls_since_store = 0;
                }
                Some(Ok(message)) => router.route(context, &message),
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    router.reached_end(&consumer, partition)
                }
                Some(Err(error)) => {
                    context.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "kafka consumer error");
                }
            }
            if polls_since_store >= STORE_EVERY {
                context.store_applied(&consumer);
                polls_since_store = 0;
            }
            if let Some(dead_letters) = &context.dead_letters {
                dead_letters.producer.poll(Duration::ZERO);
            }
            while let Ok(request) = requests.try_recv() {
                router.answer(&consumer, request);
            }
        }
        tracing::info!("stopping: committing applied offsets and leaving the group");
        router.flush(context);
        context.barrier();
        context.finish(&consumer);
        // Closing leaves the group; the workers end when their inboxes,
        // held by the consumer's context, are dropped with it.
        drop(consumer);
        for worker in workers {
            if worker.join().is_err() {
                tracing::error!("a worker thread failed");
            }
        }
    }
}

impl Router {
    fn route(&mut self, context: &LiveContext, message: &BorrowedMessage<'_>) {
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

    fn flush(&mut self, context: &LiveContext) {
        for worker in 0..self.batches.len() {
            self.send(context, worker);
        }
    }

    fn apply_changes(&mut self, context: &LiveContext) {
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
    fn reached_end(&mut self, consumer: &BaseConsumer<LiveContext>, partition: i32) {
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
    fn settle(&mut self, consumer: &BaseConsumer<LiveContext>) {
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

    fn ready(&self, context: &LiveContext) -> bool {
        context.joined.load(Ordering::Acquire)
            && self
                .routes
                .values()
                .all(|local| local.route.progress.reached_end.load(Ordering::Acquire))
    }

    fn answer(&mut self, consumer: &BaseConsumer<LiveContext>, request: Request) {
        let context = consumer.context();
        // A requester that gave up has dropped its receiver: nothing to do.
        match request {
            Request::Ready(reply) => {
                let _ = reply.send(self.ready(context));
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
        let mut partitions: Vec<PartitionStats> = self
            .routes
            .iter()
            .map(|((topic, partition), local)| {
                let high = cached_high_watermark(consumer, &context.c_topics[*topic], *partition);
                PartitionStats {
                    topic: context.topics[*topic].clone(),
                    partition: *partition,
                    lag: lag(high, &local.route.progress),
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
                ready: self.ready(context),
                delay: Some(delay),
                dead_letters_sent: sent,
                dead_letters_failed: failed,
                consumer_errors: context.errors.load(Ordering::Relaxed),
            },
        }
    }
}

/// Messages behind the high watermark; 0 at a partition's end before any
/// message was applied there, unknown before either is known.
fn lag(high_watermark: Option<i64>, progress: &Progress) -> Option<i64> {
    match (high_watermark, progress.applied_next()) {
        (Some(high), Some(next)) => Some((high - next).max(0)),
        (_, None) if progress.reached_end.load(Ordering::Acquire) => Some(0),
        _ => None,
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

/// The high watermark that came with the last fetch of the partition, as
/// librdkafka caches it: no request to the broker.
fn cached_high_watermark(
    consumer: &BaseConsumer<LiveContext>,
    topic: &CStr,
    partition: i32,
) -> Option<i64> {
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client handle is valid while `consumer` lives; the call
    // reads librdkafka's own cache and writes only the two out-parameters.
    let error = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (error == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some(high)
}

fn client_error(what: &str, error: KafkaError) -> anyhow::Error {
    anyhow!("cannot create the Kafka {what}: {error}; check kafka.properties against librdkafka's configuration properties")
}

/// Startup check: the brokers answer within `startup_timeout`, and every
/// topic exists; `topics` pairs each with the setting that names it.
pub fn check_topics<C: ClientContext>(
    client: &Client<C>,
    kafka: &KafkaConfig,
    topics: &[(&str, &str)],
) -> anyhow::Result<()> {
    let timeout = kafka.startup_timeout;
    let metadata = client.fetch_metadata(None, timeout).map_err(|e| {
        anyhow!(
            "cannot reach the Kafka brokers at {} within {}: {e}; check kafka.brokers (or --brokers) and that the brokers are up",
            kafka.brokers,
            humantime::format_duration(timeout)
        )
    })?;
    for (topic, setting) in topics {
        let found = metadata
            .topics()
            .iter()
            .any(|t| t.name() == *topic && t.error().is_none() && !t.partitions().is_empty());
        if !found {
            bail!(
                "topic {topic:?} does not exist on the brokers at {}; create it, or fix {setting}",
                kafka.brokers
            );
        }
    }
    Ok(())
}
