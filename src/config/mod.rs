//! The configuration: every option, its default, its validation, and the
//! layering of its sources (file < `DESKPULSE_` environment < CLI).
//! `config/deskpulse.toml` documents each option for operators.
//!
//! By job: the typed sections and their defaults (`sections.rs`); the
//! layering of the sources and where its errors point (`layers.rs`);
//! where an environment variable or `--set` key lands and how its text is
//! typed (`overrides.rs`); the checks of the values (`validate.rs`);
//! `[sla]` (`sla.rs`); where each effective value came from, for
//! `check-config` (`provenance.rs`); here, the whole [`Config`] and its error.

use std::time::Duration;

use serde::{Deserialize, Serialize};

mod layers;
mod overrides;
mod provenance;
mod sections;
mod sla;
mod validate;
pub use layers::Sources;
pub use overrides::Origin;
pub use provenance::{EffectiveSetting, Provenance, Source};
pub use sections::{
    CustomRatio, EngineConfig, EventFilter, HttpConfig, KafkaConfig, LabelLimits, MetricsConfig,
    Secret, Span, StateConfig,
};
pub use sla::{CalendarConfig, PolicyConfig, SlaConfig, TargetsConfig};

use crate::engine::sla::policy::SlaRules;

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
    /// A `DESKPULSE_` environment variable or CLI override that names no
    /// setting or has a value of the wrong type; the message names it.
    #[error("{0}")]
    Override(String),
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub metrics: MetricsConfig,
    pub engine: EngineConfig,
    pub limits: LabelLimits,
    /// Only from the file: not settable from the environment or the CLI.
    #[serde(rename = "custom_ratio", skip_serializing)]
    pub custom_ratios: Vec<CustomRatio>,
    pub kafka: KafkaConfig,
    pub http: HttpConfig,
    pub state: StateConfig,
    /// SPEC §4.1; only from the file.
    #[serde(skip_serializing)]
    pub sla: SlaConfig,
    /// `sla` validated and compiled, once, when the config is read.
    #[serde(skip)]
    pub sla_rules: SlaRules,
}

/// Number of slots in every rolling window (SPEC §3).
pub const SLOTS_PER_WINDOW: i64 = 60;

impl Config {
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

#[cfg(test)]
mod tests;
