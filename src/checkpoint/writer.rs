//! The checkpoint writer: one I/O thread that encodes, compresses and
//! saves the states the workers hand it, so that a worker pauses only for
//! the copy of its state (see [`crate::source::worker`]). It keeps what
//! the self-metrics show: per partition the last checkpoint's instant and
//! size, write durations, failures, restores by result.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::format::{self, Header};
use super::store::{PartitionName, Stores};
use super::Restore;
use crate::config::Config;
use crate::engine::cumulative::ClassicHistogram;
use crate::engine::{Engine, State};

/// Bucket upper bounds (seconds) of a checkpoint's encode and write.
pub const WRITE_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A state to save. `pending` is the partition's: set while this job
/// waits, so that a slow store never queues more than one periodic copy
/// of a partition's state.
pub struct Job {
    pub header: Header,
    pub state: Box<State>,
    pub pending: Arc<AtomicBool>,
}

enum Message {
    Save(Job),
    /// Answered once every save sent before it is done.
    Flush(Sender<()>),
}

/// What the self-metrics show of checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointStats {
    /// By topic and partition: wall clock of the state last saved, and its
    /// encoded size.
    pub saved: HashMap<(String, i32), (i64, u64)>,
    pub written: u64,
    pub failed: u64,
    pub write: ClassicHistogram,
    /// The longest a worker paused to copy a state, in seconds.
    pub pause_max_seconds: f64,
    pub restores: BTreeMap<&'static str, u64>,
}

impl Default for CheckpointStats {
    fn default() -> Self {
        CheckpointStats {
            saved: HashMap::new(),
            written: 0,
            failed: 0,
            write: ClassicHistogram::new(WRITE_BUCKETS),
            pause_max_seconds: 0.0,
            restores: BTreeMap::new(),
        }
    }
}

/// The workers' and the rebalance's handle on the writer thread.
#[derive(Clone)]
pub struct Checkpoints {
    sender: Sender<Message>,
    stats: Arc<Mutex<CheckpointStats>>,
    /// For restores, which read on the polling thread.
    pub stores: Stores,
    pub interval: Duration,
    /// [`crate::engine::Engine::state_fingerprint`] under the config:
    /// what every checkpoint is saved under and checked against.
    pub fingerprint: u64,
}

impl Checkpoints {
    /// Starts the writer thread; it ends when every handle is dropped.
    pub fn start(stores: Stores, config: &Config) -> std::io::Result<Checkpoints> {
        let (sender, inbox) = mpsc::channel();
        let stats = Arc::new(Mutex::new(CheckpointStats::default()));
        let (shared, writes_to) = (stats.clone(), stores.clone());
        std::thread::Builder::new()
            .name("checkpoints".to_owned())
            .spawn(move || write_all(inbox, writes_to, shared))?;
        Ok(Checkpoints {
            sender,
            stats,
            stores,
            interval: config.state.checkpoint_interval,
            fingerprint: Engine::new(config).state_fingerprint(),
        })
    }

    /// Hands a state over; `paused` is how long taking it stopped the worker.
    pub fn save(&self, job: Job, paused: Duration) {
        job.pending.store(true, Ordering::Release);
        let mut stats = self.stats();
        stats.pause_max_seconds = stats.pause_max_seconds.max(paused.as_secs_f64());
        drop(stats);
        if self.sender.send(Message::Save(job)).is_err() {
            tracing::error!("the checkpoint writer has stopped");
        }
    }

    /// Waits until everything handed over so far is saved (or failed).
    pub fn flush(&self) {
        let (done, finished) = mpsc::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = finished.recv();
        }
    }

    pub fn count_restore(&self, result: Restore) {
        *self.stats().restores.entry(result.as_str()).or_default() += 1;
    }

    pub fn stats(&self) -> std::sync::MutexGuard<'_, CheckpointStats> {
        crate::source::locked(&self.stats)
    }
}

fn write_all(inbox: Receiver<Message>, stores: Stores, stats: Arc<Mutex<CheckpointStats>>) {
    for message in inbox {
        let job = match message {
            Message::Save(job) => job,
            Message::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let started = Instant::now();
        let written = write(&job, &stores);
        job.pending.store(false, Ordering::Release);
        let mut stats = crate::source::locked(&stats);
        match written {
            Ok(bytes) => {
                stats.written += 1;
                let key = (job.header.topic.clone(), job.header.partition);
                stats.saved.insert(key, (job.header.taken_ms, bytes));
                let ms = started.elapsed().as_millis() as u64;
                stats.write.observe(WRITE_BUCKETS, ms);
            }
            Err(()) => stats.failed += 1,
        }
    }
}

/// Encodes the job and saves it in every store; the size on success.
fn write(job: &Job, stores: &Stores) -> Result<u64, ()> {
    let h = &job.header;
    let partition = PartitionName {
        group: &h.group,
        topic: &h.topic,
        partition: h.partition,
    };
    let bytes = format::encode(h.clone(), &job.state).map_err(|error| {
        tracing::error!(%partition, "{error}");
    })?;
    let mut saved = true;
    for store in stores.iter() {
        if let Err(error) = store.save(&partition, &bytes) {
            tracing::warn!(
                store = store.name(),
                %partition,
                "checkpoint not saved, the last one stands: {error}; check the store is writable"
            );
            saved = false;
        }
    }
    saved.then_some(bytes.len() as u64).ok_or(())
}
