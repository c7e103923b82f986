//! `deskpulse replay`: drive one engine from JSON lines with the
//! event-time clock, and report what happened to the lines.

use std::fmt;
use std::io::BufRead;

use super::{wall_ms, RejectLog};
use crate::engine::{Applied, Engine};

/// Counts of what became of the input lines.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReplaySummary {
    pub lines: u64,
    pub accepted: u64,
    pub late: u64,
    pub duplicates: u64,
    /// By reason, in the order of SPEC §7.1.
    pub rejected: Vec<(&'static str, u64)>,
}

impl fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rejected: u64 = self.rejected.iter().map(|r| r.1).sum();
        write!(
            f,
            "replayed {} lines: accepted {} (late {}), duplicates {}, rejected {}",
            self.lines, self.accepted, self.late, self.duplicates, rejected
        )?;
        let reasons: Vec<String> = self
            .rejected
            .iter()
            .filter(|r| r.1 > 0)
            .map(|(reason, n)| format!("{reason}={n}"))
            .collect();
        if !reasons.is_empty() {
            write!(f, " ({})", reasons.join(", "))?;
        }
        Ok(())
    }
}

impl ReplaySummary {
    /// The summary as one JSON object, for `replay --report json`.
    pub fn to_json(&self) -> serde_json::Value {
        let by_reason: serde_json::Map<String, serde_json::Value> = self
            .rejected
            .iter()
            .map(|(reason, n)| ((*reason).to_owned(), (*n).into()))
            .collect();
        serde_json::json!({
            "lines": self.lines,
            "accepted": self.accepted,
            "late": self.late,
            "duplicates": self.duplicates,
            "rejected": self.rejected.iter().map(|r| r.1).sum::<u64>(),
            "rejected_by_reason": by_reason,
        })
    }
}

struct LineNumber(u64);

impl fmt::Display for LineNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.0)
    }
}

/// How many lines go by between calls of the progress callback: often
/// enough for a bar redrawn a few times a second, rare enough to cost
/// nothing per line.
const PROGRESS_EVERY: u64 = 4096;

/// Feeds every line of `input` to `engine`, telling `progress` the number
/// of lines read so far now and then. Reads one line at a time into one
/// buffer, so memory does not grow with the input.
pub fn replay(
    engine: &mut Engine,
    input: &mut dyn BufRead,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<ReplaySummary> {
    let mut summary = ReplaySummary::default();
    let mut log = RejectLog::new(10);
    let mut buffer = Vec::with_capacity(4096);
    let mut rejected = [0u64; crate::decode::Reject::ALL.len()];
    loop {
        buffer.clear();
        if input.read_until(b'\n', &mut buffer)? == 0 {
            break;
        }
        summary.lines += 1;
        if summary.lines % PROGRESS_EVERY == 0 {
            progress(summary.lines);
        }
        match engine.apply_in_batch(&buffer, wall_ms()) {
            Ok(Applied::Accepted { late, .. }) => {
                summary.accepted += 1;
                summary.late += late as u64;
            }
            Ok(Applied::Duplicate) => summary.duplicates += 1,
            Ok(Applied::Blank) => {}
            Err(reason) => {
                rejected[reason as usize] += 1;
                log.rejected(reason, &LineNumber(summary.lines));
            }
        }
    }
    engine.end_batch();
    summary.rejected = crate::decode::Reject::ALL
        .iter()
        .map(|r| (r.as_str(), rejected[*r as usize]))
        .collect();
    Ok(summary)
}
