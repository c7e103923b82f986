//! The processor's own series (prefix `deskpulse_`): events by type,
//! rejections, state, and in live mode the consumer's.

use prometheus::proto::MetricType;

use super::families::{histogram_metric, Families, HEALTH};
use crate::checkpoint::writer::WRITE_BUCKETS;
use crate::checkpoint::{CheckpointStats, Restore};
use crate::engine::snapshot::Snapshot;
use crate::source::{ConsumerStats, DELAY_BUCKETS};

pub(super) fn health(f: &mut Families, s: &Snapshot) {
    use MetricType::{COUNTER, GAUGE};
    let h = &s.health;
    let name = |n: &str| format!("{HEALTH}{n}");
    for (event_type, &n) in &h.accepted_by_type {
        f.push(
            &name("events_total"),
            "accepted events by type",
            COUNTER,
            &[("type", event_type)],
            n as f64,
        );
    }
    for reason in crate::decode::Reject::ALL {
        let n = h.rejected.get(reason.as_str()).copied().unwrap_or(0) as f64;
        f.push(
            &name("events_rejected_total"),
            "rejected events by reason",
            COUNTER,
            &[("reason", reason.as_str())],
            n,
        );
    }
    f.push(
        &name("events_duplicate_total"),
        "events dropped as duplicates",
        COUNTER,
        &[],
        h.duplicates as f64,
    );
    f.push(
        &name("events_late_total"),
        "events too late for the windows",
        COUNTER,
        &[],
        h.late as f64,
    );
    for (kind, &n) in &h.state_entries {
        f.push(
            &name("state_entries"),
            "entries held in state",
            GAUGE,
            &[("kind", kind)],
            n as f64,
        );
    }
    for (label, &n) in &h.label_folds {
        let help = "events whose label value was folded into other by the cardinality limit";
        f.push(
            &name("label_overflow_total"),
            help,
            COUNTER,
            &[("label", label)],
            n as f64,
        );
    }
    if let Some(clock) = h.clock_ms {
        let help = "largest accepted event time";
        f.push(
            &name("event_clock_seconds"),
            help,
            GAUGE,
            &[],
            clock as f64 / 1000.0,
        );
    }
    f.push(
        &name("export_time_seconds"),
        "the instant this export describes: windows and ages end here",
        GAUGE,
        &[],
        s.now_ms as f64 / 1000.0,
    );
    let version = env!("CARGO_PKG_VERSION");
    f.push(
        &name("build_info"),
        "build of this process",
        GAUGE,
        &[("version", version)],
        1.0,
    );
}

/// The live consumer's own health (SPEC §5.1): lag per partition, delay
/// from event to applied, readiness, broker outages, dead letters.
pub(super) fn consumer_health(f: &mut Families, c: &ConsumerStats) {
    use MetricType::{COUNTER, GAUGE};
    let name = |n: &str| format!("{HEALTH}{n}");
    for p in &c.partitions {
        if let Some(lag) = p.lag {
            let partition = p.partition.to_string();
            f.push(
                &name("consumer_lag_messages"),
                "messages behind the high watermark of the last fetch",
                GAUGE,
                &[("topic", &p.topic), ("partition", &partition)],
                lag as f64,
            );
        }
    }
    f.push(
        &name("partitions_assigned"),
        "partitions this instance consumes",
        GAUGE,
        &[],
        c.partitions.len() as f64,
    );
    f.push(
        &name("ready"),
        "1 once every assigned partition has been read to its end, while the brokers answer",
        GAUGE,
        &[],
        if c.ready { 1.0 } else { 0.0 },
    );
    f.push(
        &name("broker_up"),
        "1 while the brokers of the assigned partitions answer, 0 during an outage",
        GAUGE,
        &[],
        if c.brokers_up { 1.0 } else { 0.0 },
    );
    f.push(
        &name("broker_outages_total"),
        "outages: times a broker of the assigned partitions stopped answering",
        COUNTER,
        &[],
        c.broker_outages as f64,
    );
    if let Some(delay) = &c.delay {
        let metric = histogram_metric(DELAY_BUCKETS, &[], delay);
        f.family(
            &name("end_to_end_delay_seconds"),
            "wall clock minus event ts when the event was applied",
            MetricType::HISTOGRAM,
        )
        .mut_metric()
        .push(metric);
    }
    for (result, n) in [
        ("sent", c.dead_letters_sent),
        ("failed", c.dead_letters_failed),
    ] {
        f.push(
            &name("dead_letters_total"),
            "rejected messages copied to the dead-letter topic",
            COUNTER,
            &[("result", result)],
            n as f64,
        );
    }
    f.push(
        &name("consumer_errors_total"),
        "errors reported by the Kafka client",
        COUNTER,
        &[],
        c.consumer_errors as f64,
    );
    f.push(
        &name("http_unauthorized_total"),
        "requests refused for missing or wrong credentials",
        COUNTER,
        &[],
        c.http.unauthorized as f64,
    );
    f.push(
        &name("http_tls_reload_errors_total"),
        "certificate reloads that failed, the previous certificate kept",
        COUNTER,
        &[],
        c.http.tls_reload_errors as f64,
    );
    if let Some(checkpoints) = &c.checkpoints {
        checkpoint_health(f, c, checkpoints);
    }
}

fn checkpoint_health(f: &mut Families, c: &ConsumerStats, s: &CheckpointStats) {
    use MetricType::{COUNTER, GAUGE};
    let name = |n: &str| format!("{HEALTH}{n}");
    for p in &c.partitions {
        let Some((age_seconds, bytes)) = p.checkpoint else {
            continue;
        };
        let partition = p.partition.to_string();
        let labels = [("topic", p.topic.as_str()), ("partition", &partition)];
        f.push(
            &name("checkpoint_age_seconds"),
            "seconds since the state of the partition's last saved checkpoint was taken",
            GAUGE,
            &labels,
            age_seconds,
        );
        f.push(
            &name("checkpoint_bytes"),
            "encoded size of the partition's last saved checkpoint",
            GAUGE,
            &labels,
            bytes as f64,
        );
    }
    for (result, n) in [("written", s.written), ("failed", s.failed)] {
        f.push(
            &name("checkpoints_total"),
            "checkpoints saved in every store, or not",
            COUNTER,
            &[("result", result)],
            n as f64,
        );
    }
    let metric = histogram_metric(WRITE_BUCKETS, &[], &s.write);
    f.family(
        &name("checkpoint_write_seconds"),
        "time to encode, compress and save a checkpoint, on the checkpoint thread",
        MetricType::HISTOGRAM,
    )
    .mut_metric()
    .push(metric);
    f.push(
        &name("checkpoint_pause_seconds_max"),
        "longest a worker stopped applying events to copy a partition's state",
        GAUGE,
        &[],
        s.pause_max_seconds,
    );
    for result in Restore::ALL {
        let n = s.restores.get(result.as_str()).copied().unwrap_or(0);
        f.push(
            &name("checkpoint_restores_total"),
            "partitions assigned, by how their state was restored",
            COUNTER,
            &[("result", result.as_str())],
            n as f64,
        );
    }
}
