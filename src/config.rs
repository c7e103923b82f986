//! The configuration file: every option, its default, and its validation.
//! `config/deskpulse.toml` documents each option for operators.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}; check the path given to --config")]
    Read {
        path: String,
        reason: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub metrics: MetricsConfig,
    pub engine: EngineConfig,
    pub limits: LabelLimits,
    #[serde(rename = "custom_ratio")]
    pub custom_ratios: Vec<CustomRatio>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Prefix of the KPI metric names; the processor's own health metrics
    /// always start with `deskpulse_`.
    pub prefix: String,
    /// Rolling windows, each made of 60 slots of a sixtieth of its length.
    pub windows: Vec<Span>,
    /// Whether a `today` window (since local midnight) is kept.
    pub today: bool,
    /// IANA time zone that decides where `today` begins.
    pub timezone: String,
    /// Dimensions that get their own windowed series beside the whole centre.
    /// Only `queue` is supported.
    pub windowed_by: Vec<String>,
}

/// A duration written as text, e.g. `"5m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Span(#[serde(with = "humantime_serde")] pub Duration);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Events further behind their partition's clock than this skip the windows.
    #[serde(with = "humantime_serde")]
    pub allowed_lateness: Duration,
    /// How long (event time) a seen `event_id` is remembered for dedup.
    #[serde(with = "humantime_serde")]
    pub dedup_horizon: Duration,
    /// Upper bound on remembered event ids; the oldest are forgotten first.
    pub dedup_max_entries: usize,
    /// Events whose `ts` is further than this past the wall clock are rejected.
    #[serde(with = "humantime_serde")]
    pub future_tolerance: Duration,
    /// A resolved ticket that is never closed is released this long after
    /// its resolution (event time); a later reopen is then `unknown_ticket`.
    #[serde(with = "humantime_serde")]
    pub resolved_ticket_retention: Duration,
    /// An interaction with no event for this long (event time) is released.
    #[serde(with = "humantime_serde")]
    pub interaction_timeout: Duration,
    /// Lowest CSAT score counted as satisfied.
    pub csat_satisfied_min: i64,
    /// Service-level answer threshold.
    #[serde(with = "humantime_serde")]
    pub service_level_threshold: Duration,
}

/// How many distinct values each input-derived label may take before new
/// values fold into `other`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelLimits {
    pub queue: usize,
    pub category: usize,
    pub agent: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRatio {
    /// Exported as `<prefix>custom_<name>`.
    pub name: String,
    #[serde(default)]
    pub help: String,
    pub numerator: EventFilter,
    pub denominator: EventFilter,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// Event type to match; types not in the spec become accepted types.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Sum this numeric field instead of counting events.
    #[serde(default)]
    pub sum: Option<String>,
    /// Only events whose string fields equal these values.
    #[serde(default, rename = "where")]
    pub matching: std::collections::BTreeMap<String, String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            prefix: "support_".into(),
            windows: [300, 3600, 86400]
                .map(|s| Span(Duration::from_secs(s)))
                .to_vec(),
            today: true,
            timezone: "UTC".into(),
            windowed_by: vec!["queue".into()],
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            allowed_lateness: Duration::from_secs(300),
            dedup_horizon: Duration::from_secs(3600),
            dedup_max_entries: 2_000_000,
            future_tolerance: Duration::from_secs(3600),
            resolved_ticket_retention: Duration::from_secs(7 * 86400),
            interaction_timeout: Duration::from_secs(86400),
            csat_satisfied_min: 4,
            service_level_threshold: Duration::from_secs(20),
        }
    }
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits {
            queue: 50,
            category: 50,
            agent: 200,
        }
    }
}

/// Number of slots in every rolling window (SPEC §3).
pub const SLOTS_PER_WINDOW: i64 = 60;

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
            path: path.display().to_string(),
            reason,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1);
            ConfigError::Parse {
                path: "<text>".into(),
                message: match line {
                    Some(line) => format!("line {line}: {}", one_line(e.message())),
                    None => one_line(e.message()),
                },
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !is_metric_name_prefix(&self.metrics.prefix) {
            return invalid(format!(
                "metrics.prefix {:?} must be letters, digits and underscores, not starting with a digit",
                self.metrics.prefix
            ));
        }
        for Span(w) in &self.metrics.windows {
            let ms = w.as_millis();
            if ms == 0 || ms % SLOTS_PER_WINDOW as u128 != 0 {
                return invalid(format!(
                    "metrics.windows: {} must be a positive whole number of milliseconds divisible by 60, e.g. \"5m\"",
                    humantime::format_duration(*w)
                ));
            }
        }
        let mut names: Vec<String> = self.window_names();
        names.sort();
        names.dedup();
        if names.len() != self.window_names().len() {
            return invalid("metrics.windows lists the same window twice".into());
        }
        if self.metrics.timezone.parse::<chrono_tz::Tz>().is_err() {
            return invalid(format!(
                "metrics.timezone {:?} is not an IANA time zone name, e.g. \"Europe/Berlin\" or \"UTC\"",
                self.metrics.timezone
            ));
        }
        for dim in &self.metrics.windowed_by {
            if dim != "queue" {
                return invalid(format!(
                    "metrics.windowed_by: {dim:?} is not supported; use [\"queue\"] or []"
                ));
            }
        }
        if self.engine.dedup_max_entries == 0 {
            return invalid("engine.dedup_max_entries must be at least 1".into());
        }
        for (label, limit) in [
            ("queue", self.limits.queue),
            ("category", self.limits.category),
            ("agent", self.limits.agent),
        ] {
            if limit == 0 || limit > u16::MAX as usize - 1 {
                return invalid(format!("limits.{label} must be between 1 and 65534"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for ratio in &self.custom_ratios {
            if !is_metric_name_prefix(&ratio.name) || ratio.name.is_empty() {
                return invalid(format!(
                    "custom_ratio name {:?} must be letters, digits and underscores",
                    ratio.name
                ));
            }
            if !seen.insert(ratio.name.as_str()) {
                return invalid(format!("custom_ratio {:?} is defined twice", ratio.name));
            }
            for filter in [&ratio.numerator, &ratio.denominator] {
                if filter.event_type.is_empty() {
                    return invalid(format!(
                        "custom_ratio {:?}: a filter needs a non-empty type",
                        ratio.name
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn timezone(&self) -> chrono_tz::Tz {
        // Validated at load time; UTC only for a config built in code.
        self.metrics.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    pub fn windowed_by_queue(&self) -> bool {
        self.metrics.windowed_by.iter().any(|d| d == "queue")
    }

    /// The `window` label of each rolling window, in config order.
    pub fn window_names(&self) -> Vec<String> {
        self.metrics
            .windows
            .iter()
            .map(|w| window_name(w.0))
            .collect()
    }
}

/// `5m`, `1h`, `24h`: the largest unit that divides the length evenly.
pub fn window_name(window: Duration) -> String {
    let secs = window.as_secs();
    if window.subsec_nanos() != 0 || secs == 0 {
        return format!("{}ms", window.as_millis());
    }
    for (unit, size) in [("h", 3600), ("m", 60)] {
        if secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

fn is_metric_name_prefix(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[engine]\nallowed_latenes = \"5m\"\n").unwrap_err();
        assert!(err.to_string().contains("allowed_latenes"), "{err}");
    }

    #[test]
    fn window_names_follow_spec() {
        let c = Config::default();
        assert_eq!(c.window_names(), ["5m", "1h", "24h"]);
    }

    #[test]
    fn shipped_config_parses_and_equals_defaults() {
        let text = include_str!("../config/deskpulse.toml");
        let parsed = Config::parse(text).expect("shipped config parses");
        let default = Config::default();
        assert_eq!(parsed.metrics.windows, default.metrics.windows);
        assert_eq!(
            parsed.engine.allowed_lateness,
            default.engine.allowed_lateness
        );
        assert_eq!(parsed.limits.agent, default.limits.agent);
    }

    #[test]
    fn bad_timezone_is_reported() {
        let err = Config::parse("[metrics]\ntimezone = \"Mars/Olympus\"\n").unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"));
    }
}
