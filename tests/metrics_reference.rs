//! `docs/metrics.md`, the reference of every exported name, is produced
//! from what the exporter itself writes: a generated support centre under
//! every kind of configuration (SLA policies with calendars, per-queue
//! windows, `today`, a custom ratio) and a live consumer with every part
//! of its own (lag, delay, dead letters, broker, checkpoints). This test
//! fails when the file and the code disagree; to write the file anew:
//! `DESKPULSE_WRITE_DOCS=1 cargo test --test metrics_reference`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use deskpulse::config::Config;
use deskpulse::engine::Engine;
use deskpulse::generate::{Generator, GeneratorConfig};
use prometheus::proto::{MetricFamily, MetricType};

const DOC: &str = "docs/metrics.md";

fn catalogue() -> Vec<MetricFamily> {
    let text = format!(
        "{}\n{}",
        r#"
[metrics]
today = true

[[custom_ratio]]
name = "email_share"
help = "tickets created by email / all tickets created"
numerator = { type = "ticket.created", where = { channel = "email" } }
denominator = { type = "ticket.created" }
"#,
        include_str!("../benches/realistic_sla.toml")
    );
    let config = Config::parse(&text).expect("the catalogue's config is valid");
    let mut engine = Engine::new(&config);
    let generator = Generator::new(GeneratorConfig {
        events_per_sec: 1.0,
        ..GeneratorConfig::default()
    });
    for line in generator.take(40_000) {
        let _ = engine.apply(line.as_bytes(), i64::MAX / 2);
    }
    let snapshot = engine.snapshot(engine.clock_ms().expect("events applied"));
    let live = common::live_consumer_stats();
    deskpulse::export::families(&snapshot, Some(&live), "support_")
}

fn kind(t: MetricType) -> &'static str {
    match t {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::SUMMARY => "summary",
        MetricType::HISTOGRAM => "histogram",
        MetricType::UNTYPED => "untyped",
    }
}

/// The unit a name's suffix states (Prometheus naming conventions); a
/// counter with none counts things, a gauge with none says in its meaning.
fn unit(name: &str, t: MetricType) -> &'static str {
    let name = name.strip_suffix("_total").unwrap_or(name);
    [
        ("_seconds", "seconds"),
        ("_seconds_max", "seconds"),
        ("_bytes", "bytes"),
        ("_ratio", "ratio, 0 to 1"),
        ("_messages", "messages"),
        ("_score", "score"),
    ]
    .iter()
    .filter(|(suffix, _)| name.ends_with(suffix))
    .map(|(_, unit)| *unit)
    .next()
    .unwrap_or(if t == MetricType::COUNTER {
        "count"
    } else {
        ""
    })
}

fn markdown(families: &[MetricFamily]) -> String {
    let mut out = String::from(
        "# Metrics reference\n\n\
         Every family deskpulse exports, as its exporter writes it (produced by\n\
         `tests/metrics_reference.rs`, which fails when this file and the code\n\
         disagree; `DESKPULSE_WRITE_DOCS=1 cargo test --test metrics_reference`\n\
         writes it anew). `support_` is the default `metrics.prefix`. Labels are\n\
         those a family's series carry; histograms add `le`, summaries\n\
         `quantile`, and both `_sum` and `_count` series. The `deskpulse_`\n\
         families of the consumer, the broker and checkpoints exist in live\n\
         mode only. SPEC §5.1 gives the meaning of each KPI; README.md says how\n\
         the windows, live gauges and SLA series behave.\n\n\
         | name | type | labels | unit | meaning |\n|---|---|---|---|---|\n",
    );
    let mut sorted: Vec<&MetricFamily> = families.iter().collect();
    sorted.sort_by(|a, b| a.name().cmp(b.name()));
    for family in sorted {
        let labels: BTreeSet<&str> = family
            .get_metric()
            .iter()
            .flat_map(|m| m.get_label().iter().map(|l| l.name()))
            .filter(|l| *l != "quantile")
            .collect();
        let labels: Vec<String> = labels.iter().map(|l| format!("`{l}`")).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            family.name(),
            kind(family.get_field_type()),
            labels.join(", "),
            unit(family.name(), family.get_field_type()),
            family.help().replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn the_metrics_reference_lists_what_the_code_exports() {
    let expected = markdown(&catalogue());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    if std::env::var_os("DESKPULSE_WRITE_DOCS").is_some() {
        std::fs::write(&path, &expected).expect("docs/metrics.md is written");
        return;
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    let first_difference = expected
        .lines()
        .zip(written.lines())
        .find(|(e, w)| e != w)
        .map(|(e, w)| format!("\n code: {e}\n file: {w}"))
        .unwrap_or_else(|| "\n (one is longer)".into());
    assert!(
        written == expected,
        "{DOC} disagrees with what the code exports; run `DESKPULSE_WRITE_DOCS=1 cargo test --test metrics_reference` and review the change.{first_difference}"
    );
    for family in [
        "support_sla_breaches_total",
        "deskpulse_checkpoint_age_seconds",
        "deskpulse_broker_up",
        "support_custom_email_share",
    ] {
        assert!(
            expected.contains(&format!("| `{family}` |")),
            "the catalogue covers {family}"
        );
    }
}
