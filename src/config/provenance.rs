//! Where each effective setting came from (the defaults, the file, a
//! `DESKPULSE_` variable or a CLI override), for `deskpulse check-config`.

use std::collections::BTreeMap;
use std::fmt;

use super::overrides::{lookup, Origin};
use super::{Config, ConfigError};

/// Where one setting's value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Default,
    /// The config file, by the name it was given as.
    File(String),
    /// An environment variable or a CLI flag or `--set`.
    Override(Origin),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File(path) => write!(f, "file {path}"),
            Source::Override(origin) => write!(f, "{origin}"),
        }
    }
}

/// What the layering saw: the file's own tree and the override that last
/// set each path.
#[derive(Debug, Clone)]
pub struct Provenance {
    file_name: String,
    file: toml::Table,
    overrides: BTreeMap<Vec<String>, Origin>,
}

/// One leaf of the effective config, e.g. `kafka.brokers = "b:9092"`.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveSetting {
    /// Dotted, as `--set` takes it: `kafka.properties.sasl.password`.
    pub key: String,
    /// TOML text of the value; a secret is masked.
    pub value: String,
    pub source: Source,
}

impl fmt::Display for EffectiveSetting {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} = {}  ({})", self.key, self.value, self.source)
    }
}

/// What stands in for a secret's value.
const MASK: &str = "\"********\"";

/// Key fragments that mark a secret: passwords, client secrets, tokens,
/// OAUTHBEARER settings (which hold credentials) and private SSL keys.
const SECRET_MARKS: [&str; 5] = ["password", "secret", "token", "sasl.oauthbearer", "ssl.key"];

/// A deskpulse setting ending so names the file a secret is in, which is
/// no secret itself.
const SECRET_FILE_SUFFIX: &str = "_file";

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_MARKS.iter().any(|mark| key.contains(mark)) && !key.ends_with(SECRET_FILE_SUFFIX)
}

impl Provenance {
    pub(super) fn new(
        file_name: &str,
        file: toml::Table,
        overrides: BTreeMap<Vec<String>, Origin>,
    ) -> Provenance {
        Provenance {
            file_name: file_name.to_owned(),
            file,
            overrides,
        }
    }

    /// Every leaf of `config` (the one this provenance was built with), in
    /// key order, with where it came from; secrets masked.
    pub fn settings(&self, config: &Config) -> Result<Vec<EffectiveSetting>, ConfigError> {
        let mut tree = toml::Table::try_from(config)
            .map_err(|e| ConfigError::Invalid(format!("cannot show the settings: {e}")))?;
        // Not serialised with the rest (they come from the file alone), so
        // shown as the file wrote them.
        for table in ["sla", "custom_ratio"] {
            if let Some(value) = self.file.get(table) {
                tree.insert(table.to_owned(), value.clone());
            }
        }
        let mut leaves = Vec::new();
        flatten(&tree, &mut Vec::new(), &mut leaves);
        Ok(leaves
            .into_iter()
            .map(|(path, value)| {
                let key = path.join(".");
                let source = match self.overrides.get(&path) {
                    Some(origin) => Source::Override(origin.clone()),
                    None if lookup(&self.file, &path).is_some() => {
                        Source::File(self.file_name.clone())
                    }
                    None => Source::Default,
                };
                let value = if is_secret(&key) {
                    MASK.to_owned()
                } else {
                    value.to_string()
                };
                EffectiveSetting { key, value, source }
            })
            .collect())
    }
}

/// The non-table values under `table`, with their paths. Arrays are
/// leaves: an override sets a list whole.
fn flatten<'t>(
    table: &'t toml::Table,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, &'t toml::Value)>,
) {
    for (key, value) in table {
        path.push(key.clone());
        match value {
            toml::Value::Table(inner) => flatten(inner, path, out),
            leaf => out.push((path.clone(), leaf)),
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::is_secret;

    #[test]
    fn secrets_are_recognised_by_key() {
        for key in [
            "kafka.properties.sasl.password",
            "kafka.properties.ssl.key.pem",
            "kafka.properties.ssl.keystore.password",
            "kafka.properties.sasl.oauthbearer.client.secret",
            "kafka.properties.sasl.oauthbearer.config",
            "x.api_token",
            "http.bearer_token",
            "http.basic_password",
        ] {
            assert!(is_secret(key), "{key}");
        }
        for key in [
            "kafka.brokers",
            "kafka.properties.sasl.username",
            "http.bearer_token_file",
            "http.basic_password_file",
        ] {
            assert!(!is_secret(key), "{key}");
        }
    }
}
