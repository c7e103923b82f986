//! Helpers shared by the integration tests: run the real `deskpulse replay -`
//! binary on given input, and read its Prometheus text exposition back.
#![allow(dead_code)]

pub mod broker;
pub mod browser;
pub mod kafka;
pub mod prometheus;
pub mod streams;
pub mod tls;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Map, Value};

/// The files directly in the repository's folder `dir` whose names end in
/// `.ext`, sorted; at least one.
pub fn files_in(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .{ext} file in {}", dir.display());
    files
}

/// The settings of the tests' HTTP clients: an error status is a
/// response to check, not an error, and `timeout` bounds a whole request.
pub fn http_client(
    timeout: std::time::Duration,
) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
}

/// A fixed instant well in the past (2023-11-14T22:13:20Z), so that no
/// test event is ever `future_ts` against the wall clock.
pub const T0: i64 = 1_700_000_000_000;
pub const SEC: i64 = 1_000;
pub const MIN: i64 = 60 * SEC;
pub const HOUR: i64 = 60 * MIN;

/// What a live consumer reports of its own, with every part present
/// (lag, delay, checkpoints), for the families only live mode exports.
pub fn live_consumer_stats() -> deskpulse::source::ConsumerStats {
    use deskpulse::source::{ConsumerStats, PartitionStats, DELAY_BUCKETS};
    ConsumerStats {
        partitions: vec![PartitionStats {
            topic: "support-events".into(),
            partition: 0,
            lag: Some(0),
            checkpoint: Some((1.0, 1_000)),
        }],
        delay: Some(deskpulse::engine::cumulative::ClassicHistogram::new(
            DELAY_BUCKETS,
        )),
        checkpoints: Some(deskpulse::checkpoint::CheckpointStats::default()),
        ..ConsumerStats::default()
    }
}

/// Labels of one series, sorted by name (so lookups ignore label order).
pub type Labels = BTreeMap<String, String>;

/// What one run of the binary produced.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub metrics: Metrics,
}

impl Run {
    /// The run ended normally (exit 0) and nothing panicked.
    pub fn assert_ok(&self) -> &Run {
        assert!(
            self.status.success(),
            "deskpulse exited with {:?}; stderr:\n{}",
            self.status,
            tail(&self.stderr)
        );
        assert!(
            !self.stderr.contains("panicked"),
            "deskpulse panicked; stderr:\n{}",
            tail(&self.stderr)
        );
        self
    }

    /// The summary line: the last line of stderr.
    pub fn summary(&self) -> &str {
        self.stderr.lines().last().unwrap_or("")
    }

    /// `deskpulse_events_rejected_total{reason}`.
    pub fn rejected(&self, reason: &str) -> f64 {
        self.metrics
            .value("deskpulse_events_rejected_total", &[("reason", reason)])
    }

    /// Sum of `deskpulse_events_rejected_total` over every reason.
    pub fn rejected_all(&self) -> f64 {
        self.metrics.sum("deskpulse_events_rejected_total", &[])
    }

    pub fn duplicates(&self) -> f64 {
        self.metrics.value("deskpulse_events_duplicate_total", &[])
    }

    pub fn late(&self) -> f64 {
        self.metrics.value("deskpulse_events_late_total", &[])
    }
}

/// An SLA config whose one policy gives normal-priority tickets (the
/// default) a first-response `target` in every hour, for live tests that
/// wait for a breach.
pub fn first_response_sla(target: &str) -> String {
    format!(
        "[[sla.policy]]\nname = \"all\"\n[sla.policy.targets]\nnormal = {{ first_response = \"{target}\" }}\n"
    )
}

pub fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

pub static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A temporary file with a name no other test (or test process) uses;
/// removed when dropped.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(suffix: &str, contents: &[u8]) -> TempFile {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "deskpulse-test-{}-{}-{}{}",
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed),
            nanos,
            suffix
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).expect("temp file is written");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `deskpulse replay -` with `input` on stdin and, when given, a
/// config file holding `config_toml`.
pub fn replay_bytes(input: &[u8], config_toml: Option<&str>) -> Run {
    replay_with_args(input, config_toml, &[])
}

/// `deskpulse replay -` with more arguments, e.g. `--at`.
pub fn replay_with_args(input: &[u8], config_toml: Option<&str>, args: &[&str]) -> Run {
    let config = config_toml.map(|text| TempFile::new(".toml", text.as_bytes()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_deskpulse"));
    command.args(["replay", "-"]).args(args);
    if let Some(file) = &config {
        command.arg("--config").arg(&file.0);
    }
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("deskpulse starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // Write from a thread: the child may fill its stdout/stderr pipes
    // before it has read all its input.
    let writer = std::thread::spawn(move || {
        // A broken pipe would mean the child stopped reading early; the
        // exit status check below reports that.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("deskpulse finishes");
    writer.join().expect("writer thread");
    let stdout = String::from_utf8(out.stdout).expect("the exposition is UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let metrics = Metrics::parse(&stdout);
    Run {
        status: out.status,
        stdout,
        stderr,
        metrics,
    }
}

/// Joins lines with `\n` (and a final newline).
pub fn join<S: AsRef<str>>(lines: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line.as_ref().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Replays `lines` with the default configuration; checks exit 0 and no panic.
pub fn replay<S: AsRef<str>>(lines: &[S]) -> Run {
    let run = replay_bytes(&join(lines), None);
    run.assert_ok();
    run
}

/// Replays `lines` with a config file; checks exit 0 and no panic.
pub fn replay_with_config<S: AsRef<str>>(lines: &[S], config_toml: &str) -> Run {
    let run = replay_bytes(&join(lines), Some(config_toml));
    run.assert_ok();
    run
}

/// One event line: the envelope plus the fields of `extra` (an object).
pub fn event(event_id: &str, event_type: &str, ts_ms: i64, extra: Value) -> String {
    let mut object = Map::new();
    object.insert("event_id".into(), json!(event_id));
    object.insert("type".into(), json!(event_type));
    object.insert("ts".into(), json!(ts_ms));
    match extra {
        Value::Object(fields) => object.extend(fields),
        Value::Null => {}
        other => panic!("extra fields must be an object, got {other}"),
    }
    Value::Object(object).to_string()
}

/// A stream of events built in any order and replayed sorted by `ts`
/// (stable), so that no event is late. Event ids are generated.
#[derive(Default)]
pub struct Stream {
    events: Vec<(i64, String)>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Adds an event with a fresh `event_id`.
    pub fn add(&mut self, event_type: &str, ts_ms: i64, extra: Value) -> &mut Stream {
        let id = format!("e{}", self.events.len());
        let line = event(&id, event_type, ts_ms, extra);
        self.events.push((ts_ms, line));
        self
    }

    /// The lines, sorted by `ts` (ties keep the order they were added in).
    pub fn lines(&self) -> Vec<String> {
        let mut events = self.events.clone();
        events.sort_by_key(|(ts, _)| *ts);
        events.into_iter().map(|(_, line)| line).collect()
    }

    /// The largest `ts`: replay's clock at the end.
    pub fn clock(&self) -> i64 {
        self.events.iter().map(|(ts, _)| *ts).max().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// The series of a Prometheus text exposition (format 0.0.4).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub series: BTreeMap<(String, Labels), f64>,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let mut series = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, labels, value) = parse_line(line)
                .unwrap_or_else(|e| panic!("exposition line {}: {e}: {line:?}", number + 1));
            let key = (name, labels);
            assert!(
                !series.contains_key(&key),
                "series exported twice: {key:?} (line {})",
                number + 1
            );
            series.insert(key, value);
        }
        Metrics { series }
    }

    /// The value of the series with exactly these labels, if exported.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.series
            .get(&(name.to_owned(), labels_of(labels)))
            .copied()
    }

    /// The value of the series with exactly these labels; panics, listing
    /// the series of that name, when it is not exported.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.get(name, labels) {
            Some(v) => v,
            None => panic!(
                "no series {name}{labels:?}; series of that name:\n{}",
                self.describe(name)
            ),
        }
    }

    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.get(name, labels).is_some()
    }

    /// Series of `name` whose labels include all of `matching`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        matching: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = (&'a Labels, f64)> + 'a {
        self.series
            .iter()
            .filter(move |((n, labels), _)| {
                n == name
                    && matching
                        .iter()
                        .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|((_, labels), v)| (labels, *v))
    }

    /// Sum over the series of `name` whose labels include all of `matching`.
    pub fn sum(&self, name: &str, matching: &[(&str, &str)]) -> f64 {
        self.matching(name, matching).map(|(_, v)| v).sum()
    }

    /// How many series of `name` have labels including all of `matching`.
    pub fn count(&self, name: &str, matching: &[(&str, &str)]) -> usize {
        self.matching(name, matching).count()
    }

    /// Only the series whose metric name starts with `prefix`.
    pub fn with_prefix(&self, prefix: &str) -> BTreeMap<(String, Labels), f64> {
        self.series
            .iter()
            .filter(|((name, _), _)| name.starts_with(prefix))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// The series of `name`, one per line, for failure messages.
    pub fn describe(&self, name: &str) -> String {
        let lines: Vec<String> = self
            .series
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, labels), v)| format!("  {labels:?} {v}"))
            .collect();
        if lines.is_empty() {
            "  (none)".to_owned()
        } else {
            lines.join("\n")
        }
    }
}

pub fn labels_of(labels: &[(&str, &str)]) -> Labels {
    labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Splits `name{labels} value [timestamp]`.
fn parse_line(line: &str) -> Result<(String, Labels, f64), String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut labels = Labels::new();
    let mut rest = &line[name_end..];
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remaining) = parse_labels(after)?;
        labels = parsed;
        rest = remaining;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = parse_value(value)?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("bad timestamp {ts:?}"))?;
    }
    if fields.next().is_some() {
        return Err("trailing text".into());
    }
    Ok((name.to_owned(), labels, value))
}

/// Parses `a="x",b="y"}` (after the opening brace), handling the escapes
/// `\\`, `\"` and `\n` in values; returns the labels and the text after `}`.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Labels::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = s.find('=').ok_or("label without =")?;
        let key = s[..eq].trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad label name {key:?}"));
        }
        s = s[eq + 1..]
            .trim_start()
            .strip_prefix('"')
            .ok_or("label value without quote")?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            let (i, c) = chars.next().ok_or("unterminated label value")?;
            match c {
                '"' => break i,
                '\\' => match chars.next().ok_or("dangling backslash")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => return Err(format!("unknown escape \\{other}")),
                },
                c => value.push(c),
            }
        };
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(format!("label {key} repeated"));
        }
        s = s[end + 1..].trim_start();
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| format!("bad value {s:?}")),
    }
}

/// Asserts `actual` is `expected` up to floating-point rounding of the
/// division that makes a ratio or mean.
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: expected {expected}, got {actual}"
    );
}

/// The exact `_sum`/`_count` pair of one windowed summary series.
pub fn window_sum_count(m: &Metrics, base: &str, labels: &[(&str, &str)]) -> (f64, f64) {
    (
        m.value(&format!("{base}_sum"), labels),
        m.value(&format!("{base}_count"), labels),
    )
}

/// A quantile from HDR histograms with 3 significant digits (§3, §7.13):
/// within one HDR bucket (at most 1/1024 of the value) of the exact one.
#[track_caller]
pub fn assert_quantile(actual: f64, expected: f64, what: &str) {
    let tolerance = expected / 1024.0 + 0.001;
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: expected about {expected} (±{tolerance}), got {actual}"
    );
}

/// Epoch milliseconds as an RFC 3339 instant, e.g. for `--at`.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a valid instant")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A small seeded PRNG (SplitMix64), so that test streams are reproducible
/// without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`; `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        // Multiply-shift: unbiased enough for tests.
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
}
