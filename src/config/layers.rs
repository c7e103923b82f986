//! The layering of the sources: the file (or the defaults), then the
//! `DESKPULSE_` environment, then the CLI; a file error carries its line,
//! an override error names the variable or flag it came from.

use std::collections::BTreeMap;
use std::path::Path;

use super::overrides::{
    cli_path, env_path, example_text, insert, lookup, schema, typed_value, Origin, Setting,
};
use super::provenance::Provenance;
use super::{Config, ConfigError};

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
        Self::layered(text, "<text>", Vec::new()).map(|(config, _)| config)
    }

    /// The file (or the defaults), then the `DESKPULSE_` environment, then
    /// the CLI overrides; later ones win. Validated.
    pub fn resolve(sources: &Sources) -> Result<Config, ConfigError> {
        Self::resolve_traced(sources).map(|(config, _)| config)
    }

    /// [`Config::resolve`], and where each setting's value came from.
    pub fn resolve_traced(sources: &Sources) -> Result<(Config, Provenance), ConfigError> {
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

    /// `text` (a TOML file named `path` in messages) with `settings` laid
    /// over it, and the origin of every leaf the file or a setting gave.
    fn layered(
        text: &str,
        path: &str,
        settings: Vec<Setting>,
    ) -> Result<(Config, Provenance), ConfigError> {
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
        // The table first: a literal secret is refused before any message
        // about its type could quote it.
        let file: toml::Table = toml::from_str(text).map_err(parse_error)?;
        super::validate::refuse_literal_secrets(&file, path, &settings)?;
        let mut config: Config = toml::from_str(text).map_err(parse_error)?;
        // Later settings of the same path replace earlier ones here as
        // they do in the table.
        let mut origins = BTreeMap::new();
        if !settings.is_empty() {
            let mut table = file.clone();
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
                origins.insert(setting.path.clone(), setting.origin.clone());
            }
            config = toml::Value::Table(table)
                .try_into()
                .map_err(|e| ConfigError::Invalid(one_line(e.message())))?;
        }
        config.validate()?;
        config.sla_rules = config.sla.rules().map_err(ConfigError::Invalid)?;
        let provenance = Provenance::new(path, file, origins);
        Ok((config, provenance))
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
