//! The families as JSON, for wallboards (`/api/v1/kpis`).

use prometheus::proto::{MetricFamily, MetricType};

/// The families named in `names` (all without it) as JSON for wallboards:
/// `{name: {type, help, samples: [{labels, value | count, sum, quantiles | buckets}]}}`.
pub fn json(families: &[MetricFamily], names: Option<&[&str]>) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let number = |v: f64| {
        serde_json::Number::from_f64(v)
            .map_or_else(|| Value::String(format_float(v)), Value::Number)
    };
    let mut out = Map::new();
    for family in families {
        if names.is_some_and(|names| !names.contains(&family.name())) {
            continue;
        }
        let kind = family.get_field_type();
        let samples: Vec<Value> = family
            .get_metric()
            .iter()
            .map(|m| {
                let labels: Map<String, Value> = m
                    .get_label()
                    .iter()
                    .map(|l| (l.name().to_owned(), Value::String(l.value().to_owned())))
                    .collect();
                match kind {
                    MetricType::COUNTER => json!({"labels": labels, "value": number(m.get_counter().get_value())}),
                    MetricType::SUMMARY => {
                        let s = m.get_summary();
                        let quantiles: Map<String, Value> = s
                            .get_quantile()
                            .iter()
                            .map(|q| (format_float(q.quantile()), number(q.value())))
                            .collect();
                        json!({"labels": labels, "count": s.sample_count(), "sum": number(s.sample_sum()), "quantiles": quantiles})
                    }
                    MetricType::HISTOGRAM => {
                        let h = m.get_histogram();
                        let mut buckets: Map<String, Value> = h
                            .get_bucket()
                            .iter()
                            .map(|b| (format_float(b.upper_bound()), Value::from(b.cumulative_count())))
                            .collect();
                        buckets.insert("+Inf".into(), Value::from(h.get_sample_count()));
                        json!({"labels": labels, "count": h.get_sample_count(), "sum": number(h.get_sample_sum()), "buckets": buckets})
                    }
                    _ => json!({"labels": labels, "value": number(m.get_gauge().get_value())}),
                }
            })
            .collect();
        let kind = match kind {
            MetricType::COUNTER => "counter",
            MetricType::GAUGE => "gauge",
            MetricType::SUMMARY => "summary",
            MetricType::HISTOGRAM => "histogram",
            MetricType::UNTYPED => "unknown",
        };
        out.insert(
            family.name().to_owned(),
            json!({"type": kind, "help": family.help(), "samples": samples}),
        );
    }
    Value::Object(out)
}

/// A float as the exposition writes it: `0.5`, `60`, `+Inf`.
fn format_float(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}
