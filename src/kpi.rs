//! KPI formulas (SPEC §2, §7): the one place where a windowed KPI is
//! computed from what a window counted.

use crate::engine::cow::FlatIdMap;
use crate::engine::sla::policy::Kind as SlaKind;
use crate::engine::windows::{hdr_layout, Count, OutcomeTally, SparseHistogram, Tally};

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
    /// Gauges that also exist per agent: those whose events name one
    /// (the README's agent rules).
    pub const PER_AGENT: [Gauge; 2] = [Gauge::Csat, Gauge::Iqs];
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
        // The ids are hashes already: counting them in a map is cheaper
        // than sorting them.
        let mut tickets: FlatIdMap<u64> = FlatIdMap::default();
        tickets.reserve(tally.customers.len());
        for &id in tally.customers.iter() {
            *tickets.entry(id).or_default() += 1;
        }
        CustomerCounts {
            tickets: tally.customers.len() as u64,
            distinct: tickets.len() as u64,
            repeat: tickets.values().filter(|&&n| n > 1).count() as u64,
        }
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
            let at_start = (active_customers + churns).saturating_sub(signups);
            if gauge == Gauge::Retention {
                ratio(active_customers.saturating_sub(signups), at_start)
            } else {
                ratio(churns, at_start)
            }
        }
    }
}

/// Share of resolutions with an outcome that succeeded, per category.
pub fn outcome_success(o: &OutcomeTally) -> Option<f64> {
    ratio(o.success, o.total)
}

/// SLA compliance of `kind` over a window: met ÷ (met + breached), as
/// SPEC §4.4 places them; `None` when both are 0.
pub fn sla_compliance(t: &Tally, kind: SlaKind) -> Option<f64> {
    let met = t.get(Count::sla(kind, true));
    ratio(met, met + t.get(Count::sla(kind, false)))
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

/// The summary of a window's durations, in one pass over its buckets. A
/// quantile is what HDR's `value_at_quantile` gives over the raw values:
/// the highest value of the first bucket whose running count reaches the
/// rank ⌈q × count⌉, at least 1. (At quantile 0, which is not exported,
/// HDR would give the bucket's lowest value.)
pub fn summary(h: &SparseHistogram) -> Summary {
    let mut quantiles = Vec::new();
    if h.count() > 0 {
        let mut buckets = h.buckets().iter();
        let (mut key, mut seen) = (0, 0);
        for q in QUANTILES {
            let rank = ((q * h.count() as f64).ceil() as u64).max(1);
            while seen < rank {
                let Some(&(k, n)) = buckets.next() else { break };
                (key, seen) = (k, seen + n);
            }
            quantiles.push((q, hdr_layout().highest_equivalent(key) as f64 / 1000.0));
        }
    }
    Summary {
        count: h.count(),
        sum_seconds: h.sum_ms() as f64 / 1000.0,
        quantiles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;
    use proptest::prelude::*;

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

    /// Values around the bucket edges of every magnitude, up to ~1e10 ms.
    fn duration() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            0u64..4096,
            (11u32..34, -2i64..=2).prop_map(|(bits, d)| ((1i64 << bits) + d) as u64),
            (1u64..2048, 1u32..24, -1i64..=1)
                .prop_map(|(sub, shift, d)| ((sub << shift) as i64 + d).max(0) as u64),
            0u64..10_000_000_000,
        ]
    }

    proptest! {
        #[test]
        fn quantiles_match_hdr_over_raw_values(
            values in prop::collection::vec(duration(), 0..300),
        ) {
            let mut slot = SparseHistogram::default();
            let mut dense = Histogram::<u64>::new(3).unwrap();
            dense.auto(true);
            for &v in &values {
                slot.record(v);
                dense.record(v).unwrap();
            }
            let mut window = SparseHistogram::default();
            window.merge_all(std::iter::once(&slot));
            let s = summary(&window);
            prop_assert_eq!(s.count, values.len() as u64);
            prop_assert_eq!(s.sum_seconds, values.iter().sum::<u64>() as f64 / 1000.0);
            let expected: Vec<(f64, f64)> = if values.is_empty() {
                Vec::new()
            } else {
                QUANTILES
                    .iter()
                    .map(|&q| (q, dense.value_at_quantile(q) as f64 / 1000.0))
                    .collect()
            };
            prop_assert_eq!(s.quantiles, expected);
        }
    }

    #[test]
    fn repeat_customers_are_counted_once() {
        let mut t = Tally::default();
        t.customers.extend([7, 3, 7, 9, 7, 3]);
        assert_eq!(
            CustomerCounts::of(&t),
            CustomerCounts {
                tickets: 6,
                distinct: 3,
                repeat: 2
            }
        );
    }
}
