//! The configuration: every option, its default, its validation, and the
//! layering of its sources (file < `DESKPULSE_` environment < CLI).
//! `config/deskpulse.toml` documents each option for operators.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod sla;
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
    /// SPEC §4.1; only from the file.
    #[serde(skip_serializing)]
    pub sla: SlaConfig,
    /// `sla` validated and compiled, once, when the config is read.
    #[serde(skip)]
    pub sla_rules: SlaRules,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Span(#[serde(with = "humantime_serde")] pub Duration);

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelLimits {
    pub queue: usize,
    pub category: usize,
    pub agent: usize,
}

/// The Kafka consumer of `deskpulse run`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// bootstrap.servers, comma-separated host:port list.
    pub brokers: String,
    /// Topics to consume.
    pub topics: Vec<String>,
    /// Consumer group.
    pub group_id: String,
    /// Threads applying events, each owning the shards of some partitions;
    /// 0 means one per core.
    pub workers: usize,
    /// Optional dead-letter topic for rejected messages; `None` (key absent) = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_topic: Option<String>,
    /// How long startup waits for the brokers and topic metadata.
    #[serde(with = "humantime_serde")]
    pub startup_timeout: Duration,
    /// librdkafka client properties passed through as-is (security.protocol,
    /// sasl.*, ssl.*, fetch.wait.max.ms ...). In TOML a value may be a
    /// string, integer, float or boolean; it is kept as text.
    #[serde(deserialize_with = "property_values_as_text")]
    pub properties: BTreeMap<String, String>,
}

/// The HTTP server of `deskpulse run`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of /metrics, /healthz, /readyz, /api/v1/kpis and the wallboard.
    pub listen: SocketAddr,
}

/// librdkafka property keys that deskpulse sets itself, with what to do instead.
const OWNED_PROPERTIES: [(&str, &str); 4] = [
    ("bootstrap.servers", "use kafka.brokers instead"),
    ("group.id", "use kafka.group_id instead"),
    ("enable.auto.offset.store", "remove it"),
    ("enable.partition.eof", "remove it"),
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRatio {
    /// Exported as `<prefix>custom_<name>`.
    pub name: String,
    #[serde(default)]
    pub help: String,
    pub numerator: EventFilter,
    pub denominator: EventFilter,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
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

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "localhost:9092".into(),
            topics: vec!["support-events".into()],
            group_id: "deskpulse".into(),
            workers: 0,
            dead_letter_topic: None,
            startup_timeout: Duration::from_secs(10),
            properties: BTreeMap::new(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9750)),
        }
    }
}

/// Reads `[kafka.properties]`: strings, integers, floats and booleans, each
/// kept as text because librdkafka takes every property as a string.
fn property_values_as_text<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Text(String);
    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Text;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string, integer or boolean (a librdkafka property value)")
                }
                fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                    Ok(Text(v.to_owned()))
                }
                fn visit_string<E>(self, v: String) -> Result<Text, E> {
                    Ok(Text(v))
                }
                fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
            }
            d.deserialize_any(V)
        }
    }
    let map = BTreeMap::<String, Text>::deserialize(deserializer)?;
    Ok(map.into_iter().map(|(k, Text(v))| (k, v)).collect())
}

/// Where settings come from; later ones win.
#[derive(Debug, Clone, Default)]
pub struct Sources<'a> {
    /// The config file; the defaults apply without one.
    pub file: Option<&'a Path>,
    /// Environment variables (name, value); only those starting with
    /// `DESKPULSE_` are looked at, and `DESKPULSE_CONFIG` (the file, read by
    /// the CLI) is ignored.
    pub env: Vec<(String, String)>,
    /// CLI overrides as (dotted key, value), e.g. ("kafka.brokers", "b1:9092").
    pub overrides: Vec<(String, String)>,
}

/// Prefix of the environment variables that set options.
const ENV_PREFIX: &str = "DESKPULSE_";
/// The environment variable naming the config file; read by the CLI.
const ENV_CONFIG_FILE: &str = "DESKPULSE_CONFIG";

/// Where one override came from, for messages.
enum Origin {
    /// The variable's name.
    Env(String),
    /// The dotted key.
    Cli(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Cli(key) => write!(f, "--set {key}"),
        }
    }
}

impl Origin {
    /// How to write `value` in the same place, e.g. `DESKPULSE_LIMITS_QUEUE=50`.
    fn example(&self, value: &str) -> String {
        match self {
            Origin::Env(name) => format!("{name}={value}"),
            Origin::Cli(key) => format!("--set {key}={value}"),
        }
    }
}

/// One value from the environment or the CLI, at its place in the TOML tree.
struct Setting {
    /// `["kafka", "brokers"]`, `["kafka", "properties", "sasl.password"]`.
    path: Vec<String>,
    raw: String,
    origin: Origin,
}

/// Number of slots in every rolling window (SPEC §3).
pub const SLOTS_PER_WINDOW: i64 = 60;

impl Config {
    /// The file alone, without environment or CLI.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::resolve(&Sources {
            file: Some(path),
            ..Sources::default()
        })
    }

    /// TOML text alone, without environment or CLI.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Self::layered(text, "<text>", Vec::new())
    }

    /// The file (or the defaults), then the `DESKPULSE_` environment, then
    /// the CLI overrides; later ones win. Validated.
    pub fn resolve(sources: &Sources) -> Result<Config, ConfigError> {
        let schema = schema();
        let mut settings = Vec::new();
        for (name, value) in &sources.env {
            if let Some(path) = env_path(&schema, name)? {
                settings.push(Setting {
                    path,
                    raw: value.clone(),
                    origin: Origin::Env(name.clone()),
                });
            }
        }
        for (key, value) in &sources.overrides {
            settings.push(Setting {
                path: cli_path(&schema, key)?,
                raw: value.clone(),
                origin: Origin::Cli(key.clone()),
            });
        }
        match sources.file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
                    path: path.display().to_string(),
                    reason,
                })?;
                Self::layered(&text, &path.display().to_string(), settings)
            }
            None => Self::layered("", "<defaults>", settings),
        }
    }

    /// `text` (a TOML file named `path` in messages) with `settings` laid over it.
    fn layered(text: &str, path: &str, settings: Vec<Setting>) -> Result<Config, ConfigError> {
        // The file on its own first, so that its errors carry line numbers.
        let parse_error = |e: toml::de::Error| {
            let line = e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1);
            ConfigError::Parse {
                path: path.into(),
                message: match line {
                    Some(line) => format!("line {line}: {}", one_line(e.message())),
                    None => one_line(e.message()),
                },
            }
        };
        let mut config: Config = toml::from_str(text).map_err(parse_error)?;
        if !settings.is_empty() {
            let mut table: toml::Table = toml::from_str(text).map_err(parse_error)?;
            let schema = schema();
            for setting in &settings {
                let value = typed_value(&schema, setting)?;
                // Each value on its own over the defaults, so that a type
                // error names the variable or flag it came from.
                let mut alone = schema.clone();
                insert(&mut alone, &setting.path, value.clone());
                if let Err(e) = toml::Value::Table(alone).try_into::<Config>() {
                    let message = one_line(e.message());
                    let given = if message.contains(&format!("{:?}", setting.raw)) {
                        String::new()
                    } else {
                        format!("{:?}: ", setting.raw)
                    };
                    let example = lookup(&schema, &setting.path)
                        .map(example_text)
                        .filter(|example| !example.is_empty())
                        .map(|example| format!("; e.g. {}", setting.origin.example(&example)))
                        .unwrap_or_default();
                    return Err(ConfigError::Override(format!(
                        "{}: {given}{message}{example}",
                        setting.origin
                    )));
                }
                insert(&mut table, &setting.path, value);
            }
            config = toml::Value::Table(table)
                .try_into()
                .map_err(|e| ConfigError::Invalid(one_line(e.message())))?;
        }
        config.validate()?;
        config.sla_rules = config.sla.rules().map_err(ConfigError::Invalid)?;
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
        self.validate_kafka()
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
            if dlq.trim().is_empty() {
                return invalid(
                    "kafka.dead_letter_topic is empty; give a topic name, or leave the key out to turn dead-lettering off".into(),
                );
            }
            if kafka.topics.contains(dlq) {
                return invalid(format!(
                    "kafka.dead_letter_topic {dlq:?} is also in kafka.topics; rejected messages would be consumed again, use another topic"
                ));
            }
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

/// The defaults as a TOML tree: which settings exist and the TOML type of
/// each. Optional settings are filled in so that they appear.
fn schema() -> toml::Table {
    let mut config = Config::default();
    // Every `Option` field needs a value here, or it is not settable.
    config.kafka.dead_letter_topic = Some(String::new());
    toml::Table::try_from(config).expect("the defaults serialise to TOML")
}

/// The settings of `section` (not sub-tables), if it is a section.
fn is_setting(schema: &toml::Table, section: &str, key: &str) -> bool {
    matches!(
        schema.get(section).and_then(|s| s.get(key)),
        Some(v) if !v.is_table()
    )
}

/// The place an environment variable sets, `None` for one not ours.
fn env_path(schema: &toml::Table, name: &str) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
        return Ok(None);
    };
    if name == ENV_CONFIG_FILE {
        return Ok(None);
    }
    for (variable, table) in [("CUSTOM_RATIO", "custom_ratio"), ("SLA", "sla")] {
        if rest == variable || rest.starts_with(&format!("{variable}_")) {
            return Err(ConfigError::Override(format!(
                "environment variable {name}: {table} settings cannot be set from the environment; define them in the config file"
            )));
        }
    }
    let no_setting = || {
        ConfigError::Override(format!(
            "environment variable {name} names no setting; settings are DESKPULSE_<SECTION>_<KEY>, e.g. DESKPULSE_KAFKA_BROKERS"
        ))
    };
    if rest != rest.to_ascii_uppercase() {
        return Err(no_setting());
    }
    let (section, key) = rest.split_once('_').ok_or_else(no_setting)?;
    let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
    if section == "kafka" {
        if let Some(property) = key.strip_prefix("properties_") {
            if property.is_empty() {
                return Err(no_setting());
            }
            return Ok(Some(vec![
                section,
                "properties".into(),
                property.replace('_', "."),
            ]));
        }
    }
    if !is_setting(schema, &section, &key) {
        return Err(no_setting());
    }
    Ok(Some(vec![section, key]))
}

/// The place a CLI override (`section.key`, `kafka.properties.<name>`) sets.
fn cli_path(schema: &toml::Table, key: &str) -> Result<Vec<String>, ConfigError> {
    for table in ["custom_ratio", "sla"] {
        if key == table || key.starts_with(&format!("{table}.")) {
            return Err(ConfigError::Override(format!(
                "--set {key}: {table} settings cannot be set from the command line; define them in the config file"
            )));
        }
    }
    let no_setting = || {
        ConfigError::Override(format!(
            "--set {key}: no such setting; keys are <section>.<key> as in the config file, e.g. kafka.brokers or kafka.properties.sasl.username"
        ))
    };
    if let Some(property) = key.strip_prefix("kafka.properties.") {
        if property.is_empty() {
            return Err(no_setting());
        }
        return Ok(vec!["kafka".into(), "properties".into(), property.into()]);
    }
    match key.split_once('.') {
        Some((section, name)) if is_setting(schema, section, name) => {
            Ok(vec![section.into(), name.into()])
        }
        _ => Err(no_setting()),
    }
}

fn lookup<'t>(table: &'t toml::Table, path: &[String]) -> Option<&'t toml::Value> {
    let (last, parents) = path.split_last()?;
    let mut table = table;
    for key in parents {
        table = table.get(key)?.as_table()?;
    }
    table.get(last)
}

/// Sets `value` at `path`, making the tables on the way.
fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut table = table;
    for key in parents {
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        table = entry.as_table_mut().expect("made a table just now");
    }
    table.insert(last.clone(), value);
}

/// A setting's text turned into the TOML type its default has.
fn typed_value(schema: &toml::Table, setting: &Setting) -> Result<toml::Value, ConfigError> {
    let like = lookup(schema, &setting.path)
        .cloned()
        // kafka.properties.<name>: text, whatever the name.
        .unwrap_or_else(|| toml::Value::String(String::new()));
    convert(&setting.raw, &like).map_err(|expected| {
        let example = example_text(&like);
        ConfigError::Override(format!(
            "{}: {:?} is not {expected}; e.g. {}",
            setting.origin,
            setting.raw,
            setting.origin.example(&example)
        ))
    })
}

/// `raw` as a value of the type of `like`; else what was expected.
fn convert(raw: &str, like: &toml::Value) -> Result<toml::Value, &'static str> {
    use toml::Value;
    let trimmed = raw.trim();
    match like {
        Value::String(_) => Ok(Value::String(raw.to_owned())),
        Value::Integer(_) => trimmed
            .parse()
            .map(Value::Integer)
            .map_err(|_| "an integer"),
        Value::Float(_) => trimmed.parse().map(Value::Float).map_err(|_| "a number"),
        Value::Boolean(_) => trimmed
            .parse()
            .map(Value::Boolean)
            .map_err(|_| "true or false"),
        Value::Array(default) => {
            let item = default
                .first()
                .cloned()
                .unwrap_or_else(|| Value::String(String::new()));
            if trimmed.starts_with('[') {
                let parsed: toml::Table = toml::from_str(&format!("v = {trimmed}"))
                    .map_err(|_| "a list: a,b or a TOML array [\"a\", \"b\"]")?;
                return Ok(parsed["v"].clone());
            }
            if trimmed.is_empty() {
                return Ok(Value::Array(Vec::new()));
            }
            trimmed
                .split(',')
                .map(|part| convert(part.trim(), &item))
                .collect::<Result<_, _>>()
                .map(Value::Array)
        }
        Value::Datetime(_) | Value::Table(_) => Err("settable from here"),
    }
}

/// A default written the way the environment or CLI would give it.
fn example_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(example_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
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
        assert_eq!(parsed, Config::default());
        // The commented-out examples are valid too; the SLA example is the
        // file's last block, uncommented whole.
        let mut in_sla = false;
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if in_sla || rest == "[sla]" => {
                    in_sla = true;
                    rest
                }
                Some(rest)
                    if rest.starts_with("dead_letter_topic")
                        || (rest.starts_with('"') && rest.contains("\" = "))
                        || rest.starts_with("[[custom_ratio]]")
                        || rest.starts_with("name =")
                        || rest.starts_with("help =")
                        || rest.starts_with("numerator =")
                        || rest.starts_with("denominator =") =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let examples = Config::parse(&uncommented).expect("shipped examples parse");
        assert_eq!(examples.custom_ratios.len(), 2);
        assert_eq!(examples.sla_rules.policies.len(), 2);
        assert_eq!(examples.sla_rules.schedules.len(), 1);
        assert!(examples.kafka.dead_letter_topic.is_some());
        assert_eq!(examples.kafka.properties["security.protocol"], "SASL_SSL");
        assert_eq!(examples.kafka.properties["fetch.wait.max.ms"], "10");
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn resolve(env_pairs: &[(&str, &str)], cli: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::resolve(&Sources {
            file: None,
            env: env(env_pairs),
            overrides: env(cli),
        })
    }

    #[test]
    fn defaults_without_sources() {
        assert_eq!(resolve(&[], &[]).unwrap(), Config::default());
    }

    #[test]
    fn env_sets_string_duration_list_and_property() {
        let c = resolve(
            &[
                ("DESKPULSE_KAFKA_BROKERS", "b1:9092,b2:9092"),
                ("DESKPULSE_ENGINE_ALLOWED_LATENESS", "2m"),
                ("DESKPULSE_KAFKA_TOPICS", "tickets, calls"),
                ("DESKPULSE_METRICS_WINDOWS", r#"["1m", "1h"]"#),
                ("DESKPULSE_KAFKA_PROPERTIES_SASL_PASSWORD", "s3cret"),
                ("DESKPULSE_KAFKA_DEAD_LETTER_TOPIC", "support-dlq"),
                ("DESKPULSE_HTTP_LISTEN", "127.0.0.1:9999"),
                ("DESKPULSE_LIMITS_QUEUE", "7"),
                ("DESKPULSE_METRICS_TODAY", "false"),
                ("HOME", "/root"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.kafka.brokers, "b1:9092,b2:9092");
        assert_eq!(c.engine.allowed_lateness, Duration::from_secs(120));
        assert_eq!(c.kafka.topics, ["tickets", "calls"]);
        assert_eq!(c.window_names(), ["1m", "1h"]);
        assert_eq!(c.kafka.properties["sasl.password"], "s3cret");
        assert_eq!(c.kafka.dead_letter_topic.as_deref(), Some("support-dlq"));
        assert_eq!(c.http.listen, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(c.limits.queue, 7);
        assert!(!c.metrics.today);
    }

    #[test]
    fn cli_beats_env_beats_file() {
        let dir = std::env::temp_dir().join(format!("deskpulse-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("layered.toml");
        std::fs::write(
            &file,
            "[kafka]\nbrokers = \"file:9092\"\ngroup_id = \"from-file\"\ntopics = [\"file-topic\"]\n",
        )
        .unwrap();
        let c = Config::resolve(&Sources {
            file: Some(&file),
            env: env(&[
                ("DESKPULSE_KAFKA_BROKERS", "env:9092"),
                ("DESKPULSE_KAFKA_GROUP_ID", "from-env"),
            ]),
            overrides: env(&[("kafka.brokers", "cli:9092")]),
        })
        .unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(c.kafka.brokers, "cli:9092");
        assert_eq!(c.kafka.group_id, "from-env");
        assert_eq!(c.kafka.topics, ["file-topic"]);
    }

    #[test]
    fn cli_property_and_list() {
        let c = resolve(
            &[],
            &[
                ("kafka.properties.sasl.username", "svc"),
                ("metrics.windowed_by", ""),
                ("engine.csat_satisfied_min", "5"),
            ],
        )
        .unwrap();
        assert_eq!(c.kafka.properties["sasl.username"], "svc");
        assert!(c.metrics.windowed_by.is_empty());
        assert_eq!(c.engine.csat_satisfied_min, 5);
    }

    #[test]
    fn unknown_env_variable_is_named() {
        let err = resolve(&[("DESKPULSE_KAFKA_BROKRS", "x:1")], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable DESKPULSE_KAFKA_BROKRS names no setting; settings are DESKPULSE_<SECTION>_<KEY>, e.g. DESKPULSE_KAFKA_BROKERS"
        );
        for name in [
            "DESKPULSE_KAFKA",
            "DESKPULSE_KAFKA_PROPERTIES",
            "DESKPULSE_kafka_brokers",
            "DESKPULSE_WEB_LISTEN",
        ] {
            let err = resolve(&[(name, "x")], &[]).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = resolve(&[("DESKPULSE_CUSTOM_RATIO_NAME", "x")], &[]).unwrap_err();
        assert!(err.to_string().contains("custom_ratio"), "{err}");
    }

    #[test]
    fn unknown_cli_key_is_named() {
        for key in [
            "kafka.brokrs",
            "kafka",
            "kafka.properties",
            "kafka.properties.",
            "web.listen",
        ] {
            let err = resolve(&[], &[(key, "x")]).unwrap_err();
            assert!(err.to_string().contains(&format!("--set {key}:")), "{err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
        let err = resolve(&[], &[("custom_ratio.name", "x")]).unwrap_err();
        assert!(err.to_string().contains("config file"), "{err}");
    }

    #[test]
    fn type_errors_name_their_source() {
        let err = resolve(&[("DESKPULSE_LIMITS_QUEUE", "many")], &[]).unwrap_err();
        assert!(err.to_string().contains("DESKPULSE_LIMITS_QUEUE"), "{err}");
        let err = resolve(&[("DESKPULSE_ENGINE_ALLOWED_LATENESS", "5 parsecs")], &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("DESKPULSE_ENGINE_ALLOWED_LATENESS"),
            "{err}"
        );
        let err = resolve(&[], &[("http.listen", "localhost")]).unwrap_err();
        assert!(err.to_string().contains("--set http.listen"), "{err}");
        let err = resolve(&[], &[("limits.agent", "-3")]).unwrap_err();
        assert!(err.to_string().contains("--set limits.agent"), "{err}");
        let err = resolve(&[], &[("metrics.today", "yes")]).unwrap_err();
        assert!(err.to_string().contains("--set metrics.today"), "{err}");
    }

    #[test]
    fn owned_properties_name_the_replacement() {
        for (key, instead) in [
            ("bootstrap.servers", "kafka.brokers"),
            ("group.id", "kafka.group_id"),
            ("enable.auto.offset.store", "remove it"),
            ("enable.partition.eof", "remove it"),
        ] {
            let err = resolve(&[], &[(&format!("kafka.properties.{key}"), "x")]).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(key) && msg.contains(instead), "{msg}");
        }
        let err = Config::parse("[kafka.properties]\n\"group.id\" = \"g\"\n").unwrap_err();
        assert!(err.to_string().contains("kafka.group_id"), "{err}");
        let err = resolve(
            &[("DESKPULSE_KAFKA_PROPERTIES_BOOTSTRAP_SERVERS", "x:1")],
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("kafka.brokers"), "{err}");
    }

    #[test]
    fn property_values_become_text() {
        let c = Config::parse(
            "[kafka.properties]\n\"fetch.wait.max.ms\" = 10\n\"enable.ssl.certificate.verification\" = false\n\"sasl.username\" = \"svc\"\n",
        )
        .unwrap();
        assert_eq!(c.kafka.properties["fetch.wait.max.ms"], "10");
        assert_eq!(
            c.kafka.properties["enable.ssl.certificate.verification"],
            "false"
        );
        assert_eq!(c.kafka.properties["sasl.username"], "svc");
        let err = Config::parse("[kafka.properties]\n\"a.b\" = [1]\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = Config::parse("[kafka.properties.sasl]\nusername = \"x\"\n").unwrap_err();
        assert!(
            err.to_string().contains("string, integer or boolean"),
            "{err}"
        );
    }

    #[test]
    fn config_file_variable_is_ignored() {
        let c = resolve(&[("DESKPULSE_CONFIG", "/etc/deskpulse.toml")], &[]).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn kafka_validation() {
        for (key, value, needle) in [
            ("kafka.brokers", " ", "kafka.brokers"),
            ("kafka.topics", "", "kafka.topics"),
            ("kafka.topics", "a,,b", "kafka.topics"),
            ("kafka.topics", "a,a", "twice"),
            ("kafka.group_id", "", "kafka.group_id"),
            ("kafka.dead_letter_topic", "", "kafka.dead_letter_topic"),
            ("kafka.dead_letter_topic", "support-events", "kafka.topics"),
            ("kafka.startup_timeout", "0s", "kafka.startup_timeout"),
        ] {
            let err = resolve(&[], &[(key, value)]).unwrap_err();
            assert!(err.to_string().contains(needle), "{key}={value}: {err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }

    #[test]
    fn bad_timezone_is_reported() {
        let err = Config::parse("[metrics]\ntimezone = \"Mars/Olympus\"\n").unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"));
    }
}
