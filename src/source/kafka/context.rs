//! The consumer's context: the callbacks librdkafka makes from inside
//! `poll` (rebalances, log lines, errors, statistics), the routes of the
//! assigned partitions that rebalances change, and storing and committing
//! the offsets the workers have applied.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::Producer;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::brokers::BrokerWatch;
use super::dead_letters::DeadLetters;
use crate::source::worker::{PartitionKey, Progress, Work};

/// How long shutdown waits for dead letters still in flight.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Which worker owns an assigned partition, and how far it has got.
#[derive(Clone)]
pub(super) struct Route {
    pub(super) worker: usize,
    pub(super) progress: Arc<Progress>,
}

pub(super) enum Change {
    Assigned(Vec<(PartitionKey, Route)>),
    Revoked(Vec<PartitionKey>),
}

/// Callbacks librdkafka makes from inside `poll`, on the polling thread:
/// rebalances, which must hand partitions over before they move, log
/// lines, which go to tracing, and statistics, which say whether the
/// brokers answer. The mutexes are never contended: only the
/// polling thread takes them, and not per message.
pub(super) struct LiveContext {
    pub(super) topics: Vec<String>,
    /// The same, for librdkafka's C calls.
    pub(super) c_topics: Vec<CString>,
    pub(super) workers: Vec<Sender<Work>>,
    pub(super) routes: Mutex<HashMap<PartitionKey, Route>>,
    pub(super) changes: Mutex<Vec<Change>>,
    /// The group has assigned partitions (perhaps none) at least once.
    pub(super) joined: AtomicBool,
    /// The group took the partitions away as lost (the session ran out,
    /// as in a broker outage) and has assigned none since: out of the
    /// group until it joins again.
    pub(super) lost: AtomicBool,
    pub(super) errors: AtomicU64,
    pub(super) brokers: BrokerWatch,
    /// Until the startup checks pass, client log lines are debug only, so
    /// that a startup failure reads as the one line that explains it.
    pub(super) started: AtomicBool,
    pub(super) dead_letters: Option<Arc<DeadLetters>>,
}

pub(super) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
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

    fn stats_raw(&self, statistics: &[u8]) {
        let routes = locked(&self.routes);
        let lost = self.lost.load(Ordering::Acquire);
        self.brokers.observe(statistics, lost, |topic, partition| {
            self.topic_index(topic)
                .is_some_and(|topic| routes.contains_key(&(topic, partition)))
        });
    }
}

impl ConsumerContext for LiveContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            // Finish the partitions before they move: their workers apply
            // what they were handed and drop the shards, then the offsets
            // are committed, so the next owner starts where we stop.
            if consumer.assignment_lost() {
                self.lost.store(true, Ordering::Release);
            }
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
            self.lost.store(false, Ordering::Release);
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

    pub(super) fn topic_index(&self, topic: &str) -> Option<usize> {
        self.topics.iter().position(|t| t == topic)
    }

    /// Stores the offsets the workers have applied, for the next commit.
    pub(super) fn store_applied(&self, consumer: &BaseConsumer<Self>) {
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
    pub(super) fn finish(&self, consumer: &BaseConsumer<Self>) {
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
    pub(super) fn barrier(&self) {
        let (done, finished) = mpsc::channel();
        for worker in &self.workers {
            let _ = worker.send(Work::Barrier(done.clone()));
        }
        drop(done);
        finished.iter().for_each(drop);
    }
}
