//! The alert rules under deploy/ and the wallboard name only metrics
//! deskpulse exports.

use std::io::Write;
use std::process::{Command, Stdio};

use deskpulse::config::Config;
use deskpulse::engine::cumulative::ClassicHistogram;
use deskpulse::engine::Engine;
use deskpulse::source::{ConsumerStats, PartitionStats, DELAY_BUCKETS};

/// A small stream that makes every KPI the rules read exist.
const EVENTS: &str = r#"{"event_id":"1","type":"ticket.created","ts":1700000000000,"ticket_id":"t1","queue":"billing"}
{"event_id":"2","type":"interaction.queued","ts":1700000001000,"interaction_id":"i1","queue":"billing"}
{"event_id":"3","type":"interaction.answered","ts":1700000005000,"interaction_id":"i1","agent_id":"ann"}
{"event_id":"4","type":"interaction.queued","ts":1700000006000,"interaction_id":"i2","queue":"billing"}
{"event_id":"5","type":"interaction.abandoned","ts":1700000050000,"interaction_id":"i2"}
{"event_id":"6","type":"interaction.queued","ts":1700000051000,"interaction_id":"i3","queue":"billing"}
"#;

/// What replay exports for `EVENTS`, and what live mode adds of its own.
fn exported_families() -> Vec<String> {
    let mut families = families_of(EVENTS);
    let live = ConsumerStats {
        partitions: vec![PartitionStats {
            topic: "support-events".into(),
            partition: 0,
            lag: Some(0),
        }],
        delay: Some(ClassicHistogram::new(DELAY_BUCKETS)),
        ..ConsumerStats::default()
    };
    let snapshot = Engine::new(&Config::default()).snapshot(0);
    families.extend(
        deskpulse::export::families(&snapshot, Some(&live), "support_")
            .iter()
            .map(|f| f.name().to_owned()),
    );
    families
}

/// The families `deskpulse replay` exports for `events`.
fn families_of(events: &str) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["replay", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("deskpulse starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(events.as_bytes())
        .expect("events are written");
    let out = child.wait_with_output().expect("deskpulse finishes");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("exposition is UTF-8")
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// Metric names in a rules file: words starting with one of our prefixes.
fn names_in(rules: &str) -> Vec<String> {
    let mut names: Vec<String> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("support_") || w.starts_with("deskpulse_"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_metric_in_the_alert_rules_is_exported() {
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus/alerts.yml"
    ))
    .expect("deploy/prometheus/alerts.yml exists");
    let names = names_in(&rules);
    assert!(names.len() >= 5, "the rules name our metrics: {names:?}");
    let families = exported_families();
    // A histogram or summary is queried through its series' suffixes.
    let exported = |name: &String| {
        families.contains(name)
            || ["_bucket", "_count", "_sum"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|family| families.iter().any(|f| f == family))
            })
    };
    let missing: Vec<&String> = names.iter().filter(|n| !exported(n)).collect();
    assert!(
        missing.is_empty(),
        "rules use metrics deskpulse does not export: {missing:?}"
    );
}

#[test]
fn every_metric_the_wallboard_reads_is_exported() {
    let page = include_str!("../src/serve/wallboard.html");
    let list = page
        .split_once("const FAMILIES = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("the page lists its families in const FAMILIES")
        .0;
    let names: Vec<String> = list
        .split(',')
        .map(|n| n.trim().trim_matches('"'))
        .filter(|n| !n.is_empty())
        .map(|n| format!("support_{n}"))
        .collect();
    assert!(
        names.len() >= 8,
        "the page reads the KPIs of its tiles: {names:?}"
    );
    // Hours of a generated centre make every windowed KPI exist.
    let events: String =
        deskpulse::generate::Generator::new(deskpulse::generate::GeneratorConfig {
            events_per_sec: 2.0,
            ..Default::default()
        })
        .take(20_000)
        .map(|line| line + "\n")
        .collect();
    let families = families_of(&events);
    let missing: Vec<&String> = names.iter().filter(|n| !families.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "the wallboard reads metrics deskpulse does not export: {missing:?}"
    );
}

/// promtool (from the prometheus package `tests/with-broker` installs)
/// parses the rules file: YAML, PromQL of every expression, templates of
/// annotations. It fails, never skips, without promtool.
#[test]
fn promtool_accepts_the_alert_rules() {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus/alerts.yml");
    let out = Command::new("promtool")
        .args(["check", "rules", rules])
        .output()
        .expect(
            "promtool is not on PATH: run the tests as `tests/with-broker cargo test`, \
             which installs Debian's prometheus package",
        );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check rules failed ({}):\n{report}",
        out.status
    );
    assert!(
        report.contains("SUCCESS"),
        "promtool check rules:\n{report}"
    );
}
