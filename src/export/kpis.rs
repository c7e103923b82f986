//! The KPI series of SPEC §5.1 from a snapshot: cumulative counters and
//! histograms, windowed summaries and ratios, live gauges.

use prometheus::proto::MetricType;

use super::families::{Exemplar, Families};
use super::names::{counter_name, gauge_name, outcome_name, timer_name};
use crate::engine::cumulative::{TicketCounter, INTERACTION_BUCKETS, TICKET_BUCKETS};
use crate::engine::sla::policy::Kind as SlaKind;
use crate::engine::snapshot::Snapshot;
use crate::engine::windows::{Tally, Timer};
use crate::kpi::{self, CustomerCounts, Gauge};

pub(super) fn cumulative(f: &mut Families, s: &Snapshot) {
    use MetricType::COUNTER;
    let c = &s.cumulative;
    for ((counter, series), &n) in &c.tickets {
        let (channel, priority, queue) = series;
        let (name, help, extra) = counter_name(*counter);
        let mut labels = Vec::with_capacity(4);
        labels.extend(extra);
        labels.extend([
            ("channel", channel.as_str()),
            ("priority", priority.as_str()),
            ("queue", queue.as_str()),
        ]);
        // A breach counter names its latest breach (SPEC §4.5).
        let exemplar = match counter {
            TicketCounter::SlaBreached(kind) => c
                .breach_exemplars
                .get(&(*kind, series.clone()))
                .map(|(ticket, at_ms)| Exemplar {
                    label: ("ticket_id", ticket.clone()),
                    at_ms: *at_ms,
                }),
            _ => None,
        };
        f.kpi_with_exemplar(&[name], help, COUNTER, &labels, n as f64, exemplar);
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

pub(super) fn windowed(f: &mut Families, s: &Snapshot) {
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

pub(super) fn live(f: &mut Families, s: &Snapshot) {
    use crate::decode::{AgentStatus, Priority, TicketStatus};
    use MetricType::GAUGE;
    let l = &s.live;
    let age = |since: Option<&i64>| {
        since.map_or(0.0, |&t| s.now_ms.saturating_sub(t).max(0) as f64 / 1000.0)
    };
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
