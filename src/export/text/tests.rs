//! The two encoders on small hand-built families. Every expected string
//! is written by hand from the format specs: Prometheus text 0.0.4
//! (`prometheus/docs/instrumenting/exposition_formats.md`) and
//! OpenMetrics 1.0 (`OpenMetrics/specification/OpenMetrics.md`).
use super::*;
use crate::engine::cumulative::ClassicHistogram;
use crate::export::families::{scalar, Families};
use crate::kpi;
use prometheus::proto::MetricFamily;

const INTERACTION_BOUNDS: &[f64] = &[0.5, 1.0, 60.0];

/// A counter with two labelled series and a gauge without labels.
fn counter_and_gauge() -> Exposition {
    let mut f = Families::new("");
    let counter = MetricType::COUNTER;
    let labels = |code| [("code", code), ("path", "/")];
    f.push(
        "requests_total",
        "Requests served.",
        counter,
        &labels("200"),
        3.0,
    );
    f.push(
        "requests_total",
        "Requests served.",
        counter,
        &labels("500"),
        0.0,
    );
    f.push(
        "temperature_celsius",
        "Current temperature.",
        MetricType::GAUGE,
        &[],
        21.5,
    );
    f.finish()
}

#[test]
fn text_counter_and_gauge() {
    assert_eq!(
        encode(&counter_and_gauge(), Format::Text),
        "# HELP requests_total Requests served.\n\
         # TYPE requests_total counter\n\
         requests_total{code=\"200\",path=\"/\"} 3\n\
         requests_total{code=\"500\",path=\"/\"} 0\n\
         # HELP temperature_celsius Current temperature.\n\
         # TYPE temperature_celsius gauge\n\
         temperature_celsius 21.5\n"
    );
}

/// OpenMetrics: a counter family is named without `_total` in its
/// metadata, its samples keep `_total`; `_created` is optional and not
/// written (deskpulse keeps no start time per series); `# EOF` ends it.
#[test]
fn openmetrics_counter_and_gauge() {
    let text = encode(&counter_and_gauge(), Format::OpenMetrics);
    assert_eq!(
        text,
        "# HELP requests Requests served.\n\
         # TYPE requests counter\n\
         requests_total{code=\"200\",path=\"/\"} 3\n\
         requests_total{code=\"500\",path=\"/\"} 0\n\
         # HELP temperature_celsius Current temperature.\n\
         # TYPE temperature_celsius gauge\n\
         temperature_celsius 21.5\n\
         # EOF\n"
    );
    assert!(!text.contains("_created"));
}

/// Only a counter's family name loses `_total`: a gauge keeps its name.
#[test]
fn openmetrics_strips_total_from_counters_only() {
    let mut f = Families::new("");
    f.push(
        "queue_total",
        "A gauge with that suffix.",
        MetricType::GAUGE,
        &[],
        2.0,
    );
    let e = f.finish();
    assert_eq!(
        encode(&e, Format::OpenMetrics),
        "# HELP queue_total A gauge with that suffix.\n\
         # TYPE queue_total gauge\n\
         queue_total 2\n\
         # EOF\n"
    );
}

#[test]
fn no_families() {
    let none = Exposition::default();
    assert_eq!(encode(&none, Format::Text), "");
    assert_eq!(encode(&none, Format::OpenMetrics), "# EOF\n");
}

/// Label values escape `\`, `"` and newline as `\\`, `\"` and `\n` in
/// both formats; any other character, UTF-8 beyond ASCII included,
/// passes through as it is.
#[test]
fn label_values_are_escaped() {
    let mut f = Families::new("");
    let value = "say \"hi\" C:\\dir\nnext — grüße 日本 🎧";
    f.push("x", "", MetricType::GAUGE, &[("v", value)], 1.0);
    let sample = "x{v=\"say \\\"hi\\\" C:\\\\dir\\nnext — grüße 日本 🎧\"} 1\n";
    let e = f.finish();
    assert_eq!(
        encode(&e, Format::Text),
        format!("# TYPE x gauge\n{sample}")
    );
    assert_eq!(
        encode(&e, Format::OpenMetrics),
        format!("# TYPE x gauge\n{sample}# EOF\n")
    );
}

/// HELP escapes `\` and newline in text 0.0.4 (a `"` stays as it is
/// there); OpenMetrics HELP is an escaped-string like a label value, so
/// `"` becomes `\"` too.
#[test]
fn help_is_escaped() {
    let mut f = Families::new("");
    let help = "a \"quoted\" C:\\dir\nsecond line, ünïcode";
    f.push("y_total", help, MetricType::COUNTER, &[], 1.0);
    let e = f.finish();
    assert_eq!(
        encode(&e, Format::Text),
        "# HELP y_total a \"quoted\" C:\\\\dir\\nsecond line, ünïcode\n\
         # TYPE y_total counter\n\
         y_total 1\n"
    );
    assert_eq!(
        encode(&e, Format::OpenMetrics),
        "# HELP y a \\\"quoted\\\" C:\\\\dir\\nsecond line, ünïcode\n\
         # TYPE y counter\n\
         y_total 1\n\
         # EOF\n"
    );
}

/// Buckets are cumulative, `le` after the series' labels, a `+Inf`
/// bucket equal to the count, then `_sum` and `_count`; the same in both
/// formats (a histogram keeps its name in OpenMetrics metadata).
#[test]
fn histogram() {
    let mut h = ClassicHistogram::new(INTERACTION_BOUNDS);
    for ms in [200, 700, 1_000, 30_000, 90_050] {
        h.observe(INTERACTION_BOUNDS, ms);
    }
    let mut f = Families::new("support_");
    let labels = [("queue", "billing")];
    f.histogram(
        &["wait", "_seconds"],
        "Wait.",
        INTERACTION_BOUNDS,
        &labels,
        &h,
    );
    let e = f.finish();
    let samples = "# HELP support_wait_seconds Wait.\n\
                   # TYPE support_wait_seconds histogram\n\
                   support_wait_seconds_bucket{queue=\"billing\",le=\"0.5\"} 1\n\
                   support_wait_seconds_bucket{queue=\"billing\",le=\"1\"} 3\n\
                   support_wait_seconds_bucket{queue=\"billing\",le=\"60\"} 4\n\
                   support_wait_seconds_bucket{queue=\"billing\",le=\"+Inf\"} 5\n\
                   support_wait_seconds_sum{queue=\"billing\"} 121.95\n\
                   support_wait_seconds_count{queue=\"billing\"} 5\n";
    assert_eq!(encode(&e, Format::Text), samples);
    assert_eq!(encode(&e, Format::OpenMetrics), format!("{samples}# EOF\n"));
}

/// A histogram with no observation still has every bucket, at 0.
#[test]
fn empty_histogram() {
    let mut f = Families::new("");
    let h = ClassicHistogram::new(&[1.0]);
    f.histogram(&["d_seconds"], "D.", &[1.0], &[], &h);
    let e = f.finish();
    assert_eq!(
        encode(&e, Format::OpenMetrics),
        "# HELP d_seconds D.\n\
         # TYPE d_seconds histogram\n\
         d_seconds_bucket{le=\"1\"} 0\n\
         d_seconds_bucket{le=\"+Inf\"} 0\n\
         d_seconds_sum 0\n\
         d_seconds_count 0\n\
         # EOF\n"
    );
}

/// Quantile samples carry `quantile` after the series' labels, then
/// `_sum` and `_count`; a summary over an empty window has no quantile
/// samples, only `_sum` and `_count` at 0.
#[test]
fn summary() {
    let mut f = Families::new("support_");
    let busy = kpi::Summary {
        count: 10,
        sum_seconds: 1_500.0,
        quantiles: vec![(0.5, 120.0), (0.9, 300.25), (0.99, 600.5)],
    };
    let empty = kpi::Summary {
        count: 0,
        sum_seconds: 0.0,
        quantiles: vec![],
    };
    let help = "Handle time.";
    f.summary(
        &["handle_seconds"],
        help,
        &[("agent", "ann"), ("window", "1h")],
        &busy,
    );
    f.summary(
        &["handle_seconds"],
        help,
        &[("agent", "bob"), ("window", "1h")],
        &empty,
    );
    let e = f.finish();
    let samples = "# HELP support_handle_seconds Handle time.\n\
        # TYPE support_handle_seconds summary\n\
        support_handle_seconds{agent=\"ann\",window=\"1h\",quantile=\"0.5\"} 120\n\
        support_handle_seconds{agent=\"ann\",window=\"1h\",quantile=\"0.9\"} 300.25\n\
        support_handle_seconds{agent=\"ann\",window=\"1h\",quantile=\"0.99\"} 600.5\n\
        support_handle_seconds_sum{agent=\"ann\",window=\"1h\"} 1500\n\
        support_handle_seconds_count{agent=\"ann\",window=\"1h\"} 10\n\
        support_handle_seconds_sum{agent=\"bob\",window=\"1h\"} 0\n\
        support_handle_seconds_count{agent=\"bob\",window=\"1h\"} 0\n";
    assert_eq!(encode(&e, Format::Text), samples);
    assert_eq!(encode(&e, Format::OpenMetrics), format!("{samples}# EOF\n"));
}

/// Families built directly from the protobuf types, not through
/// `Families`: a counter without labels, one with fractional and very
/// large values, in the order given.
#[test]
fn proto_families_in_order() {
    let family = |name: &str, kind, values: &[f64]| {
        let mut family = MetricFamily::default();
        family.set_name(name.to_owned());
        family.set_help("H.".to_owned());
        family.set_field_type(kind);
        for &v in values {
            family.mut_metric().push(scalar(kind, &[], v));
        }
        family
    };
    let families = [
        family("b_total", MetricType::COUNTER, &[0.25]),
        family("a", MetricType::GAUGE, &[-1.5]),
        family("c_bytes_total", MetricType::COUNTER, &[1e15]),
    ];
    assert_eq!(
        encode(
            &Exposition {
                families: families.to_vec(),
                ..Exposition::default()
            },
            Format::OpenMetrics
        ),
        "# HELP b H.\n# TYPE b counter\nb_total 0.25\n\
         # HELP a H.\n# TYPE a gauge\na -1.5\n\
         # HELP c_bytes H.\n# TYPE c_bytes counter\nc_bytes_total 1000000000000000\n\
         # EOF\n"
    );
}

/// What Prometheus 2.42 sends (scrape.go, `scrapeAcceptHeader`) gets
/// OpenMetrics; a text-only or any-type scraper gets text 0.0.4.
#[test]
fn negotiation() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Format::negotiate(prometheus), Format::OpenMetrics);
    assert_eq!(Format::negotiate("text/plain;version=0.0.4"), Format::Text);
    assert_eq!(Format::negotiate("*/*"), Format::Text);
    assert_eq!(Format::negotiate(""), Format::Text);
    assert_eq!(
        Format::OpenMetrics.content_type(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert_eq!(
        Format::Text.content_type(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
}

/// An exemplar follows its counter sample in OpenMetrics only, with the
/// label value escaped as any label value and the instant in seconds;
/// one whose labels exceed OpenMetrics' 128 characters is left out, as
/// it would fail the whole scrape.
#[test]
fn exemplars_in_openmetrics_only() {
    let mut f = Families::new("support_");
    let counter = MetricType::COUNTER;
    let breach = |id: &str| Exemplar {
        label: ("ticket_id", id.to_owned()),
        at_ms: 1_700_000_000_005,
    };
    let long = "x".repeat(128 - "ticket_id".len() + 1);
    for (queue, exemplar) in [
        ("a", Some(breach("T\"1\\"))),
        ("b", None),
        ("c", Some(breach(&long))),
        ("d", Some(breach("T4"))),
    ] {
        let labels = [("queue", queue)];
        f.kpi_with_exemplar(&["breaches_total"], "B.", counter, &labels, 2.0, exemplar);
    }
    let e = f.finish();
    let samples = |exemplars: [&str; 2]| {
        format!(
            "support_breaches_total{{queue=\"a\"}} 2{}\n\
             support_breaches_total{{queue=\"b\"}} 2\n\
             support_breaches_total{{queue=\"c\"}} 2\n\
             support_breaches_total{{queue=\"d\"}} 2{}\n",
            exemplars[0], exemplars[1]
        )
    };
    assert_eq!(
        encode(&e, Format::Text),
        format!(
            "# HELP support_breaches_total B.\n# TYPE support_breaches_total counter\n{}",
            samples(["", ""])
        )
    );
    assert_eq!(
        encode(&e, Format::OpenMetrics),
        format!(
            "# HELP support_breaches B.\n# TYPE support_breaches counter\n{}# EOF\n",
            samples([
                " # {ticket_id=\"T\\\"1\\\\\"} 1 1700000000.005",
                " # {ticket_id=\"T4\"} 1 1700000000.005"
            ])
        )
    );
}
