//! Prometheus's `promtool` and the rules shipped under deploy/prometheus/.
//! `promtool` comes from Debian's prometheus package, which
//! `tests/with-broker` installs; the tests fail, never skip, without it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

pub const MISSING: &str = "is not on PATH: run the tests as `tests/with-broker cargo test`, \
                           which installs Debian's prometheus package";

/// What one `promtool` run said: its exit status, stdout then stderr.
pub struct Promtool {
    pub status: ExitStatus,
    pub report: String,
}

/// Runs `promtool args`, writing `stdin` to it when given.
pub fn promtool(args: &[&str], stdin: Option<&str>) -> Promtool {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool {MISSING} ({e})"));
    // From a thread: promtool may fill its output pipes before it has
    // read all of its input.
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let input = input.to_owned();
        std::thread::spawn(move || pipe.write_all(input.as_bytes()))
    });
    let out = child.wait_with_output().expect("promtool finishes");
    if let Some(writer) = writer {
        writer
            .join()
            .expect("writer thread")
            .expect("promtool reads its input");
    }
    Promtool {
        status: out.status,
        report: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn yml_in(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .yml file in {}", dir.display());
    files
}

/// The shipped rule files: every `.yml` file directly in deploy/prometheus/,
/// so that a new one is checked without being listed anywhere.
pub fn rule_files() -> Vec<PathBuf> {
    yml_in("deploy/prometheus")
}

/// The promtool unit tests of the rules: every `.yml` file in
/// deploy/prometheus/tests/.
pub fn rule_tests() -> Vec<PathBuf> {
    yml_in("deploy/prometheus/tests")
}

pub fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value of each `key: value` line of a YAML file (a list item's
/// leading `- ` allowed), in order, unquoted.
pub fn values_of<'a>(yaml: &'a str, key: &str) -> Vec<&'a str> {
    yaml.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("- ").unwrap_or(line).trim_start();
            line.strip_prefix(key)?.strip_prefix(':')
        })
        .map(|value| value.trim().trim_matches(['"', '\'']))
        .collect()
}

/// The names of the alerting rules of a rules file.
pub fn alert_names(rules: &str) -> Vec<String> {
    values_of(rules, "alert")
        .into_iter()
        .map(str::to_owned)
        .collect()
}
