//! The consumer's context: the callbacks librdkafka makes from inside
//! `poll` (rebalances, log lines, errors, statistics), the routes of the
//! assigned partitions that rebalances change, and storing and committing
//! the offsets the workers have applied.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, RebalanceProtocol,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::Producer;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::brokers::BrokerWatch;
use super::dead_letters::DeadLetters;
use crate::checkpoint::{self, Checkpoints, PartitionName};
use crate::config::Config;
pub(super) use crate::source::locked;
use crate::source::worker::{Handover, PartitionKey, Progress, Work};

/// How long shutdown waits for dead letters still in flight.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a restore waits for the group's committed offsets.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// With a state store: restores at assign, saves at revoke.
    pub(super) checkpoints: Option<Checkpoints>,
    /// For restored engines, whose settings come from the config.
    pub(super) config: Config,
    /// Engines restored for partitions being assigned, with the offset
    /// they resume at, until the workers get them.
    pub(super) restored: Mutex<HashMap<PartitionKey, (Handover, i64)>>,
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
    /// librdkafka's rebalance with one step before the assignment takes
    /// effect: each partition assigned is restored from its newest
    /// checkpoint, and its offset in the assignment set to the
    /// checkpoint's, so that the checkpoint, not the group's commit, says
    /// where reading resumes. The rest is what rdkafka does by default.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        list: &mut TopicPartitionList,
    ) {
        let assigning = err == RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
        if !assigning && err != RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
            tracing::error!(error = ?RDKafkaErrorCode::from(err), "rebalance failed");
            return;
        }
        if assigning {
            self.restore(consumer, list);
        }
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let list: &TopicPartitionList = list;
        let rebalance = if assigning {
            Rebalance::Assign(list)
        } else {
            Rebalance::Revoke(list)
        };
        self.pre_rebalance(consumer, &rebalance);
        let changed = match (assigning, cooperative) {
            (true, true) => consumer.incremental_assign(list),
            (true, false) => consumer.assign(list),
            (false, true) => consumer.incremental_unassign(list),
            (false, false) => consumer.unassign(),
        };
        if let Err(error) = changed {
            tracing::error!(%error, "the assignment could not be changed");
        }
        self.post_rebalance(consumer, &rebalance);
    }

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
            // Saved before the commit: the next owner resumes from the
            // checkpoint, which must exist by the time it is assigned.
            if let Some(checkpoints) = &self.checkpoints {
                checkpoints.flush();
            }
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
                let restored = locked(&self.restored).remove(&key);
                let handover = restored.map(|(handover, next_offset)| {
                    route
                        .progress
                        .applied_next
                        .store(next_offset, Ordering::Release);
                    handover
                });
                tracing::info!(
                    topic = self.topics[key.0],
                    partition = key.1,
                    worker,
                    "partition assigned"
                );
                let _ =
                    self.workers[worker].send(Work::Assign(key, route.progress.clone(), handover));
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
    /// Restores each partition of `list` from its newest checkpoint, and
    /// sets its offset there.
    fn restore(&self, consumer: &BaseConsumer<Self>, list: &mut TopicPartitionList) {
        let Some(checkpoints) = &self.checkpoints else {
            return;
        };
        let committed = self.committed(consumer, list);
        for key in self.keys_of(list) {
            let topic = &self.topics[key.0];
            let partition = PartitionName {
                group: &self.config.kafka.group_id,
                topic,
                partition: key.1,
            };
            let (result, restored) = checkpoint::restore(
                &checkpoints.stores,
                checkpoints.fingerprint,
                &self.config,
                &partition,
            );
            checkpoints.count_restore(result);
            let Some(restored) = restored else {
                continue;
            };
            let next_offset = restored.header.next_offset;
            if let Err(error) = list.set_partition_offset(topic, key.1, Offset::Offset(next_offset))
            {
                tracing::warn!(%partition, %error, "checkpoint not used: its offset could not be set");
                continue;
            }
            // What lies between the checkpoint and the group's commit was
            // applied and counted already, by a process that died or by the
            // partition's last owner (when this checkpoint is an old one of
            // this instance's own store): it is read again for the state,
            // and not counted again.
            let counted_before = committed.get(&key).copied().filter(|&c| c > next_offset);
            tracing::info!(
                %partition,
                next_offset,
                counted_before,
                "partition restored from its checkpoint"
            );
            let handover = Handover {
                engine: Box::new(restored.engine),
                counted_before,
            };
            locked(&self.restored).insert(key, (handover, next_offset));
        }
    }

    /// The group's committed offsets of the partitions of `list`; none if
    /// the coordinator does not answer in time (then everything read again
    /// is counted again).
    fn committed(
        &self,
        consumer: &BaseConsumer<Self>,
        list: &TopicPartitionList,
    ) -> HashMap<PartitionKey, i64> {
        let asked = consumer.committed_offsets(list.clone(), COMMITTED_TIMEOUT);
        let Ok(answer) = asked.inspect_err(|error| {
            tracing::warn!(%error, "committed offsets unknown: what restored partitions read again is counted again")
        }) else {
            return HashMap::new();
        };
        answer
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((self.topic_index(e.topic())?, e.partition()), o)),
                _ => None,
            })
            .collect()
    }

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
