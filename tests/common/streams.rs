//! Streams laid out over partitions, and the comparison of a live scrape
//! with a replay of the same events.

use std::collections::BTreeMap;

use super::{Labels, Metrics};

/// The `support_*` series of an exposition.
pub fn support_series(m: &Metrics) -> BTreeMap<(String, Labels), f64> {
    m.series
        .iter()
        .filter(|((name, _), _)| name.starts_with("support_"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// The `support_*` series that state restores: all but the counters and
/// classic histograms, which are per process (the windowed summaries'
/// `_count` and `_sum`, with a `window` label, are state).
pub fn restorable_series(m: &Metrics) -> BTreeMap<(String, Labels), f64> {
    support_series(m)
        .into_iter()
        .filter(|((name, labels), _)| {
            let classic = ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| name.ends_with(s))
                && !labels.contains_key("window");
            !name.ends_with("_total") && !classic
        })
        .collect()
}

/// Panics with the first differences unless `live` and `replayed` hold
/// the same series with the same values.
pub fn assert_same_series(
    replayed: &BTreeMap<(String, Labels), f64>,
    live: &BTreeMap<(String, Labels), f64>,
    context: &str,
) {
    let differing: Vec<_> = replayed
        .iter()
        .filter(|(key, value)| live.get(*key) != Some(*value))
        .take(5)
        .map(|(key, value)| (key, value, live.get(key)))
        .collect();
    assert!(
        differing.is_empty(),
        "replay vs live, first differences: {differing:#?}\n{context}"
    );
    let extra: Vec<_> = live
        .keys()
        .filter(|k| !replayed.contains_key(*k))
        .take(5)
        .collect();
    assert!(
        extra.is_empty(),
        "series only live exports: {extra:#?}\n{context}"
    );
}

/// The lines of `lines` with every id (`event_id`, `ticket_id`,
/// `interaction_id`, `agent_id`, `customer_id`) prefixed, so that streams
/// generated apart share no ticket, agent or customer.
pub fn namespaced(prefix: &str, lines: &[(i64, String)]) -> Vec<(i64, String)> {
    lines
        .iter()
        .map(|(ts, line)| {
            let mut event: serde_json::Value =
                serde_json::from_str(line).expect("generated lines are JSON");
            for key in [
                "event_id",
                "ticket_id",
                "interaction_id",
                "agent_id",
                "customer_id",
            ] {
                if let Some(serde_json::Value::String(id)) = event.get_mut(key) {
                    *id = format!("{prefix}{id}");
                }
            }
            (*ts, event.to_string())
        })
        .collect()
}

/// The lines of `streams`, merged by `ts` (ties in stream order).
pub fn by_ts(streams: &[Vec<(i64, String)>]) -> Vec<String> {
    let mut all: Vec<(i64, usize, &str)> = streams
        .iter()
        .enumerate()
        .flat_map(|(p, s)| s.iter().map(move |(ts, line)| (*ts, p, line.as_str())))
        .collect();
    all.sort_by_key(|(ts, p, _)| (*ts, *p));
    all.into_iter()
        .map(|(_, _, line)| line.to_owned())
        .collect()
}
