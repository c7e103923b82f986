//! Prometheus's `promtool`, a real Prometheus server, and the rules shipped
//! under deploy/prometheus/. Both come from Debian's prometheus package,
//! which `tests/with-broker` installs; the tests fail, never skip, without
//! it.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use deskpulse::source::wall_ms;
use serde_json::Value;

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

/// The shipped rule files: every `.yml` file directly in deploy/prometheus/,
/// so that a new one is checked without being listed anywhere.
pub fn rule_files() -> Vec<PathBuf> {
    super::files_in("deploy/prometheus", "yml")
}

/// How many rules, alerting and recording, the shipped rule files hold.
pub fn shipped_rules() -> usize {
    rule_files()
        .iter()
        .map(|file| {
            let text = read(file);
            values_of(&text, "alert").len() + values_of(&text, "record").len()
        })
        .sum()
}

/// The promtool unit tests of the rules: every `.yml` file in
/// deploy/prometheus/tests/.
pub fn rule_tests() -> Vec<PathBuf> {
    super::files_in("deploy/prometheus/tests", "yml")
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

/// A free port on 127.0.0.1 (free when asked; Prometheus binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A Prometheus server with its own config and storage in a temporary
/// directory; killed, and the directory removed, when dropped.
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    pub base: String,
    agent: ureq::Agent,
}

impl Prometheus {
    /// Scrapes `target` (`host:port`) every second as job `deskpulse`, and
    /// evaluates `rule_files` every second.
    pub fn start(target: &str, rule_files: &[PathBuf]) -> Prometheus {
        Prometheus::start_scraping(&[target], rule_files)
    }

    /// [`Prometheus::start`] with several targets in the job, as a fleet
    /// of instances is scraped.
    pub fn start_scraping(targets: &[&str], rule_files: &[PathBuf]) -> Prometheus {
        // Unique per server: two tests may start one in the same ms.
        let dir = std::env::temp_dir().join(format!(
            "deskpulse-prometheus-{}-{}-{}",
            std::process::id(),
            super::UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            wall_ms()
        ));
        std::fs::create_dir_all(dir.join("data")).expect("the temp dir is made");
        let config = dir.join("prometheus.yml");
        let targets = targets
            .iter()
            .map(|target| format!("'{target}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let rules: String = rule_files
            .iter()
            .map(|file| format!("  - '{}'\n", file.display()))
            .collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n{rules}\
                 scrape_configs:\n  - job_name: deskpulse\n    static_configs:\n      - targets: [{targets}]\n"
            ),
        )
        .expect("the config is written");
        let listen = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("the log is made");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("prometheus {MISSING} ({e})"));
        let agent = super::http_client(Duration::from_secs(10))
            .build()
            .new_agent();
        let mut prometheus = Prometheus {
            child,
            dir,
            base: format!("http://{listen}"),
            agent,
        };
        prometheus.wait("Prometheus ready", |p| {
            p.get("/-/ready", &[])
                .is_some_and(|(status, _)| status == 200)
        });
        prometheus
    }

    /// GET `path` with `query` pairs (percent-encoded by ureq).
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Option<(u16, String)> {
        let mut request = self.agent.get(&format!("{}{path}", self.base));
        for (key, value) in query {
            request = request.query(*key, *value);
        }
        let mut response = request.call().ok()?;
        let status = response.status().as_u16();
        Some((status, response.body_mut().read_to_string().ok()?))
    }

    /// The `data` of a successful answer of the HTTP API at `path`.
    pub fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let (status, body) = self
            .get(path, query)
            .unwrap_or_else(|| panic!("{path} {query:?}: no answer; log:\n{}", self.log()));
        assert_eq!(status, 200, "{path} {query:?}: {body}");
        let mut answer: Value = serde_json::from_str(&body).expect("the API answers JSON");
        assert_eq!(answer["status"], "success", "{path} {query:?}: {body}");
        answer["data"].take()
    }

    /// The result vector of an instant query (`/api/v1/query`).
    pub fn query(&self, promql: &str) -> Vec<Value> {
        list(&self.api("/api/v1/query", &[("query", promql)])["result"])
    }

    /// Every alert, pending or firing (`/api/v1/alerts`).
    pub fn alerts(&self) -> Vec<Value> {
        list(&self.api("/api/v1/alerts", &[])["alerts"])
    }

    /// Every rule of every group (`/api/v1/rules`), with its health.
    pub fn rules(&self) -> Vec<Value> {
        list(&self.api("/api/v1/rules", &[])["groups"])
            .iter()
            .flat_map(|group| list(&group["rules"]))
            .collect()
    }

    /// The value of a query that has one series, if it has one.
    pub fn scalar(&self, promql: &str) -> Option<f64> {
        match self.query(promql).as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Checks `done` every 200 ms; panics after 60 s, or if Prometheus exits.
    pub fn wait(&mut self, what: &str, mut done: impl FnMut(&Prometheus) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(self) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{what}: prometheus exited ({status}); log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 60 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

pub fn list(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
