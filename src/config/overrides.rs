//! Overrides from the environment and the CLI: the setting a variable or
//! `--set` key names, found in the defaults as a TOML tree, and its text
//! turned into the TOML type of the default.

use super::{Config, ConfigError};

/// Prefix of the environment variables that set options.
const ENV_PREFIX: &str = "DESKPULSE_";
/// The environment variable naming the config file; read by the CLI.
const ENV_CONFIG_FILE: &str = "DESKPULSE_CONFIG";

/// Where one override came from, for messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
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
    pub(super) fn example(&self, value: &str) -> String {
        match self {
            Origin::Env(name) => format!("{name}={value}"),
            Origin::Cli(key) => format!("--set {key}={value}"),
        }
    }
}

/// One value from the environment or the CLI, at its place in the TOML tree.
pub(super) struct Setting {
    /// `["kafka", "brokers"]`, `["kafka", "properties", "sasl.password"]`.
    pub(super) path: Vec<String>,
    pub(super) raw: String,
    pub(super) origin: Origin,
}

/// The defaults as a TOML tree: which settings exist and the TOML type of
/// each. Optional settings are filled in so that they appear.
pub(super) fn schema() -> toml::Table {
    let mut config = Config::default();
    // Every `Option` field needs a value here, or it is not settable.
    config.kafka.dead_letter_topic = Some(String::new());
    config.state.topic = Some(String::new());
    let http = &mut config.http;
    for path in [
        &mut http.tls_cert_file,
        &mut http.tls_key_file,
        &mut http.bearer_token_file,
        &mut http.basic_user,
        &mut http.basic_password_file,
    ] {
        *path = Some(String::new());
    }
    http.bearer_token = Some(super::Secret::new(""));
    http.basic_password = Some(super::Secret::new(""));
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
pub(super) fn env_path(
    schema: &toml::Table,
    name: &str,
) -> Result<Option<Vec<String>>, ConfigError> {
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
pub(super) fn cli_path(schema: &toml::Table, key: &str) -> Result<Vec<String>, ConfigError> {
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

pub(super) fn lookup<'t>(table: &'t toml::Table, path: &[String]) -> Option<&'t toml::Value> {
    let (last, parents) = path.split_last()?;
    let mut table = table;
    for key in parents {
        table = table.get(key)?.as_table()?;
    }
    table.get(last)
}

/// Sets `value` at `path`, making the tables on the way.
pub(super) fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
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
pub(super) fn typed_value(
    schema: &toml::Table,
    setting: &Setting,
) -> Result<toml::Value, ConfigError> {
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
pub(super) fn example_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(example_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
