//! The rules under deploy/prometheus/ and the wallboard name only metrics
//! deskpulse exports; promtool accepts the rules and passes their unit
//! tests (deploy/prometheus/tests/), which fire every alert and keep it
//! quiet at least once each.

mod common;

use common::prometheus::{alert_names, promtool, read, rule_files, rule_tests, Promtool};
use common::{Stream, MIN, T0};
use deskpulse::config::Config;
use deskpulse::engine::Engine;
use serde_json::json;

/// A small stream that makes every KPI the rules read exist.
const EVENTS: &str = r#"{"event_id":"1","type":"ticket.created","ts":1700000000000,"ticket_id":"t1","queue":"billing"}
{"event_id":"2","type":"interaction.queued","ts":1700000001000,"interaction_id":"i1","queue":"billing"}
{"event_id":"3","type":"interaction.answered","ts":1700000005000,"interaction_id":"i1","agent_id":"ann"}
{"event_id":"4","type":"interaction.queued","ts":1700000006000,"interaction_id":"i2","queue":"billing"}
{"event_id":"5","type":"interaction.abandoned","ts":1700000050000,"interaction_id":"i2"}
{"event_id":"6","type":"interaction.queued","ts":1700000051000,"interaction_id":"i3","queue":"billing"}
{"event_id":"7","type":"ticket.agent_replied","ts":1700000060000,"ticket_id":"t1","agent_id":"ann"}
{"event_id":"8","type":"ticket.resolved","ts":1700000070000,"ticket_id":"t1","agent_id":"ann"}
{"event_id":"9","type":"survey.csat","ts":1700000080000,"ticket_id":"t1","score":5}
{"event_id":"10","type":"ticket.reopened","ts":1700000090000,"ticket_id":"t1"}
{"event_id":"11","type":"interaction.completed","ts":1700000100000,"interaction_id":"i4","queue":"billing","channel":"phone","agent_id":"ann","wait_s":3,"talk_s":60,"hold_s":0,"acw_s":10}
{"event_id":"12","type":"survey.nps","ts":1700000110000,"ticket_id":"t1","score":9}
"#;

/// One SLA policy with every kind, under a calendar open around the clock:
/// with a calendar the clocks also export their counted (business) time.
const SLA_CONFIG: &str = r#"
[[sla.policy]]
name = "standard"
calendar = "always"
[sla.policy.targets]
normal = { first_response = "1h", next_reply = "1h", resolution = "1d" }

[sla.calendar.always]
timezone = "UTC"
hours = { mon = ["00:00-24:00"], tue = ["00:00-24:00"], wed = ["00:00-24:00"], thu = ["00:00-24:00"], fri = ["00:00-24:00"], sat = ["00:00-24:00"], sun = ["00:00-24:00"] }
"#;

/// The SLA families of SPEC §4.5, which a config with a policy exports.
const SLA_FAMILIES: &[&str] = &[
    "support_sla_breaches_total",
    "support_sla_met_total",
    "support_sla_compliance_ratio",
    "support_tickets_sla_breached",
    "support_tickets_sla_at_risk",
    "support_first_response_business_seconds",
    "support_next_reply_business_seconds",
    "support_resolution_business_seconds",
];

/// Under `SLA_CONFIG`: a ticket that meets all three kinds of clock, one
/// whose first response breaches and stays open, and one still at risk at
/// the end (50 min of its 1 h counted, over 0.8 of the target).
fn sla_events() -> Vec<String> {
    let mut s = Stream::new();
    let ticket = |id: &str| json!({"ticket_id": id, "queue": "billing", "channel": "email"});
    let reply = |id: &str| json!({"ticket_id": id, "agent_id": "ann"});
    s.add("ticket.created", T0, ticket("met"));
    s.add("ticket.agent_replied", T0 + 10 * MIN, reply("met"));
    s.add("ticket.customer_replied", T0 + 20 * MIN, ticket("met"));
    s.add("ticket.agent_replied", T0 + 30 * MIN, reply("met"));
    s.add("ticket.resolved", T0 + 40 * MIN, reply("met"));
    s.add("ticket.created", T0 + MIN, ticket("breached"));
    s.add("ticket.created", T0 + 120 * MIN, ticket("at-risk"));
    s.add("ticket.created", T0 + 170 * MIN, ticket("last"));
    s.lines()
}

/// What replay exports for `EVENTS` and for the SLA stream, and what live
/// mode adds of its own.
fn exported_families() -> Vec<String> {
    let mut families = families_of(EVENTS.as_bytes(), None);
    families.extend(families_of(&common::join(&sla_events()), Some(SLA_CONFIG)));
    let live = common::live_consumer_stats();
    let snapshot = Engine::new(&Config::default()).snapshot(0);
    families.extend(
        deskpulse::export::families(&snapshot, Some(&live), "support_")
            .iter()
            .map(|f| f.name().to_owned()),
    );
    families
}

/// The families `deskpulse replay -` exports for `input`, with a config
/// file holding `config` when given.
fn families_of(input: &[u8], config: Option<&str>) -> Vec<String> {
    let run = common::replay_bytes(input, config);
    run.assert_ok();
    run.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// Metric names in a rules file: words starting with one of our prefixes.
/// Names with a colon are the rules' own recorded series.
fn names_in(rules: &str) -> Vec<String> {
    let mut names: Vec<String> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| !w.contains(':'))
        .filter(|w| w.starts_with("support_") || w.starts_with("deskpulse_"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_metric_in_the_alert_rules_is_exported() {
    let families = exported_families();
    // A histogram or summary is queried through its series' suffixes.
    let exported = |name: &String| {
        families.contains(name)
            || ["_bucket", "_count", "_sum"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|family| families.iter().any(|f| f == family))
            })
    };
    for file in rule_files() {
        let names = names_in(&read(&file));
        assert!(
            names.len() >= 2,
            "{} names our metrics: {names:?}",
            file.display()
        );
        let missing: Vec<&String> = names.iter().filter(|n| !exported(n)).collect();
        assert!(
            missing.is_empty(),
            "{} uses metrics deskpulse does not export: {missing:?}",
            file.display()
        );
    }
}

#[test]
fn an_sla_policy_exports_every_sla_family() {
    let families = families_of(&common::join(&sla_events()), Some(SLA_CONFIG));
    let missing: Vec<&&str> = SLA_FAMILIES
        .iter()
        .filter(|n| !families.iter().any(|f| f == *n))
        .collect();
    assert!(
        missing.is_empty(),
        "with an SLA policy, a met and a breach, deskpulse does not export {missing:?}"
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
    // Hours of a generated centre make every windowed KPI exist; the SLA
    // stream, the SLA tiles'.
    let events: String =
        deskpulse::generate::Generator::new(deskpulse::generate::GeneratorConfig {
            events_per_sec: 2.0,
            ..Default::default()
        })
        .take(20_000)
        .map(|line| line + "\n")
        .collect();
    let mut families = families_of(events.as_bytes(), None);
    families.extend(families_of(&common::join(&sla_events()), Some(SLA_CONFIG)));
    let missing: Vec<&String> = names.iter().filter(|n| !families.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "the wallboard reads metrics deskpulse does not export: {missing:?}"
    );
}

/// Runs promtool on every file of `files` at once; panics unless it
/// succeeds and says `ok` once per file.
fn promtool_passes(args: &[&str], files: &[std::path::PathBuf], ok: &str) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(files.iter().map(|f| f.to_str().expect("a UTF-8 path")));
    let Promtool { status, report } = promtool(&all, None);
    let what = args.join(" ");
    assert!(
        status.success(),
        "promtool {what} failed ({status}):\n{report}"
    );
    assert_eq!(
        report.matches(ok).count(),
        files.len(),
        "promtool {what}: {ok} once per file:\n{report}"
    );
}

/// promtool parses every rules file: YAML, PromQL of every expression,
/// templates of annotations.
#[test]
fn promtool_accepts_the_rules() {
    promtool_passes(&["check", "rules"], &rule_files(), "SUCCESS");
}

/// promtool's unit tests of the rules: alerts on given series at given
/// instants, with their labels and annotations, and recorded values.
#[test]
fn promtool_passes_the_rule_unit_tests() {
    promtool_passes(&["test", "rules"], &rule_tests(), "SUCCESS");
}

/// The alert cases of a promtool test file, in order: each `alertname:`
/// and whether its `exp_alerts:` expects the alert to fire (`[]`: not).
fn alert_cases(tests: &str) -> Vec<(String, bool)> {
    let mut cases = Vec::new();
    let mut alert: Option<String> = None;
    let mut lines = tests
        .lines()
        .map(|l| l.trim_start().trim_start_matches("- "))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .peekable();
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_prefix("alertname:") {
            assert!(alert.is_none(), "{alert:?} has no exp_alerts");
            alert = Some(name.trim().to_owned());
        } else if let Some(expected) = line.strip_prefix("exp_alerts:") {
            let name = alert
                .take()
                .unwrap_or_else(|| panic!("exp_alerts before its alertname: {line}"));
            let listed = lines.peek().is_some_and(|next| {
                next.starts_with("exp_labels:") || next.starts_with("exp_annotations:")
            });
            let fires = match expected.trim() {
                "[]" => false,
                "" if listed => true,
                other => panic!("{name}: write exp_alerts as [] or as a list, not {other:?}"),
            };
            cases.push((name, fires));
        }
    }
    assert!(alert.is_none(), "{alert:?} has no exp_alerts");
    cases
}

/// Every alert shipped has a unit test in which it fires and one in which
/// it does not: a new alert without its tests fails here.
#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let cases: Vec<(String, bool)> = rule_tests()
        .iter()
        .flat_map(|file| alert_cases(&read(file)))
        .collect();
    let mut untested = Vec::new();
    let mut alerts = 0;
    for file in rule_files() {
        for alert in alert_names(&read(&file)) {
            alerts += 1;
            for fires in [true, false] {
                if !cases.contains(&(alert.clone(), fires)) {
                    let case = if fires { "fires" } else { "does not fire" };
                    untested.push(format!(
                        "{alert} ({}): no case where it {case}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(alerts >= 16, "the shipped rules hold our alerts: {alerts}");
    assert!(
        untested.is_empty(),
        "alerts without unit tests:\n{}",
        untested.join("\n")
    );
}
