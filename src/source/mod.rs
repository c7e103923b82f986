//! Sources of input lines: a JSON-lines file or stdin (replay).

pub mod replay;

use std::time::{Duration, Instant};

use crate::decode::Reject;

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
