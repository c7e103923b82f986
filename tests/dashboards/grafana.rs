//! Reading the dashboards as Grafana does: their panels, variables and
//! queries, the variables substituted, and the metric names a query reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use promql_parser::parser::Expr;
use promql_parser::util::ExprVisitor;
use serde_json::Value;

use crate::common::prometheus::read;

/// Grafana's built-in variables as the test sets them. Grafana computes
/// them per panel: `$__interval` from the time range and the panel's
/// width, `$__rate_interval` as the larger of `$__interval` plus the scrape
/// interval and four scrape intervals (the datasource's `timeInterval`),
/// `$__range` as the dashboard's time range. Here the scrape interval is
/// 1 s and the range what the test's Prometheus holds.
pub const BUILT_INS: &[(&str, &str)] = &[
    ("$__rate_interval", "4s"),
    ("$__interval", "1s"),
    ("$__range", "5m"),
];

pub fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub struct Dashboard {
    pub name: String,
    pub file: PathBuf,
    pub json: Value,
}

/// Every `.json` file in deploy/grafana/dashboards/, parsed.
pub fn dashboards() -> Vec<Dashboard> {
    let files = crate::common::files_in("deploy/grafana/dashboards", "json");
    files
        .into_iter()
        .map(|file| {
            let json = serde_json::from_str(&read(&file))
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
            let name = file
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a UTF-8 file name")
                .to_owned();
            Dashboard { name, file, json }
        })
        .collect()
}

pub fn array(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// Every panel, those inside rows included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in array(&dashboard["panels"]) {
        out.push(panel);
        out.extend(array(&panel["panels"]));
    }
    out
}

pub fn variables(dashboard: &Value) -> &[Value] {
    array(&dashboard["templating"]["list"])
}

/// `expr` as Grafana sends it with every variable at "All": the built-ins
/// of `BUILT_INS`, each query variable its `allValue`.
pub fn substitute(dashboard: &Value, expr: &str) -> String {
    let mut out = expr.to_owned();
    for (name, value) in BUILT_INS {
        out = out.replace(name, value);
    }
    for variable in variables(dashboard) {
        let (Some(name), Some(all)) = (variable["name"].as_str(), variable["allValue"].as_str())
        else {
            continue;
        };
        out = out
            .replace(&format!("${{{name}}}"), all)
            .replace(&format!("${name}"), all);
    }
    assert!(
        !out.contains('$'),
        "{expr}: a variable left after substitution: {out}"
    );
    out
}

/// What one panel target or variable asks Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Query {
    /// An instant query.
    Expr(String),
    /// `label_values(selector, label)`: Grafana asks the label values API.
    LabelValues { selector: String, label: String },
}

/// Every query of a dashboard, substituted, with where it comes from.
pub fn queries(dashboard: &Dashboard) -> Vec<(String, Query)> {
    let json = &dashboard.json;
    let mut out = Vec::new();
    for panel in panels(json) {
        for target in array(&panel["targets"]) {
            let expr = target["expr"].as_str().unwrap_or_default();
            let title = panel["title"].as_str().unwrap_or_default();
            assert!(
                !expr.trim().is_empty(),
                "{}: {title}: a target without expr",
                dashboard.name
            );
            out.push((
                format!("{}: {title}", dashboard.name),
                Query::Expr(substitute(json, expr)),
            ));
        }
    }
    for variable in variables(json).iter().filter(|v| v["type"] == "query") {
        let text = variable["query"]["query"].as_str().unwrap_or_default();
        let inner = text
            .strip_prefix("label_values(")
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|args| args.rsplit_once(','))
            .unwrap_or_else(|| {
                panic!(
                    "{}: variable query {text:?} is not label_values(selector, label)",
                    dashboard.name
                )
            });
        out.push((
            format!("{}: variable {}", dashboard.name, variable["name"]),
            Query::LabelValues {
                selector: substitute(json, inner.0.trim()),
                label: inner.1.trim().to_owned(),
            },
        ));
    }
    out
}

/// Every `datasource` in a dashboard, at any depth, with its JSON path.
pub fn datasources<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let here = format!("{at}.{key}");
                if key == "datasource" {
                    out.push((here.clone(), inner));
                }
                datasources(inner, here, out);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                datasources(inner, format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The metric names of an expression's selectors.
pub struct Names(pub BTreeSet<String>);

impl ExprVisitor for Names {
    type Error = String;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        let selector = match expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return Ok(true),
        };
        let name = selector
            .name
            .clone()
            .ok_or("a selector without a metric name")?;
        self.0.insert(name);
        Ok(true)
    }
}

/// docs/metrics.md's families: name, type and whether they carry `window`.
pub fn documented() -> BTreeMap<String, (String, bool)> {
    read(&path("docs/metrics.md"))
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| `")?.split(" | ");
            let name = cells.next()?.strip_suffix('`')?.to_owned();
            let kind = cells.next()?.to_owned();
            let windowed = cells.next()?.contains("`window`");
            Some((name, (kind, windowed)))
        })
        .collect()
}

/// The family a series name belongs to: itself, or a histogram's or
/// summary's without its `_bucket`, `_sum` or `_count`.
pub fn family<'a>(name: &'a str, families: &BTreeMap<String, (String, bool)>) -> Option<&'a str> {
    if families.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| {
            families
                .get(*base)
                .is_some_and(|(kind, _)| kind != "gauge" && kind != "counter")
        })
}
