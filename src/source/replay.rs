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

struct LineNumber(u64);

impl fmt::Display for LineNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.0)
    }
}

/// Feeds every line of `input` to `engine`. Reads one line at a time into
/// one buffer, so memory does not grow with the input.
pub fn replay(engine: &mut Engine, input: &mut dyn BufRead) -> std::io::Result<ReplaySummary> {
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
        match engine.apply(&buffer, wall_ms()) {
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
    summary.rejected = crate::decode::Reject::ALL
        .iter()
        .map(|r| (r.as_str(), rejected[*r as usize]))
        .collect();
    Ok(summary)
}
