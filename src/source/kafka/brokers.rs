//! Whether the brokers answer, read from librdkafka's statistics, which it
//! hands over every second from inside `poll`. A broker that leads an
//! assigned partition and has not answered for longer than a fetch may
//! wait, plus a grace, is an outage: `deskpulse_broker_up` reads 0 and
//! `/readyz` is not ready until it answers again, and
//! `deskpulse_broker_outages_total` counts it once. When the outage
//! outlasts the group session, librdkafka takes the partitions away as
//! lost; until the group assigns partitions again, the group coordinator
//! is judged instead.
//!
//! Statistics rather than the error callback: a broker that hangs
//! (stopped, overloaded, cut off without a reset) keeps its connections
//! open, so librdkafka reports no error until a request times out after
//! `socket.timeout.ms` (60 s), and none at all for a shorter outage. The
//! statistics show the silence itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::context::locked;

/// How often librdkafka hands its statistics over
/// (`statistics.interval.ms`): how late after the limit an outage, or its
/// end, is seen.
pub(super) const STATISTICS_INTERVAL_MS: &str = "1000";

/// How much longer than a fetch may wait (`fetch.wait.max.ms`) a broker
/// may leave a request unanswered before it counts as not answering: far
/// above a busy broker's answer times (milliseconds), far below the
/// session timeout (45 s) after which the group takes the partitions
/// away, so an outage shows well before it costs a rebalance.
const ANSWER_GRACE: Duration = Duration::from_secs(5);

/// librdkafka's default `fetch.wait.max.ms`.
const FETCH_WAIT_DEFAULT: Duration = Duration::from_millis(500);

/// What the consumer knows of its brokers' answers. Statistics come on
/// the polling thread only; the atomics are read there too, and the
/// mutex is never contended.
pub(super) struct BrokerWatch {
    /// How long a broker may leave a request unanswered.
    limit: Duration,
    up: AtomicBool,
    outages: AtomicU64,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Every broker the statistics named, by name.
    brokers: HashMap<String, Followed>,
    outage: Option<Outage>,
}

#[derive(Clone, Copy)]
struct Outage {
    /// When the silence that made it began, for the log.
    began: Instant,
    /// When it was found: from then on, a broker answers again only by
    /// answering after it.
    found: Instant,
}

/// One broker, from one set of statistics to the next.
struct Followed {
    /// The latest instant it is known to have answered all it owed (or,
    /// until anything is known, when the statistics first named it).
    answered_at: Instant,
    /// Bytes received from it by the last statistics; `None` before.
    rxbytes: Option<u64>,
    /// Since when it has been judged without a break: a broker is not
    /// held to silence from before it was needed.
    judged_since: Option<Instant>,
}

/// The part of librdkafka's statistics read here (its STATISTICS.md
/// describes them); anything else in them is skipped.
#[derive(Deserialize)]
struct Statistics {
    #[serde(default)]
    brokers: HashMap<String, BrokerStatistics>,
}

#[derive(Deserialize)]
struct BrokerStatistics {
    /// "configured", "learned", "internal" or "logical".
    #[serde(default)]
    source: String,
    #[serde(default)]
    state: String,
    /// Requests sent and waiting for their answer.
    #[serde(default)]
    waitresp_cnt: i64,
    /// Microseconds since the last byte sent, and received, on the
    /// connection; -1 when not connected or nothing yet.
    #[serde(default = "unknown")]
    txidle: i64,
    #[serde(default = "unknown")]
    rxidle: i64,
    /// Bytes received, over every connection to it.
    #[serde(default)]
    rxbytes: u64,
    /// The partitions it leads, of the topics the client knows.
    #[serde(default)]
    toppars: HashMap<String, LedPartition>,
}

fn unknown() -> i64 {
    -1
}

#[derive(Deserialize)]
struct LedPartition {
    topic: String,
    partition: i32,
}

/// A broker found not answering, for the log.
struct Silence<'a> {
    broker: &'a str,
    state: &'a str,
    lasted: Duration,
}

impl BrokerWatch {
    /// `fetch_wait` is the `fetch.wait.max.ms` property, if set: a broker
    /// may hold a fetch that long before it answers.
    pub(super) fn new(fetch_wait: Option<&str>) -> BrokerWatch {
        let fetch_wait = fetch_wait
            .and_then(|ms| ms.trim().parse().ok())
            .map_or(FETCH_WAIT_DEFAULT, Duration::from_millis);
        BrokerWatch {
            limit: fetch_wait + ANSWER_GRACE,
            up: AtomicBool::new(true),
            outages: AtomicU64::new(0),
            seen: Mutex::default(),
        }
    }

    /// Every broker leading an assigned partition answers (true until
    /// statistics say otherwise: the startup checks have just reached the
    /// brokers).
    pub(super) fn up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Outages begun since the start.
    pub(super) fn outages(&self) -> u64 {
        self.outages.load(Ordering::Relaxed)
    }

    /// Reads one set of statistics; `assigned` says whether a topic's
    /// partition is assigned to this instance, `lost` whether the group
    /// took the partitions away as lost and has assigned none since.
    /// Statistics that cannot be read change nothing.
    pub(super) fn observe(
        &self,
        statistics: &[u8],
        lost: bool,
        assigned: impl Fn(&str, i32) -> bool,
    ) {
        match serde_json::from_slice(statistics) {
            Ok(statistics) => self.observe_at(&statistics, Instant::now(), lost, assigned),
            Err(error) => tracing::debug!(%error, "kafka statistics not read"),
        }
    }

    fn observe_at(
        &self,
        statistics: &Statistics,
        now: Instant,
        lost: bool,
        assigned: impl Fn(&str, i32) -> bool,
    ) {
        let mut seen = locked(&self.seen);
        let Seen { brokers, outage } = &mut *seen;
        let mut longest: Option<Silence<'_>> = None;
        // Every broker judged has answered since the outage was found.
        let mut all_answered = true;
        for (name, broker) in &statistics.brokers {
            // Every broker is followed, so that one that comes to be
            // judged is judged by what it answered before.
            let followed = brokers
                .entry(name.clone())
                .or_insert_with(|| Followed::new(now));
            followed.follow(broker, now);
            let judged = match broker.source.as_str() {
                // It holds the partitions without a leader; it has no
                // connection to judge.
                "internal" => false,
                // The group coordinator (a consumer's one logical
                // broker). A session that ran out cost the partitions,
                // and with them the brokers to judge by: until the group
                // assigns partitions again, the coordinator is judged
                // instead, whose silence ended the session and which a
                // member needs to join again. Not otherwise: a join can
                // wait on it for as long as other members take to rejoin.
                "logical" => lost,
                _ => broker
                    .toppars
                    .values()
                    .any(|led| assigned(&led.topic, led.partition)),
            };
            followed.judged_since = judged.then(|| followed.judged_since.unwrap_or(now));
            if !judged {
                continue;
            }
            if let Some(outage) = outage {
                all_answered &= followed.answered_at > outage.found;
            }
            let Some(lasted) = followed.silent_for(broker, now).filter(|&d| d > self.limit) else {
                continue;
            };
            if longest.as_ref().is_none_or(|l| lasted > l.lasted) {
                longest = Some(Silence {
                    broker: name,
                    state: &broker.state,
                    lasted,
                });
            }
        }
        match (*outage, longest) {
            (None, Some(silence)) => {
                *outage = Some(Outage {
                    began: now.checked_sub(silence.lasted).unwrap_or(now),
                    found: now,
                });
                self.outages.fetch_add(1, Ordering::Relaxed);
                self.up.store(false, Ordering::Release);
                tracing::warn!(
                    broker = silence.broker,
                    state = silence.state,
                    "kafka: a broker has not answered for {:.1}s: an outage (deskpulse_broker_up 0, /readyz not ready) until the brokers answer",
                    silence.lasted.as_secs_f64()
                );
            }
            (Some(ended), None) if all_answered => {
                *outage = None;
                self.up.store(true, Ordering::Release);
                tracing::info!(
                    "kafka: the brokers answer again, after about {:.0}s",
                    now.saturating_duration_since(ended.began).as_secs_f64()
                );
            }
            _ => {}
        }
    }
}

impl Followed {
    fn new(now: Instant) -> Followed {
        Followed {
            answered_at: now,
            rxbytes: None,
            judged_since: None,
        }
    }

    /// Takes in its statistics at `now`. Connected and owing nothing, it
    /// has answered all; connected and having sent something since the
    /// last statistics, it answered up to the start of its present quiet.
    /// Disconnected, or owing and silent, it has answered nothing more.
    fn follow(&mut self, broker: &BrokerStatistics, now: Instant) {
        if broker.connected() {
            if broker.waitresp_cnt <= 0 {
                self.answered_at = now;
            } else if self.rxbytes != Some(broker.rxbytes) {
                let answered = now.checked_sub(broker.quiet_for()).unwrap_or(now);
                self.answered_at = self.answered_at.max(answered);
            }
        }
        self.rxbytes = Some(broker.rxbytes);
    }

    /// How long it has owed an answer in vain while judged: disconnected,
    /// or with requests waiting; `None` when it owes nothing.
    fn silent_for(&self, broker: &BrokerStatistics, now: Instant) -> Option<Duration> {
        let owes = !broker.connected() || broker.waitresp_cnt > 0;
        let since = self.answered_at.max(self.judged_since?);
        owes.then(|| now.saturating_duration_since(since))
    }
}

impl BrokerStatistics {
    /// Connected, or reauthenticating on a connection that stays up.
    fn connected(&self) -> bool {
        matches!(self.state.as_str(), "UP" | "UPDATE" | "REAUTH")
    }

    /// With requests waiting, how long the broker has surely owed an
    /// answer and sent nothing, from these statistics alone: the time
    /// since it last sent anything or since the client last sent anything,
    /// whichever is shorter (every waiting request was sent no later than
    /// the last send).
    fn quiet_for(&self) -> Duration {
        let micros = |idle: i64| u64::try_from(idle).ok().map(Duration::from_micros);
        let waited = micros(self.txidle).unwrap_or_default();
        // Nothing received yet on the connection: the time waited alone.
        micros(self.rxidle).map_or(waited, |heard| heard.min(waited))
    }
}

#[cfg(test)]
mod tests;
