//! Live input: a member of a Kafka consumer group with one engine shard per
//! assigned partition, so that each partition keeps its own clock (SPEC §3).
//!
//! One thread polls the consumer and owns every shard: the hot path takes
//! no lock. The HTTP side asks that thread for a picture over a channel,
//! and it answers between messages.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use rdkafka::client::Client;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, TopicPartitionList};
use tokio::sync::oneshot;

use super::{wall_ms, ConsumerStats, PartitionStats, RejectLog, DELAY_BUCKETS};
use crate::config::{Config, KafkaConfig};
use crate::decode::Reject;
use crate::engine::cumulative::ClassicHistogram;
use crate::engine::snapshot::Snapshot;
use crate::engine::{Applied, Engine};

/// How long one poll waits for a message; also how late a request from
/// the HTTP side may be answered while the topic is idle.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long shutdown waits for dead letters still in flight.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The merged state of every shard at one wall-clock instant.
pub struct Picture {
    pub snapshot: Snapshot,
    pub consumer: ConsumerStats,
}

/// What the HTTP side asks the consumer thread for.
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

/// State of one assigned partition.
struct Shard {
    engine: Engine,
    /// Offset of the next message to read, once one has been read.
    next_offset: Option<i64>,
    /// The partition has been read to its end at least once.
    reached_end: bool,
    delay: ClassicHistogram,
}

enum Change {
    Assigned(Vec<(String, i32)>),
    Revoked(Vec<(String, i32)>),
}

/// Callbacks librdkafka makes from inside `poll`: rebalances are queued
/// for the polling thread; log lines go to tracing.
struct LiveContext {
    changes: Mutex<Vec<Change>>,
    errors: AtomicU64,
    /// Until the startup checks pass, client log lines are debug only, so
    /// that a startup failure reads as the one line that explains it.
    started: AtomicBool,
    dead_letters: Option<DeadLetters>,
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
            // Every message handed out has been applied before the next
            // poll, so the stored offsets are final: commit them before the
            // partitions move, so that the next owner starts where we stop.
            self.finish(consumer);
            self.queue(Change::Revoked(partitions_of(list)));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            self.queue(Change::Assigned(partitions_of(list)));
        }
    }
}

impl LiveContext {
    fn queue(&self, change: Change) {
        match self.changes.lock() {
            Ok(mut changes) => changes.push(change),
            Err(poisoned) => poisoned.into_inner().push(change),
        }
    }

    fn take_changes(&self) -> Vec<Change> {
        match self.changes.lock() {
            Ok(mut changes) => std::mem::take(&mut *changes),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
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
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => tracing::warn!(error = %e, "committing offsets failed"),
        }
    }
}

fn partitions_of(list: &TopicPartitionList) -> Vec<(String, i32)> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

/// The optional dead-letter topic: a copy of each rejected message, with
/// the reason and where it came from in headers.
struct DeadLetters {
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
    fn send(&self, message: &BorrowedMessage<'_>, reason: Reject) {
        let (partition, offset) = (
            message.partition().to_string(),
            message.offset().to_string(),
        );
        let values = [reason.as_str(), message.topic(), &partition, &offset];
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
            .payload(message.payload().unwrap_or_default())
            .headers(headers);
        if let Some(key) = message.key() {
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

/// Where a rejected message came from, for the log.
struct Place<'a>(&'a BorrowedMessage<'a>);

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.0;
        write!(f, "{}/{}@{}", m.topic(), m.partition(), m.offset())
    }
}

pub struct LiveConsumer {
    consumer: BaseConsumer<LiveContext>,
    shards: Shards,
}

/// Everything the polling thread owns beside the consumer.
struct Shards {
    config: Config,
    by_topic: HashMap<String, HashMap<i32, Shard>>,
    /// An engine that never sees an event: the picture of no partitions.
    idle: Engine,
    /// The group has assigned partitions (perhaps none) at least once.
    joined: bool,
    reject_log: RejectLog,
}

impl LiveConsumer {
    /// Creates the clients and checks that the brokers answer and the
    /// topics exist; each failure is one line saying what to fix.
    pub fn connect(config: &Config) -> anyhow::Result<LiveConsumer> {
        let kafka = &config.kafka;
        let dead_letters = match &kafka.dead_letter_topic {
            Some(topic) => Some(DeadLetters {
                producer: client_config(kafka)
                    .create_with_context(DeliveryCounts::default())
                    .map_err(|e| client_error("dead-letter producer", e))?,
                topic: topic.clone(),
            }),
            None => None,
        };
        let context = LiveContext {
            changes: Mutex::new(Vec::new()),
            errors: AtomicU64::new(0),
            started: AtomicBool::new(false),
            dead_letters,
        };
        let mut client = ClientConfig::new();
        // Defaults an operator may change through kafka.properties.
        client
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("enable.auto.commit", "true");
        for (key, value) in client_config(kafka).config_map() {
            client.set(key, value);
        }
        // What the design relies on: offsets stored by hand after an
        // event is applied, and word of reaching a partition's end.
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
        let topics: Vec<&str> = kafka.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .with_context(|| format!("cannot subscribe to {topics:?}"))?;
        Ok(LiveConsumer {
            consumer,
            shards: Shards {
                config: config.clone(),
                by_topic: HashMap::new(),
                idle: Engine::new(config),
                joined: false,
                reject_log: RejectLog::new(10),
            },
        })
    }

    /// Consumes until `stop` is set, answering `requests` between
    /// messages; then commits what was applied and leaves the group.
    pub fn run(self, requests: Receiver<Request>, stop: &AtomicBool) {
        let LiveConsumer {
            consumer,
            mut shards,
        } = self;
        while !stop.load(Ordering::Relaxed) {
            let polled = consumer.poll(POLL_INTERVAL);
            shards.apply_changes(&consumer);
            match polled {
                None => {}
                Some(Ok(message)) => shards.apply(&consumer, &message),
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    shards.reached_end(&consumer, partition)
                }
                Some(Err(error)) => {
                    consumer.context().errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "kafka consumer error");
                }
            }
            if let Some(dead_letters) = &consumer.context().dead_letters {
                dead_letters.producer.poll(Duration::ZERO);
            }
            while let Ok(request) = requests.try_recv() {
                shards.answer(&consumer, request);
            }
        }
        tracing::info!("stopping: committing applied offsets and leaving the group");
        consumer.context().finish(&consumer);
    }
}

impl Shards {
    fn apply(&mut self, consumer: &BaseConsumer<LiveContext>, message: &BorrowedMessage<'_>) {
        let Some(shard) = self
            .by_topic
            .get_mut(message.topic())
            .and_then(|partitions| partitions.get_mut(&message.partition()))
        else {
            // Revoked since it was fetched: its new owner reads it.
            return;
        };
        let wall = wall_ms();
        match shard
            .engine
            .apply(message.payload().unwrap_or_default(), wall)
        {
            Ok(Applied::Accepted { ts_ms, .. }) => {
                let delay = wall.saturating_sub(ts_ms).max(0) as u64;
                shard.delay.observe(DELAY_BUCKETS, delay);
            }
            Ok(Applied::Duplicate | Applied::Blank) => {}
            Err(reason) => {
                self.reject_log.rejected(reason, &Place(message));
                if let Some(dead_letters) = &consumer.context().dead_letters {
                    dead_letters.send(message, reason);
                }
            }
        }
        shard.next_offset = Some(message.offset() + 1);
        if let Err(error) = consumer.store_offset_from_message(message) {
            tracing::debug!(%error, place = %Place(message), "offset not stored");
        }
    }

    /// librdkafka names only the partition number at a partition's end,
    /// so with several topics each shard of that number whose lag is not
    /// known to be positive counts as at its end.
    fn reached_end(&mut self, consumer: &BaseConsumer<LiveContext>, partition: i32) {
        for (topic, partitions) in &mut self.by_topic {
            if let Some(shard) = partitions.get_mut(&partition) {
                let high = cached_high_watermark(consumer, topic, partition);
                if lag(high, shard).is_none_or(|lag| lag <= 0) {
                    shard.reached_end = true;
                }
            }
        }
    }

    fn apply_changes(&mut self, consumer: &BaseConsumer<LiveContext>) {
        for change in consumer.context().take_changes() {
            match change {
                Change::Assigned(list) => {
                    self.joined = true;
                    for (topic, partition) in list {
                        tracing::info!(topic, partition, "partition assigned");
                        self.by_topic.entry(topic).or_default().insert(
                            partition,
                            Shard {
                                engine: Engine::new(&self.config),
                                next_offset: None,
                                reached_end: false,
                                delay: ClassicHistogram::new(DELAY_BUCKETS),
                            },
                        );
                    }
                }
                Change::Revoked(list) => {
                    // State leaves with the partition; its next owner
                    // starts from the committed offset.
                    for (topic, partition) in list {
                        tracing::info!(topic, partition, "partition revoked");
                        if let Some(partitions) = self.by_topic.get_mut(&topic) {
                            partitions.remove(&partition);
                        }
                    }
                }
            }
        }
    }

    fn all(&self) -> impl Iterator<Item = (&String, i32, &Shard)> {
        self.by_topic.iter().flat_map(|(topic, partitions)| {
            partitions.iter().map(move |(&p, shard)| (topic, p, shard))
        })
    }

    fn ready(&self) -> bool {
        self.joined && self.all().all(|(_, _, shard)| shard.reached_end)
    }

    fn answer(&self, consumer: &BaseConsumer<LiveContext>, request: Request) {
        // A requester that gave up has dropped its receiver: nothing to do.
        match request {
            Request::Ready(reply) => {
                let _ = reply.send(self.ready());
            }
            Request::Picture(reply) => {
                let _ = reply.send(Arc::new(self.picture(consumer)));
            }
        }
    }

    fn picture(&self, consumer: &BaseConsumer<LiveContext>) -> Picture {
        let now = wall_ms();
        let mut snapshot = self.idle.snapshot(now);
        let mut delay = ClassicHistogram::new(DELAY_BUCKETS);
        let mut partitions = Vec::new();
        for (topic, partition, shard) in self.all() {
            snapshot.merge(&shard.engine.snapshot(now));
            delay.merge(&shard.delay);
            let high = cached_high_watermark(consumer, topic, partition);
            partitions.push(PartitionStats {
                topic: topic.clone(),
                partition,
                lag: lag(high, shard),
            });
        }
        partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        let context = consumer.context();
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
                ready: self.ready(),
                delay: Some(delay),
                dead_letters_sent: sent,
                dead_letters_failed: failed,
                consumer_errors: context.errors.load(Ordering::Relaxed),
            },
        }
    }
}

/// Messages behind the high watermark; 0 at a partition's end before any
/// message was read there, unknown before either is known.
fn lag(high_watermark: Option<i64>, shard: &Shard) -> Option<i64> {
    match (high_watermark, shard.next_offset) {
        (Some(high), Some(next)) => Some((high - next).max(0)),
        (_, None) if shard.reached_end => Some(0),
        _ => None,
    }
}

/// The high watermark that came with the last fetch of the partition, as
/// librdkafka caches it: no request to the broker.
fn cached_high_watermark(
    consumer: &BaseConsumer<LiveContext>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    let topic = CString::new(topic).ok()?;
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
