//! The KPI rules: what an event counts as for a KPI (SPEC §2, §7), in one
//! place, beside the SLA's own rules (policies, targets and the at-risk
//! fraction, in `sla/policy.rs`). Built from the config at start and
//! never restored, so a changed threshold applies from the next start.
//! The formulas over what a window counted are in `crate::kpi`.

use crate::config::EngineConfig;
use crate::decode::Outcome;

#[derive(Debug, Clone)]
pub struct KpiRules {
    /// A CSAT score at least this is satisfied (§2).
    csat_satisfied_min: i64,
    /// Answered within this wait is in service level (§7.10).
    service_level_ms: i64,
}

/// An NPS response's category (§2): 9–10, 7–8, 0–6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpsCategory {
    Promoter,
    Passive,
    Detractor,
}

impl KpiRules {
    pub fn new(engine: &EngineConfig) -> KpiRules {
        let threshold = engine.service_level_threshold.as_millis();
        KpiRules {
            csat_satisfied_min: engine.csat_satisfied_min,
            service_level_ms: threshold.min(i64::MAX as u128) as i64,
        }
    }

    pub fn csat_satisfied(&self, score: i64) -> bool {
        score >= self.csat_satisfied_min
    }

    pub fn nps_category(score: i64) -> NpsCategory {
        match score {
            9.. => NpsCategory::Promoter,
            7..=8 => NpsCategory::Passive,
            _ => NpsCategory::Detractor,
        }
    }

    /// An answer after this wait is within the service level; the
    /// threshold itself is in.
    pub fn answered_in_time(&self, wait_ms: i64) -> bool {
        wait_ms <= self.service_level_ms
    }

    /// An abandon after the threshold counts against the service level;
    /// one before it does not count at all (§7.10).
    pub fn abandoned_late(&self, wait_ms: i64) -> bool {
        !self.answered_in_time(wait_ms)
    }

    /// First contact resolution (§7.7): the first resolution, after exactly
    /// one public agent reply and no customer reply after it.
    pub fn first_contact_resolution(
        first_resolution: bool,
        public_replies: u16,
        customer_replied_after_reply: bool,
    ) -> bool {
        first_resolution && public_replies == 1 && !customer_replied_after_reply
    }

    pub fn outcome_success(outcome: Outcome) -> bool {
        outcome == Outcome::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn rules() -> KpiRules {
        KpiRules::new(&Config::default().engine)
    }

    #[test]
    fn thresholds_are_inclusive() {
        let r = rules();
        // Defaults (SPEC §2, config/deskpulse.toml): CSAT 4 of 5, 20 s.
        assert!(r.csat_satisfied(4) && !r.csat_satisfied(3));
        assert!(r.answered_in_time(20_000) && !r.answered_in_time(20_001));
        assert!(r.abandoned_late(20_001) && !r.abandoned_late(20_000));
    }

    #[test]
    fn nps_buckets() {
        let categories: Vec<NpsCategory> = (0..=10).map(KpiRules::nps_category).collect();
        let expected: Vec<NpsCategory> = (0..=10)
            .map(|s| match s {
                0..=6 => NpsCategory::Detractor,
                7 | 8 => NpsCategory::Passive,
                _ => NpsCategory::Promoter,
            })
            .collect();
        assert_eq!(categories, expected);
    }

    #[test]
    fn first_contact_resolution_needs_all_three() {
        assert!(KpiRules::first_contact_resolution(true, 1, false));
        assert!(!KpiRules::first_contact_resolution(false, 1, false));
        assert!(!KpiRules::first_contact_resolution(true, 0, false));
        assert!(!KpiRules::first_contact_resolution(true, 2, false));
        assert!(!KpiRules::first_contact_resolution(true, 1, true));
    }
}
