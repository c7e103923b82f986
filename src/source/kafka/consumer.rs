//! The polling loop: starting the workers and the clients, polling the
//! consumer, storing applied offsets as it goes, and committing them and
//! leaving the group at the end.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;

use super::brokers::{BrokerWatch, STATISTICS_INTERVAL_MS};
use super::client::{check_topics, client_config, client_error};
use super::context::LiveContext;
use super::dead_letters::{DeadLetters, DeliveryCounts};
use super::router::{Router, BATCH};
use crate::checkpoint::Checkpoints;
use crate::config::Config;
use crate::engine::Engine;
use crate::source::worker::{self, Batch, Work};
use crate::source::{DeadLetterSink, Request};

/// How long one poll waits for a message when there is nothing to hand
/// over; also how late a request from the HTTP side may be answered
/// while the topics are idle.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Polls between two stores of applied offsets while busy.
const STORE_EVERY: u32 = 1024;

pub struct LiveConsumer {
    consumer: BaseConsumer<LiveContext>,
    router: Router,
    workers: Vec<JoinHandle<()>>,
}

impl LiveConsumer {
    /// Starts the workers, creates the clients, and checks that the
    /// brokers answer and the topics exist; each failure is one line
    /// saying what to fix.
    /// With `checkpoints`, partitions are restored at assign and saved as
    /// they go.
    pub fn connect(
        config: &Config,
        checkpoints: Option<Checkpoints>,
    ) -> anyhow::Result<LiveConsumer> {
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
            let (config, dead_letters, spent, checkpoints) = (
                config.clone(),
                dead_letters.clone(),
                spent.clone(),
                checkpoints.clone(),
            );
            workers.push(
                std::thread::Builder::new()
                    .name(format!("worker-{index}"))
                    .spawn(move || {
                        let sink = dead_letters.map(|d| d as Arc<dyn DeadLetterSink>);
                        worker::work(work, spent, config, sink, checkpoints)
                    })
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
            lost: AtomicBool::new(false),
            errors: AtomicU64::new(0),
            brokers: BrokerWatch::new(
                kafka
                    .properties
                    .get("fetch.wait.max.ms")
                    .map(String::as_str),
            ),
            started: AtomicBool::new(false),
            dead_letters,
            checkpoints,
            config: config.clone(),
            restored: Mutex::new(HashMap::new()),
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
        // word of reaching a partition's end, and statistics every second
        // to see whether the brokers answer (brokers.rs).
        client
            .set("group.id", &kafka.group_id)
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
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
        if let Some(checkpoints) = &context.checkpoints {
            for worker in &context.workers {
                let _ = worker.send(Work::CheckpointAll);
            }
            context.barrier();
            checkpoints.flush();
        }
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
