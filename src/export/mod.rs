//! Export: the one place where metric names of SPEC §5.1 are written.
//! A [`Snapshot`] becomes Prometheus metric families (`families.rs`; the
//! KPI series in `kpis.rs`, the processor's own in `health.rs`), encoded
//! as Prometheus text or OpenMetrics (`text.rs`) or JSON (`json.rs`).

mod families;
mod health;
mod json;
mod kpis;
mod names;
mod text;

use prometheus::proto::MetricFamily;

use crate::engine::snapshot::Snapshot;
use crate::source::ConsumerStats;
pub use families::{Exemplar, Exposition};
pub use json::json;
pub use text::{encode, Format};

/// Renders a snapshot as Prometheus text exposition (format 0.0.4).
pub fn render(snapshot: &Snapshot, prefix: &str) -> String {
    encode(&exposition(snapshot, None, prefix), Format::Text)
}

/// The metric families of a snapshot, and of the live consumer if any.
pub fn families(
    snapshot: &Snapshot,
    consumer: Option<&ConsumerStats>,
    prefix: &str,
) -> Vec<MetricFamily> {
    exposition(snapshot, consumer, prefix).families
}

/// The families with the exemplars of their samples.
pub fn exposition(
    snapshot: &Snapshot,
    consumer: Option<&ConsumerStats>,
    prefix: &str,
) -> Exposition {
    let mut f = families::Families::new(prefix);
    kpis::cumulative(&mut f, snapshot);
    kpis::windowed(&mut f, snapshot);
    kpis::live(&mut f, snapshot);
    health::health(&mut f, snapshot);
    if let Some(stats) = consumer {
        health::consumer_health(&mut f, stats);
    }
    f.finish()
}
