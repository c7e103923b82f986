//! KPI formulas (SPEC §2, §7): the one place where a windowed KPI is
//! computed from what a window counted.

use hdrhistogram::Histogram;

use crate::engine::windows::{Count, SparseHistogram, Tally};

/// Quantiles exported for every windowed duration summary.
pub const QUANTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];

/// The windowed gauges that are ratios or means of a window's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gauge {
    Csat,
    Nps,
    Ces,
    Iqs,
    FirstContactResolution,
    Resolution,
    Reopen,
    ServiceLevel,
    Abandon,
    RepeatCustomer,
    TicketsPerCustomer,
    AgentUtilization,
    Retention,
    Churn,
}

impl Gauge {
    /// Gauges of the whole centre.
    pub const CENTRE: [Gauge; 14] = [
        Gauge::Csat,
        Gauge::Nps,
        Gauge::Ces,
        Gauge::Iqs,
        Gauge::FirstContactResolution,
        Gauge::Resolution,
        Gauge::Reopen,
        Gauge::ServiceLevel,
        Gauge::Abandon,
        Gauge::RepeatCustomer,
        Gauge::TicketsPerCustomer,
        Gauge::AgentUtilization,
        Gauge::Retention,
        Gauge::Churn,
    ];
    /// Gauges that also exist per queue: those whose events carry a queue.
    pub const PER_QUEUE: [Gauge; 11] = [
        Gauge::Csat,
        Gauge::Nps,
        Gauge::Ces,
        Gauge::Iqs,
        Gauge::FirstContactResolution,
        Gauge::Resolution,
        Gauge::Reopen,
        Gauge::ServiceLevel,
        Gauge::Abandon,
        Gauge::RepeatCustomer,
        Gauge::TicketsPerCustomer,
    ];
}

/// Distinct customers among the tickets created in a window (§7.8).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CustomerCounts {
    /// Tickets created that name a customer.
    pub tickets: u64,
    pub distinct: u64,
    /// Customers with more than one such ticket.
    pub repeat: u64,
}

impl CustomerCounts {
    pub fn of(tally: &Tally) -> CustomerCounts {
        let mut ids = tally.customers.clone();
        ids.sort_unstable();
        let mut counts = CustomerCounts {
            tickets: ids.len() as u64,
            ..CustomerCounts::default()
        };
        for run in ids.chunk_by(|a, b| a == b) {
            counts.distinct += 1;
            counts.repeat += (run.len() > 1) as u64;
        }
        counts
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// The value of `gauge` over a window; `None` when its denominator is
/// empty, so that no series is exported (§5.1).
/// `active_customers` is E of §7.9, customers signed up and not churned now.
pub fn gauge(
    gauge: Gauge,
    t: &Tally,
    customers: &CustomerCounts,
    active_customers: u64,
) -> Option<f64> {
    let n = |c: Count| t.get(c);
    match gauge {
        Gauge::Csat => ratio(n(Count::CsatSatisfied), n(Count::CsatResponses)),
        Gauge::Nps => {
            let total = n(Count::NpsPromoters) + n(Count::NpsPassives) + n(Count::NpsDetractors);
            let promoters = ratio(n(Count::NpsPromoters), total)?;
            let detractors = ratio(n(Count::NpsDetractors), total)?;
            Some(100.0 * (promoters - detractors))
        }
        Gauge::Ces => ratio(n(Count::CesSum), n(Count::CesResponses)),
        Gauge::Iqs => ratio(n(Count::IqsSum), n(Count::IqsReviews)),
        Gauge::FirstContactResolution => ratio(
            n(Count::FirstContactResolutions),
            n(Count::FirstResolutions),
        ),
        Gauge::Resolution => ratio(n(Count::Resolved), n(Count::Created)),
        Gauge::Reopen => ratio(n(Count::Reopened), n(Count::Resolved)),
        Gauge::ServiceLevel => ratio(
            n(Count::AnsweredInTime),
            n(Count::Answered) + n(Count::AbandonedLate),
        ),
        Gauge::Abandon => ratio(
            n(Count::Abandoned),
            n(Count::Answered) + n(Count::Abandoned),
        ),
        Gauge::RepeatCustomer => ratio(customers.repeat, customers.distinct),
        Gauge::TicketsPerCustomer => ratio(customers.tickets, customers.distinct),
        Gauge::AgentUtilization => ratio(n(Count::BusyMs), n(Count::OnlineMs)),
        Gauge::Retention | Gauge::Churn => {
            // S = E − N + C: active at the window's start (§7.9).
            let (signups, churns) = (n(Count::SignUps), n(Count::Churns));
            let at_start = (active_customers + churns)
                .checked_sub(signups)
                .unwrap_or(0);
            if gauge == Gauge::Retention {
                ratio(active_customers.saturating_sub(signups), at_start)
            } else {
                ratio(churns, at_start)
            }
        }
    }
}

/// Custom ratio `index` of the config over a window.
pub fn custom(t: &Tally, index: usize) -> Option<f64> {
    let [numerator, denominator] = t.custom.get(index).copied().unwrap_or_default();
    (denominator != 0.0).then(|| numerator / denominator)
}

/// A windowed duration summary, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub sum_seconds: f64,
    /// (quantile, seconds); empty when the window holds no value.
    pub quantiles: Vec<(f64, f64)>,
}

/// Builds summaries, reusing one dense HDR histogram for the quantiles.
pub struct Summarizer {
    scratch: Histogram<u64>,
}

impl Default for Summarizer {
    fn default() -> Self {
        // Auto-resizing, 3 significant digits, as SPEC §3 asks.
        let mut scratch = Histogram::new(3).expect("3 significant digits is a valid precision");
        scratch.auto(true);
        Summarizer { scratch }
    }
}

impl Summarizer {
    pub fn summary(&mut self, h: &SparseHistogram) -> Summary {
        self.scratch.reset();
        for &(key, n) in h.buckets() {
            // Keys are bucket lows, so recording them lands in the same
            // buckets as the raw values did; auto-resize cannot fail here.
            let _ = self.scratch.record_n(key, n);
        }
        let quantiles = if h.count() == 0 {
            Vec::new()
        } else {
            QUANTILES
                .iter()
                .map(|&q| (q, self.scratch.value_at_quantile(q) as f64 / 1000.0))
                .collect()
        };
        Summary {
            count: h.count(),
            sum_seconds: h.sum_ms() as f64 / 1000.0,
            quantiles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nps_worked_example() {
        let mut t = Tally::default();
        t.add(Count::NpsPromoters, 60);
        t.add(Count::NpsPassives, 20);
        t.add(Count::NpsDetractors, 20);
        assert_eq!(
            gauge(Gauge::Nps, &t, &CustomerCounts::default(), 0),
            Some(40.0)
        );
    }

    #[test]
    fn retention_worked_example() {
        // E 480, N 200, S 500 → C = S − E + N = 220.
        let mut t = Tally::default();
        t.add(Count::SignUps, 200);
        t.add(Count::Churns, 220);
        assert_eq!(
            gauge(Gauge::Retention, &t, &CustomerCounts::default(), 480),
            Some(0.56)
        );
        assert_eq!(
            gauge(Gauge::Churn, &t, &CustomerCounts::default(), 480),
            Some(0.44)
        );
    }

    #[test]
    fn empty_denominator_gives_no_value() {
        let t = Tally::default();
        for g in Gauge::CENTRE {
            assert_eq!(gauge(g, &t, &CustomerCounts::default(), 0), None, "{g:?}");
        }
    }

    #[test]
    fn quantiles_match_hdr_over_raw_values() {
        let mut sparse = SparseHistogram::default();
        let mut dense = Histogram::<u64>::new(3).unwrap();
        for v in (0..5000u64).map(|i| i * i % 100_003 + i * 37) {
            sparse.record(v);
            dense.record(v).unwrap();
        }
        let s = Summarizer::default().summary(&sparse);
        for (q, seconds) in s.quantiles {
            assert_eq!(seconds, dense.value_at_quantile(q) as f64 / 1000.0);
        }
    }
}
