//! Building metric families: the family of each name in the order it
//! was first named, and one series at a time into it.

use std::collections::HashMap;

use prometheus::proto::{self, LabelPair, Metric, MetricFamily, MetricType};

use crate::engine::cumulative::ClassicHistogram;
use crate::kpi;

/// Prefix of the processor's own metrics (the KPI prefix is configurable).
pub(super) const HEALTH: &str = "deskpulse_";

/// An exemplar of a counter sample, written in OpenMetrics only: one
/// label naming what made the counter grow (a ticket), and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemplar {
    pub label: (&'static str, String),
    pub at_ms: i64,
}

/// What `/metrics` encodes: the families, and the exemplars of some of
/// their counter samples, by family and sample index. The `prometheus`
/// crate's families have no place for exemplars, so they are kept here.
#[derive(Debug, Default)]
pub struct Exposition {
    pub families: Vec<MetricFamily>,
    pub(super) exemplars: HashMap<(usize, usize), Exemplar>,
}

/// Metric families in the order they were first named.
pub(super) struct Families {
    prefix: String,
    list: Vec<MetricFamily>,
    exemplars: HashMap<(usize, usize), Exemplar>,
    index: HashMap<String, usize>,
    /// Reused for KPI names, which are looked up once per series.
    name_buffer: String,
}

impl Families {
    pub(super) fn new(prefix: &str) -> Families {
        Families {
            prefix: prefix.to_owned(),
            list: Vec::new(),
            exemplars: HashMap::new(),
            index: HashMap::new(),
            name_buffer: String::new(),
        }
    }

    pub(super) fn finish(self) -> Exposition {
        Exposition {
            families: self.list,
            exemplars: self.exemplars,
        }
    }

    pub(super) fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut MetricFamily {
        let i = self.family_index(name, help, kind);
        &mut self.list[i]
    }

    /// The family of a KPI metric: the configured prefix, then `parts`.
    pub(super) fn kpi_family(
        &mut self,
        parts: &[&str],
        help: &str,
        kind: MetricType,
    ) -> &mut MetricFamily {
        let i = self.kpi_family_index(parts, help, kind);
        &mut self.list[i]
    }

    fn kpi_family_index(&mut self, parts: &[&str], help: &str, kind: MetricType) -> usize {
        let mut name = std::mem::take(&mut self.name_buffer);
        name.clear();
        name.push_str(&self.prefix);
        parts.iter().for_each(|part| name.push_str(part));
        let i = self.family_index(&name, help, kind);
        self.name_buffer = name;
        i
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

    pub(super) fn push(
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
    pub(super) fn kpi(
        &mut self,
        name: &[&str],
        help: &str,
        kind: MetricType,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.kpi_with_exemplar(name, help, kind, labels, value, None);
    }

    pub(super) fn kpi_with_exemplar(
        &mut self,
        name: &[&str],
        help: &str,
        kind: MetricType,
        labels: &[(&str, &str)],
        value: f64,
        exemplar: Option<Exemplar>,
    ) {
        let metric = scalar(kind, labels, value);
        let family = self.kpi_family_index(name, help, kind);
        let metrics = self.list[family].mut_metric();
        metrics.push(metric);
        if let Some(exemplar) = exemplar {
            // Only counters: their samples are one line per metric, which
            // is how the OpenMetrics encoder finds the exemplar's line.
            debug_assert_eq!(kind, MetricType::COUNTER);
            self.exemplars.insert((family, metrics.len() - 1), exemplar);
        }
    }

    pub(super) fn histogram(
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

    pub(super) fn summary(
        &mut self,
        name: &[&str],
        help: &str,
        labels: &[(&str, &str)],
        s: &kpi::Summary,
    ) {
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

pub(super) fn histogram_metric(
    bounds: &[f64],
    labels: &[(&str, &str)],
    h: &ClassicHistogram,
) -> Metric {
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
pub(super) fn scalar(kind: MetricType, labels: &[(&str, &str)], value: f64) -> Metric {
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
