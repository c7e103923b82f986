//! Sources of input: a JSON-lines file or stdin (replay), or Kafka (live).

pub mod kafka;
pub mod replay;
pub mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::decode::Reject;
use crate::engine::snapshot::Snapshot;

/// The merged state of every shard at one wall-clock instant.
pub struct Picture {
    pub snapshot: Snapshot,
    pub consumer: ConsumerStats,
}

/// What the HTTP side asks the live source for. Here rather than in
/// `kafka/`, so that serving does not depend on Kafka.
pub enum Request {
    /// All shards merged at the wall clock, with the consumer's own stats.
    Picture(oneshot::Sender<Arc<Picture>>),
    /// Readiness alone: cheap, for `/healthz` and `/readyz`.
    Ready(oneshot::Sender<Readiness>),
}

/// Whether live mode is ready (`/readyz`), and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Every assigned partition has been read to its end once, and the
    /// brokers leading them answer.
    Ready,
    /// No partitions assigned yet (or since the group took them away as
    /// lost), or one not yet read to its end.
    CatchingUp,
    /// A broker leading an assigned partition (or, once the group took
    /// them away as lost, the group coordinator) does not answer.
    BrokersNotAnswering,
}

/// Where a worker copies a message it rejected, with why (the dead-letter
/// topic in live mode). A trait, so that the workers do not depend on the
/// Kafka module that depends on them.
pub trait DeadLetterSink: Send + Sync {
    fn send(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
        reason: Reject,
    );
}

/// Logs rejected input at a bounded rate, so that a flood of bad lines
/// cannot flood the log; what it held back is reported with the next line.
pub struct RejectLog {
    per_second: u32,
    window_start: Instant,
    logged: u32,
    suppressed: u64,
}

impl RejectLog {
    pub fn new(per_second: u32) -> RejectLog {
        RejectLog {
            per_second,
            window_start: Instant::now(),
            logged: 0,
            suppressed: 0,
        }
    }

    /// `place` says where the line came from: a line number, or a
    /// partition and offset.
    pub fn rejected(&mut self, reason: Reject, place: &dyn std::fmt::Display) {
        if self.window_start.elapsed() >= Duration::from_secs(1) {
            self.window_start = Instant::now();
            self.logged = 0;
        }
        if self.logged >= self.per_second {
            self.suppressed += 1;
            return;
        }
        self.logged += 1;
        let suppressed = std::mem::take(&mut self.suppressed);
        tracing::warn!(%reason, %place, suppressed_since_last = suppressed, "rejected event");
    }
}

/// Wall clock in epoch milliseconds, read by sources, never by the engine.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The mutex's value, even after a thread panicked holding it: what is
/// guarded here (routes, changes, statistics) stays consistent per update.
pub fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Bucket upper bounds (seconds) of the end-to-end delay, event `ts` to
/// applied: from a healthy few milliseconds to an hour-old backlog.
pub const DELAY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// The live consumer's own state, beside the engines' snapshot.
#[derive(Debug, Clone, Default)]
pub struct ConsumerStats {
    pub partitions: Vec<PartitionStats>,
    /// Every assigned partition has been read to its end once, and the
    /// brokers leading them answer.
    pub ready: bool,
    /// The brokers leading the assigned partitions answer.
    pub brokers_up: bool,
    /// Times a broker leading an assigned partition stopped answering.
    pub broker_outages: u64,
    /// Now − event `ts` when each accepted event was applied.
    pub delay: Option<crate::engine::cumulative::ClassicHistogram>,
    pub dead_letters_sent: u64,
    pub dead_letters_failed: u64,
    pub consumer_errors: u64,
    /// With a state store.
    pub checkpoints: Option<crate::checkpoint::CheckpointStats>,
    /// Counted by the HTTP server, which fills this in when it exports.
    pub http: HttpStats,
}

/// What the HTTP server counts of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpStats {
    /// Requests refused for missing or wrong credentials.
    pub unauthorized: u64,
    /// Certificate reloads that failed, the previous certificate kept.
    pub tls_reload_errors: u64,
}

#[derive(Debug, Clone)]
pub struct PartitionStats {
    pub topic: String,
    pub partition: i32,
    /// Messages between the next one to read and the high watermark of
    /// the last fetch; `None` until either is known.
    pub lag: Option<i64>,
    /// Its last checkpoint saved: seconds since its state was taken, and
    /// its encoded size.
    pub checkpoint: Option<(f64, u64)>,
}
