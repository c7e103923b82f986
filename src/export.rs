//! Export: the one place where metric names of SPEC §5.1 are written.
//! A [`Snapshot`] becomes Prometheus metric families, encoded as text.

use std::collections::HashMap;

use prometheus::proto::{self, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::TextEncoder;

use crate::engine::cumulative::{
    ClassicHistogram, InteractionOutcome, TicketCounter, INTERACTION_BUCKETS, TICKET_BUCKETS,
};
use crate::engine::sla::policy::Kind as SlaKind;
use crate::engine::snapshot::Snapshot;
use crate::engine::windows::{Tally, Timer};
use crate::kpi::{self, CustomerCounts, Gauge};
use crate::source::{ConsumerStats, DELAY_BUCKETS};

/// Prefix of the processor's own metrics (the KPI prefix is configurable).
const HEALTH: &str = "deskpulse_";

/// Metric families in the order they were first named.
struct Families {
    prefix: String,
    list: Vec<MetricFamily>,
    index: HashMap<String, usize>,
    /// Reused for KPI names, which are looked up once per series.
    name_buffer: String,
}

impl Families {
    fn new(prefix: &str) -> Families {
        Families {
            prefix: prefix.to_owned(),
            list: Vec::new(),
            index: HashMap::new(),
            name_buffer: String::new(),
        }
    }

    fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut MetricFamily {
        let i = self.family_index(name, help, kind);
        &mut self.list[i]
    }

    /// The family of a KPI metric: the configured prefix, then `parts`.
    fn kpi_family(&mut self, parts: &[&str], help: &str, kind: MetricType) -> &mut MetricFamily {
        let mut name = std::mem::take(&mut self.name_buffer);
        name.clear();
        name.push_str(&self.prefix);
        parts.iter().for_each(|part| name.push_str(part));
        let i = self.family_index(&name, help, kind);
        self.name_buffer = name;
        &mut self.list[i]
    }

    fn family_index(&mut self, name: &str, help: &str, kind: MetricType) -> usize {
        match self.index.get(name) {
            Some(&i) => i,
            None => {
                let mut family = MetricFamily::default();
                family.set_name(name.to_owned());
                family.set_help(help.to_owned());
                family.set_field_type(kind);
                self.list.push(family);
                self.index.insert(name.to_owned(), self.list.len() - 1);
                self.list.len() - 1
            }
        }
    }

    fn push(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let metric = scalar(kind, labels, value);
        self.family(name, help, kind).mut_metric().push(metric);
    }

    /// A KPI series: its name is the configured prefix, then `name`.
    fn kpi(
        &mut self,
        name: &[&str],
        help: &str,
        kind: MetricType,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let metric = scalar(kind, labels, value);
        self.kpi_family(name, help, kind).mut_metric().push(metric);
    }

    fn histogram(
        &mut self,
        name: &[&str],
        help: &str,
        bounds: &[f64],
        labels: &[(&str, &str)],
        h: &ClassicHistogram,
    ) {
        let metric = histogram_metric(bounds, labels, h);
        self.kpi_family(name, help, MetricType::HISTOGRAM)
            .mut_metric()
            .push(metric);
    }

    fn summary(&mut self, name: &[&str], help: &str, labels: &[(&str, &str)], s: &kpi::Summary) {
        let mut ps = proto::Summary::default();
        ps.set_sample_count(s.count);
        ps.set_sample_sum(s.sum_seconds);
        ps.set_quantile(
            s.quantiles
                .iter()
                .map(|&(q, v)| {
                    let mut pq = proto::Quantile::default();
                    pq.set_quantile(q);
                    pq.set_value(v);
                    pq
                })
                .collect(),
        );
        let mut metric = Metric::from_label(label_pairs(labels));
        metric.set_summary(ps);
        self.kpi_family(name, help, MetricType::SUMMARY)
            .mut_metric()
            .push(metric);
    }
}

fn histogram_metric(bounds: &[f64], labels: &[(&str, &str)], h: &ClassicHistogram) -> Metric {
    let mut cumulative = 0;
    let buckets = bounds
        .iter()
        .zip(&h.counts)
        .map(|(&upper, &n)| {
            cumulative += n;
            let mut b = proto::Bucket::default();
            b.set_upper_bound(upper);
            b.set_cumulative_count(cumulative);
            b
        })
        .collect();
    let mut ph = proto::Histogram::default();
    ph.set_bucket(buckets);
    ph.set_sample_count(h.count);
    ph.set_sample_sum(h.sum_ms as f64 / 1000.0);
    let mut metric = Metric::from_label(label_pairs(labels));
    metric.set_histogram(ph);
    metric
}

/// A counter or gauge sample.
fn scalar(kind: MetricType, labels: &[(&str, &str)], value: f64) -> Metric {
    let mut metric = Metric::from_label(label_pairs(labels));
    if kind == MetricType::COUNTER {
        let mut c = proto::Counter::default();
        c.set_value(value);
        metric.set_counter(c);
    } else {
        let mut g = proto::Gauge::default();
        g.set_value(value);
        metric.set_gauge(g);
    }
    metric
}

fn label_pairs(labels: &[(&str, &str)]) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name((*name).to_owned());
            pair.set_value((*value).to_owned());
            pair
        })
        .collect()
}

fn timer_name(timer: Timer) -> (&'static str, &'static str) {
    match timer {
        Timer::FirstResponse => (
            "first_response",
            "first public agent reply minus ticket creation",
        ),
        Timer::NextReply => (
            "next_reply",
            "agent reply minus the earliest unanswered customer reply",
        ),
        Timer::Resolution => ("resolution", "first resolution minus ticket creation"),
        Timer::Handle => (
            "handle",
            "talk plus hold plus after-call work per handled interaction",
        ),
        Timer::AnswerWait => (
            "answer_wait",
            "answer minus queue entry per answered interaction",
        ),
    }
}

fn gauge_name(gauge: Gauge) -> (&'static str, &'static str) {
    match gauge {
        Gauge::Csat => ("csat_ratio", "satisfied CSAT responses / all CSAT responses"),
        Gauge::Nps => ("nps_score", "% promoters - % detractors, -100..100"),
        Gauge::Ces => ("ces_score", "mean customer effort score"),
        Gauge::Iqs => ("iqs_score", "mean internal quality review score"),
        Gauge::FirstContactResolution => (
            "first_contact_resolution_ratio",
            "first resolutions with one public reply and no customer reply after it / first resolutions",
        ),
        Gauge::Resolution => ("resolution_ratio", "resolutions / tickets created"),
        Gauge::Reopen => ("reopen_ratio", "reopens / resolutions"),
        Gauge::ServiceLevel => (
            "service_level_ratio",
            "answered within threshold / (answered + abandoned after threshold)",
        ),
        Gauge::Abandon => ("abandon_ratio", "abandoned / (answered + abandoned)"),
        Gauge::RepeatCustomer => (
            "repeat_customer_ratio",
            "customers with more than one ticket / customers with a ticket",
        ),
        Gauge::TicketsPerCustomer => ("tickets_per_customer", "tickets naming a customer / distinct customers"),
        Gauge::AgentUtilization => ("agent_utilization_ratio", "agent time busy / time not offline"),
        Gauge::Retention => ("retention_ratio", "(active now - signed up in window) / active at window start"),
        Gauge::Churn => ("churn_ratio", "churned in window / active at window start"),
    }
}

fn counter_name(
    counter: TicketCounter,
) -> (
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
) {
    match counter {
        TicketCounter::Created => ("tickets_created_total", "tickets created", None),
        TicketCounter::Resolved => (
            "tickets_resolved_total",
            "ticket resolutions, re-resolutions included",
            None,
        ),
        TicketCounter::Reopened => ("tickets_reopened_total", "tickets reopened", None),
        TicketCounter::FirstContactResolutions => (
            "first_contact_resolutions_total",
            "first resolutions with one public reply and no customer reply after it",
            None,
        ),
        TicketCounter::CsatSatisfied => (
            "csat_responses_total",
            "CSAT responses",
            Some(("satisfied", "true")),
        ),
        TicketCounter::CsatUnsatisfied => (
            "csat_responses_total",
            "CSAT responses",
            Some(("satisfied", "false")),
        ),
        TicketCounter::NpsPromoter => (
            "nps_responses_total",
            "NPS responses",
            Some(("category", "promoter")),
        ),
        TicketCounter::NpsPassive => (
            "nps_responses_total",
            "NPS responses",
            Some(("category", "passive")),
        ),
        TicketCounter::NpsDetractor => (
            "nps_responses_total",
            "NPS responses",
            Some(("category", "detractor")),
        ),
        TicketCounter::SlaMet(kind) => (
            "sla_met_total",
            "SLA clocks stopped within their target",
            Some(("sla", kind.as_str())),
        ),
        TicketCounter::SlaBreached(kind) => (
            "sla_breaches_total",
            "SLA clocks whose deadline passed while they ran",
            Some(("sla", kind.as_str())),
        ),
    }
}

fn outcome_name(outcome: InteractionOutcome) -> &'static str {
    match outcome {
        InteractionOutcome::Answered => "answered",
        InteractionOutcome::Abandoned => "abandoned",
        InteractionOutcome::Blocked => "blocked",
    }
}

/// Renders a snapshot as Prometheus text exposition (format 0.0.4).
pub fn render(snapshot: &Snapshot, prefix: &str) -> String {
    encode(&families(snapshot, None, prefix), Format::Text)
}

/// The metric families of a snapshot, and of the live consumer if any.
pub fn families(
    snapshot: &Snapshot,
    consumer: Option<&ConsumerStats>,
    prefix: &str,
) -> Vec<MetricFamily> {
    let mut f = Families::new(prefix);
    cumulative(&mut f, snapshot);
    windowed(&mut f, snapshot);
    live(&mut f, snapshot);
    health(&mut f, snapshot);
    if let Some(stats) = consumer {
        consumer_health(&mut f, stats);
    }
    f.list
}

/// Exposition formats of `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the scraper's `Accept` header names it, as
    /// Prometheus does when it prefers it; text otherwise.
    pub fn negotiate(accept: &str) -> Format {
        if accept.contains("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

pub fn encode(families: &[MetricFamily], format: Format) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let encoder = TextEncoder::new();
    match format {
        // Encoding only fails for an empty family, which `families` never makes.
        Format::Text => {
            let _ = encoder.encode_utf8(families, &mut out);
        }
        Format::OpenMetrics => {
            // The samples read the same in both formats; the differences are
            // the counter family names (without `_total`) in the metadata
            // lines, and the closing `# EOF`.
            let mut family_text = String::new();
            for family in families {
                family_text.clear();
                let _ = encoder.encode_utf8(std::slice::from_ref(family), &mut family_text);
                let name = family.name();
                let meta_name = match family.get_field_type() {
                    MetricType::COUNTER => name.strip_suffix("_total").unwrap_or(name),
                    _ => name,
                };
                for line in family_text.lines() {
                    match line
                        .strip_prefix("# HELP ")
                        .map(|rest| ("# HELP ", rest))
                        .or_else(|| line.strip_prefix("# TYPE ").map(|rest| ("# TYPE ", rest)))
                    {
                        Some((tag, rest)) => {
                            out.push_str(tag);
                            out.push_str(meta_name);
                            let rest = rest.strip_prefix(name).unwrap_or(rest);
                            // OpenMetrics HELP is an escaped-string, like a
                            // label value: `"` is escaped there too (the
                            // text encoder has escaped `\` and newline).
                            if tag == "# HELP " && rest.contains('"') {
                                out.push_str(&rest.replace('"', "\\\""));
                            } else {
                                out.push_str(rest);
                            }
                        }
                        None => out.push_str(line),
                    }
                    out.push('\n');
                }
            }
            out.push_str("# EOF\n");
        }
    }
    out
}

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

fn cumulative(f: &mut Families, s: &Snapshot) {
    use MetricType::COUNTER;
    let c = &s.cumulative;
    for ((counter, (channel, priority, queue)), &n) in &c.tickets {
        let (name, help, extra) = counter_name(*counter);
        let mut labels = Vec::with_capacity(4);
        labels.extend(extra);
        labels.extend([
            ("channel", channel.as_str()),
            ("priority", priority.as_str()),
            ("queue", queue.as_str()),
        ]);
        f.kpi(&[name], help, COUNTER, &labels, n as f64);
    }
    for ((outcome, (queue, channel)), &n) in &c.interactions {
        let labels = [
            ("outcome", outcome_name(*outcome)),
            ("queue", queue.as_str()),
            ("channel", channel.as_str()),
        ];
        f.kpi(
            &["interactions_total"],
            "interactions by outcome",
            COUNTER,
            &labels,
            n as f64,
        );
    }
    for (agent, &n) in &c.agent_resolutions {
        f.kpi(
            &["agent_resolutions_total"],
            "ticket resolutions by agent",
            COUNTER,
            &[("agent", agent)],
            n as f64,
        );
    }
    for ((timer, (channel, priority, queue)), h) in &c.ticket_timers {
        let (name, help) = timer_name(*timer);
        let labels = [
            ("channel", channel.as_str()),
            ("priority", priority.as_str()),
            ("queue", queue.as_str()),
        ];
        f.histogram(&[name, "_seconds"], help, TICKET_BUCKETS, &labels, h);
    }
    for ((kind, (channel, priority, queue)), h) in &c.business_timers {
        let labels = [
            ("channel", channel.as_str()),
            ("priority", priority.as_str()),
            ("queue", queue.as_str()),
        ];
        let help = "business time an SLA clock counted, pauses excluded, when it stopped with a verdict under a calendar";
        f.histogram(
            &[kind.as_str(), "_business_seconds"],
            help,
            TICKET_BUCKETS,
            &labels,
            h,
        );
    }
    for ((timer, (queue, channel)), h) in &c.interaction_timers {
        let (name, help) = timer_name(*timer);
        let labels = [("queue", queue.as_str()), ("channel", channel.as_str())];
        f.histogram(&[name, "_seconds"], help, INTERACTION_BUCKETS, &labels, h);
    }
}

/// Which KPIs a windowed scope exports.
#[derive(Clone, Copy, PartialEq)]
enum Scope<'a> {
    Centre,
    Queue(&'a str),
    Agent(&'a str),
}

fn windowed(f: &mut Families, s: &Snapshot) {
    let scopes = std::iter::once((Scope::Centre, &s.centre))
        .chain(s.queues.iter().map(|(q, t)| (Scope::Queue(q), t)))
        .chain(s.agents.iter().map(|(a, t)| (Scope::Agent(a), t)));
    for (scope, tallies) in scopes {
        for (window, tally) in s.window_names.iter().zip(tallies) {
            window_series(f, s, scope, window, tally);
        }
    }
    for (window, by_category) in s.window_names.iter().zip(&s.outcomes) {
        for (category, o) in by_category {
            if let Some(v) = kpi::outcome_success(o) {
                let labels = [("category", category.as_str()), ("window", window.as_str())];
                let help = "resolutions with outcome success / resolutions with an outcome";
                f.kpi(
                    &["outcome_success_ratio"],
                    help,
                    MetricType::GAUGE,
                    &labels,
                    v,
                );
            }
        }
    }
}

fn window_series(f: &mut Families, s: &Snapshot, scope: Scope, window: &str, tally: &Tally) {
    let mut labels: Vec<(&str, &str)> = Vec::with_capacity(2);
    match scope {
        Scope::Centre => {}
        Scope::Queue(q) => labels.push(("queue", q)),
        Scope::Agent(a) => labels.push(("agent", a)),
    }
    labels.push(("window", window));

    if let Scope::Agent(_) = scope {
        let summary = kpi::summary(tally.timer(Timer::Handle));
        f.summary(
            &["agent_handle_window_seconds"],
            "handle time by agent over the window",
            &labels,
            &summary,
        );
        let none = CustomerCounts::default();
        for gauge in Gauge::PER_AGENT {
            if let Some(v) = kpi::gauge(gauge, tally, &none, 0) {
                let (name, help) = gauge_name(gauge);
                let help = format!("{help}, by agent");
                f.kpi(&["agent_", name], &help, MetricType::GAUGE, &labels, v);
            }
        }
        return;
    }

    for timer in Timer::ALL {
        let (name, help) = timer_name(timer);
        let summary = kpi::summary(tally.timer(timer));
        f.summary(&[name, "_window_seconds"], help, &labels, &summary);
    }
    let customers = CustomerCounts::of(tally);
    let gauges: &[Gauge] = if scope == Scope::Centre {
        &Gauge::CENTRE
    } else {
        &Gauge::PER_QUEUE
    };
    for &gauge in gauges {
        if let Some(v) = kpi::gauge(gauge, tally, &customers, s.active_customers) {
            let (name, help) = gauge_name(gauge);
            f.kpi(&[name], help, MetricType::GAUGE, &labels, v);
        }
    }
    for kind in SlaKind::ALL {
        if let Some(v) = kpi::sla_compliance(tally, kind) {
            let mut labels = labels.clone();
            labels.insert(0, ("sla", kind.as_str()));
            let help = "SLA clocks met / (met + breached) in the window";
            f.kpi(
                &["sla_compliance_ratio"],
                help,
                MetricType::GAUGE,
                &labels,
                v,
            );
        }
    }
    if scope == Scope::Centre {
        for (i, name) in s.custom_names.iter().enumerate() {
            if let Some(v) = kpi::custom(tally, i) {
                f.kpi(
                    &["custom_", name],
                    "custom ratio from the config",
                    MetricType::GAUGE,
                    &labels,
                    v,
                );
            }
        }
    }
}

fn live(f: &mut Families, s: &Snapshot) {
    use crate::decode::{AgentStatus, Priority, TicketStatus};
    use MetricType::GAUGE;
    let l = &s.live;
    let age = |since: Option<&i64>| since.map_or(0.0, |&t| (s.now_ms - t).max(0) as f64 / 1000.0);
    for queue in &l.queues {
        for priority in Priority::ALL {
            for status in TicketStatus::ALL {
                let n = l
                    .tickets_open
                    .get(&(queue.clone(), priority, status))
                    .copied()
                    .unwrap_or(0);
                let labels = [
                    ("queue", queue.as_str()),
                    ("priority", priority.as_str()),
                    ("status", status.as_str()),
                ];
                f.kpi(
                    &["tickets_open"],
                    "tickets neither resolved nor closed",
                    GAUGE,
                    &labels,
                    n as f64,
                );
            }
        }
    }
    for queue in &l.queues {
        let labels = [("queue", queue.as_str())];
        let oldest_open = age(l.oldest_open_ms.get(queue));
        f.kpi(
            &["oldest_open_ticket_age_seconds"],
            "age of the oldest open ticket",
            GAUGE,
            &labels,
            oldest_open,
        );
        let unanswered = age(l.oldest_unanswered_ms.get(queue));
        let help = "age of the oldest open ticket without an agent reply";
        f.kpi(
            &["oldest_unanswered_ticket_age_seconds"],
            help,
            GAUGE,
            &labels,
            unanswered,
        );
        let waiting = l.waiting.get(queue).copied().unwrap_or(0) as f64;
        f.kpi(
            &["interactions_waiting"],
            "interactions queued and not answered",
            GAUGE,
            &labels,
            waiting,
        );
        let longest = age(l.longest_waiting_since_ms.get(queue));
        f.kpi(
            &["longest_wait_seconds"],
            "wait of the longest-waiting interaction",
            GAUGE,
            &labels,
            longest,
        );
    }
    for (gauge, map, help) in [
        (
            "tickets_sla_breached",
            &l.sla_breached,
            "open tickets whose SLA clock of this kind breached and still runs",
        ),
        (
            "tickets_sla_at_risk",
            &l.sla_at_risk,
            "open tickets whose running SLA clock of this kind is at risk",
        ),
    ] {
        for &kind in &l.sla_kinds {
            for queue in &l.queues {
                let n = map.get(&(kind, queue.clone())).copied().unwrap_or(0);
                let labels = [("sla", kind.as_str()), ("queue", queue.as_str())];
                f.kpi(&[gauge], help, GAUGE, &labels, n as f64);
            }
        }
    }
    for status in AgentStatus::ALL {
        let n = l.agents.get(&status).copied().unwrap_or(0) as f64;
        f.kpi(
            &["agents"],
            "agents by current status",
            GAUGE,
            &[("status", status.as_str())],
            n,
        );
    }
}

fn health(f: &mut Families, s: &Snapshot) {
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
/// from event to applied, readiness, dead letters.
fn consumer_health(f: &mut Families, c: &ConsumerStats) {
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
        "1 once every assigned partition has been read to its end",
        GAUGE,
        &[],
        if c.ready { 1.0 } else { 0.0 },
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
}

#[cfg(test)]
mod tests {
    //! The two encoders on small hand-built families. Every expected string
    //! is written by hand from the format specs: Prometheus text 0.0.4
    //! (`prometheus/docs/instrumenting/exposition_formats.md`) and
    //! OpenMetrics 1.0 (`OpenMetrics/specification/OpenMetrics.md`).
    use super::*;

    const INTERACTION_BOUNDS: &[f64] = &[0.5, 1.0, 60.0];

    /// A counter with two labelled series and a gauge without labels.
    fn counter_and_gauge() -> Vec<MetricFamily> {
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
        f.list
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
        assert_eq!(
            encode(&f.list, Format::OpenMetrics),
            "# HELP queue_total A gauge with that suffix.\n\
             # TYPE queue_total gauge\n\
             queue_total 2\n\
             # EOF\n"
        );
    }

    #[test]
    fn no_families() {
        assert_eq!(encode(&[], Format::Text), "");
        assert_eq!(encode(&[], Format::OpenMetrics), "# EOF\n");
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
        assert_eq!(
            encode(&f.list, Format::Text),
            format!("# TYPE x gauge\n{sample}")
        );
        assert_eq!(
            encode(&f.list, Format::OpenMetrics),
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
        assert_eq!(
            encode(&f.list, Format::Text),
            "# HELP y_total a \"quoted\" C:\\\\dir\\nsecond line, ünïcode\n\
             # TYPE y_total counter\n\
             y_total 1\n"
        );
        assert_eq!(
            encode(&f.list, Format::OpenMetrics),
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
        let samples = "# HELP support_wait_seconds Wait.\n\
                       # TYPE support_wait_seconds histogram\n\
                       support_wait_seconds_bucket{queue=\"billing\",le=\"0.5\"} 1\n\
                       support_wait_seconds_bucket{queue=\"billing\",le=\"1\"} 3\n\
                       support_wait_seconds_bucket{queue=\"billing\",le=\"60\"} 4\n\
                       support_wait_seconds_bucket{queue=\"billing\",le=\"+Inf\"} 5\n\
                       support_wait_seconds_sum{queue=\"billing\"} 121.95\n\
                       support_wait_seconds_count{queue=\"billing\"} 5\n";
        assert_eq!(encode(&f.list, Format::Text), samples);
        assert_eq!(
            encode(&f.list, Format::OpenMetrics),
            format!("{samples}# EOF\n")
        );
    }

    /// A histogram with no observation still has every bucket, at 0.
    #[test]
    fn empty_histogram() {
        let mut f = Families::new("");
        let h = ClassicHistogram::new(&[1.0]);
        f.histogram(&["d_seconds"], "D.", &[1.0], &[], &h);
        assert_eq!(
            encode(&f.list, Format::OpenMetrics),
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
        let samples = "# HELP support_handle_seconds Handle time.\n\
            # TYPE support_handle_seconds summary\n\
            support_handle_seconds{agent=\"ann\",window=\"1h\",quantile=\"0.5\"} 120\n\
            support_handle_seconds{agent=\"ann\",window=\"1h\",quantile=\"0.9\"} 300.25\n\
            support_handle_seconds{agent=\"ann\",window=\"1h\",quantile=\"0.99\"} 600.5\n\
            support_handle_seconds_sum{agent=\"ann\",window=\"1h\"} 1500\n\
            support_handle_seconds_count{agent=\"ann\",window=\"1h\"} 10\n\
            support_handle_seconds_sum{agent=\"bob\",window=\"1h\"} 0\n\
            support_handle_seconds_count{agent=\"bob\",window=\"1h\"} 0\n";
        assert_eq!(encode(&f.list, Format::Text), samples);
        assert_eq!(
            encode(&f.list, Format::OpenMetrics),
            format!("{samples}# EOF\n")
        );
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
            encode(&families, Format::OpenMetrics),
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
}
