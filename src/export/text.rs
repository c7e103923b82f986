//! The two text encodings of `/metrics`: Prometheus text 0.0.4 from the
//! `prometheus` crate's encoder, and OpenMetrics 1.0 from the same text
//! with the few lines that differ rewritten.

use std::fmt::Write;

use prometheus::proto::MetricType;
use prometheus::TextEncoder;

use super::families::{Exemplar, Exposition};

/// OpenMetrics allows an exemplar's labels at most this many characters,
/// names and values together; a longer one would fail the whole scrape.
const EXEMPLAR_LABEL_CHARS: usize = 128;

/// Exposition formats of `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the scraper's `Accept` header names it, as
    /// Prometheus does when it prefers it; text otherwise.
    pub fn negotiate(accept: &str) -> Format {
        if accept.contains("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

pub fn encode(exposition: &Exposition, format: Format) -> String {
    let families = &exposition.families;
    let mut out = String::with_capacity(64 * 1024);
    let encoder = TextEncoder::new();
    match format {
        // Encoding only fails for an empty family, which `families` never makes.
        Format::Text => {
            let _ = encoder.encode_utf8(families, &mut out);
        }
        Format::OpenMetrics => {
            // The samples read the same in both formats; the differences are
            // the counter family names (without `_total`) in the metadata
            // lines, the exemplars after counter samples, and the closing
            // `# EOF`.
            let mut family_text = String::new();
            for (family_index, family) in families.iter().enumerate() {
                family_text.clear();
                let _ = encoder.encode_utf8(std::slice::from_ref(family), &mut family_text);
                let name = family.name();
                let meta_name = match family.get_field_type() {
                    MetricType::COUNTER => name.strip_suffix("_total").unwrap_or(name),
                    _ => name,
                };
                // A counter's metrics are one sample line each, in order.
                let mut sample = 0;
                for line in family_text.lines() {
                    match line
                        .strip_prefix("# HELP ")
                        .map(|rest| ("# HELP ", rest))
                        .or_else(|| line.strip_prefix("# TYPE ").map(|rest| ("# TYPE ", rest)))
                    {
                        Some((tag, rest)) => {
                            out.push_str(tag);
                            out.push_str(meta_name);
                            let rest = rest.strip_prefix(name).unwrap_or(rest);
                            // OpenMetrics HELP is an escaped-string, like a
                            // label value: `"` is escaped there too (the
                            // text encoder has escaped `\` and newline).
                            if tag == "# HELP " && rest.contains('"') {
                                out.push_str(&rest.replace('"', "\\\""));
                            } else {
                                out.push_str(rest);
                            }
                        }
                        None => {
                            out.push_str(line);
                            if let Some(e) = exposition.exemplars.get(&(family_index, sample)) {
                                write_exemplar(&mut out, e);
                            }
                            sample += 1;
                        }
                    }
                    out.push('\n');
                }
            }
            out.push_str("# EOF\n");
        }
    }
    out
}

/// ` # {name="value"} 1 seconds`: the counter grew by 1 at that instant.
fn write_exemplar(out: &mut String, e: &Exemplar) {
    let (name, value) = &e.label;
    if name.chars().count() + value.chars().count() > EXEMPLAR_LABEL_CHARS {
        return;
    }
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    let (seconds, ms) = (e.at_ms.div_euclid(1000), e.at_ms.rem_euclid(1000));
    let _ = write!(out, " # {{{name}=\"{escaped}\"}} 1 {seconds}.{ms:03}");
}

#[cfg(test)]
mod tests;
