//! The checks of a configuration once its sources are laid over each
//! other: each failure is one line naming the setting and what to do.

use super::overrides::{Origin, Setting};
use super::{Config, ConfigError, HttpConfig, Span, SLOTS_PER_WINDOW};

/// librdkafka property keys that deskpulse sets itself, with what to do instead.
const OWNED_PROPERTIES: [(&str, &str); 4] = [
    ("bootstrap.servers", "use kafka.brokers instead"),
    ("group.id", "use kafka.group_id instead"),
    ("enable.auto.offset.store", "remove it"),
    ("enable.partition.eof", "remove it"),
];

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
            if limit == 0 || limit > u16::MAX as usize - 2 {
                return invalid(format!("limits.{label} must be between 1 and 65533"));
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
        self.validate_kafka()?;
        self.http.validate()
    }

    fn validate_kafka(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        let kafka = &self.kafka;
        if kafka.brokers.trim().is_empty() {
            return invalid(
                "kafka.brokers is empty; give a comma-separated host:port list, e.g. \"localhost:9092\"".into(),
            );
        }
        if kafka.topics.is_empty() {
            return invalid(
                "kafka.topics is empty; list the topics to consume, e.g. [\"support-events\"]"
                    .into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for topic in &kafka.topics {
            if topic.trim().is_empty() {
                return invalid(format!(
                    "kafka.topics contains an empty name; remove it from {:?}",
                    kafka.topics
                ));
            }
            if !seen.insert(topic) {
                return invalid(format!(
                    "kafka.topics lists {topic:?} twice; list each topic once"
                ));
            }
        }
        if kafka.group_id.trim().is_empty() {
            return invalid(
                "kafka.group_id is empty; give a consumer group, e.g. \"deskpulse\"".into(),
            );
        }
        if let Some(dlq) = &kafka.dead_letter_topic {
            side_topic(
                "kafka.dead_letter_topic",
                dlq,
                "dead-lettering",
                "rejected messages would be consumed again",
                &kafka.topics,
            )?;
        }
        if let Some(topic) = &self.state.topic {
            side_topic(
                "state.topic",
                topic,
                "the shared checkpoint store",
                "checkpoints would be consumed as events",
                &kafka.topics,
            )?;
            if kafka.dead_letter_topic.as_ref() == Some(topic) {
                return invalid(format!(
                    "state.topic {topic:?} is also kafka.dead_letter_topic; give each its own topic"
                ));
            }
        }
        if self.state.checkpoint_interval < std::time::Duration::from_secs(1) {
            return invalid("state.checkpoint_interval must be at least 1s, e.g. \"10s\"".into());
        }
        if kafka.startup_timeout.is_zero() {
            return invalid("kafka.startup_timeout must be more than 0, e.g. \"10s\"".into());
        }
        for (key, instead) in OWNED_PROPERTIES {
            if kafka.properties.contains_key(key) {
                return invalid(format!(
                    "kafka.properties: {key:?} is set by deskpulse; {instead}"
                ));
            }
        }
        Ok(())
    }
}

/// The HTTP credentials, each with the environment variable and the file
/// setting that give it; a value written in the config file or on the
/// command line would sit in plain sight, so only those two may.
const SECRETS: [(&str, &str, &str); 2] = [
    (
        "bearer_token",
        "DESKPULSE_HTTP_BEARER_TOKEN",
        "http.bearer_token_file",
    ),
    (
        "basic_password",
        "DESKPULSE_HTTP_BASIC_PASSWORD",
        "http.basic_password_file",
    ),
];

/// Refuses a credential written in the file (named `path`) or given with
/// `--set`.
pub(super) fn refuse_literal_secrets(
    file: &toml::Table,
    path: &str,
    settings: &[Setting],
) -> Result<(), ConfigError> {
    for (key, variable, file_key) in SECRETS {
        let instead = format!("set {variable} or {file_key} instead");
        if file.get("http").and_then(|http| http.get(key)).is_some() {
            return Err(ConfigError::Parse {
                path: path.into(),
                message: format!(
                    "http.{key} is a secret and cannot be written in the config file; remove it and {instead}"
                ),
            });
        }
        let on_command_line = settings.iter().find_map(|s| match &s.origin {
            Origin::Cli(cli) if s.path == ["http", key] => Some(cli),
            _ => None,
        });
        if let Some(cli) = on_command_line {
            return Err(ConfigError::Override(format!(
                "--set {cli}: a secret on the command line is visible to every user of the machine; {instead}"
            )));
        }
    }
    Ok(())
}

impl HttpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        for (key, value) in [
            ("tls_cert_file", &self.tls_cert_file),
            ("tls_key_file", &self.tls_key_file),
            ("bearer_token_file", &self.bearer_token_file),
            ("basic_user", &self.basic_user),
            ("basic_password_file", &self.basic_password_file),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return invalid(format!("http.{key} is empty; give a value or leave it out"));
            }
        }
        for ((key, variable, _), value) in SECRETS
            .iter()
            .zip([&self.bearer_token, &self.basic_password])
        {
            if value.as_ref().is_some_and(|v| v.expose().trim().is_empty()) {
                return invalid(format!(
                    "{variable} is empty; give the {} or unset it",
                    key.replace('_', " ")
                ));
            }
        }
        if self.header_read_timeout.is_zero() {
            return invalid("http.header_read_timeout must be more than 0, e.g. \"5s\"".into());
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return invalid(
                "http.tls_cert_file and http.tls_key_file go together: set both (PEM files) for HTTPS, or neither".into(),
            );
        }
        for ((_, variable, file_key), (value, file)) in SECRETS.iter().zip([
            (
                self.bearer_token.is_some(),
                self.bearer_token_file.is_some(),
            ),
            (
                self.basic_password.is_some(),
                self.basic_password_file.is_some(),
            ),
        ]) {
            if value && file {
                return invalid(format!("{variable} and {file_key} are both set; keep one"));
            }
        }
        let password = self.basic_password.is_some() || self.basic_password_file.is_some();
        match &self.basic_user {
            Some(user) if user.contains(':') => invalid(format!(
                "http.basic_user {user:?} contains a colon, which basic auth cannot carry; choose a name without one"
            )),
            Some(_) if !password => invalid(
                "http.basic_user needs a password: set http.basic_password_file or DESKPULSE_HTTP_BASIC_PASSWORD".into(),
            ),
            None if password => invalid(
                "a basic-auth password is set without http.basic_user; set the user name too".into(),
            ),
            _ => Ok(()),
        }
    }
}

/// A topic deskpulse writes beside the ones it reads (`key`): named, and
/// not one of them.
fn side_topic(
    key: &str,
    topic: &str,
    turned_off: &str,
    because: &str,
    read: &[String],
) -> Result<(), ConfigError> {
    if topic.trim().is_empty() {
        return Err(ConfigError::Invalid(format!(
            "{key} is empty; give a topic name, or leave the key out to turn {turned_off} off"
        )));
    }
    if read.iter().any(|t| t == topic) {
        return Err(ConfigError::Invalid(format!(
            "{key} {topic:?} is also in kafka.topics; {because}, use another topic"
        )));
    }
    Ok(())
}

fn is_metric_name_prefix(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}
