//! The typed sections of the configuration, every option with its
//! default; `[kafka.properties]` read as text.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
    /// How long a client has to send a request's headers (and finish a
    /// TLS handshake) before its connection is closed.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// PEM certificate chain and private key: HTTPS with both, plain HTTP
    /// with neither. Read again on SIGHUP and when either file changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key_file: Option<String>,
    /// A file whose trimmed content is the bearer token every endpoint
    /// but /healthz and /readyz asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// The token itself, from `DESKPULSE_HTTP_BEARER_TOKEN` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    /// The user name of basic auth, with a password from
    /// `basic_password_file` or `DESKPULSE_HTTP_BASIC_PASSWORD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_password_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_password: Option<Secret>,
}

/// A credential: its `Debug` form never shows it, so that it cannot reach
/// a log line or an error by way of the config.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// Checkpoints of live mode (`deskpulse run`): where each partition's
/// state is saved, and how often.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Directory of the local store; `""` turns it off.
    pub dir: String,
    /// Kafka topic of the shared store; off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(with = "humantime_serde")]
    pub checkpoint_interval: Duration,
}

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

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            dir: "deskpulse-state".into(),
            topic: None,
            checkpoint_interval: Duration::from_secs(10),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9750)),
            header_read_timeout: Duration::from_secs(5),
            tls_cert_file: None,
            tls_key_file: None,
            bearer_token_file: None,
            bearer_token: None,
            basic_user: None,
            basic_password_file: None,
            basic_password: None,
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
