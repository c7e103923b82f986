//! Real-broker helpers: the broker `tests/with-broker` started, topics,
//! producing, and deskpulse as a separate process scraped over HTTP.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deskpulse::config::KafkaConfig;
use deskpulse::generate::{Generator, GeneratorConfig};
use deskpulse::produce::{ensure_topic, EventProducer};

use super::{Metrics, UNIQUE};

/// The broker's address; the tests fail, never skip, without one.
pub fn brokers() -> String {
    std::env::var("KAFKA_TEST_BROKERS").expect(
        "KAFKA_TEST_BROKERS is not set: run the tests as `tests/with-broker cargo test`, which starts a Kafka broker",
    )
}

pub fn kafka() -> KafkaConfig {
    KafkaConfig {
        brokers: brokers(),
        startup_timeout: Duration::from_secs(30),
        ..KafkaConfig::default()
    }
}

/// A new topic of `partitions`, named for this test and run.
pub fn topic(hint: &str, partitions: i32) -> String {
    let name = format!(
        "{hint}-{}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        deskpulse::source::wall_ms()
    );
    ensure_topic(&kafka(), &name, partitions).expect("the test topic is created");
    name
}

pub fn produce<S: AsRef<str>>(topic: &str, lines: &[S]) {
    let producer = EventProducer::new(&kafka(), topic).expect("the test producer starts");
    for line in lines {
        producer.send(line.as_ref()).expect("the event is produced");
    }
    producer.flush().expect("every event is delivered");
}

/// `n` generated events that end before now (so none is `future_ts`).
pub fn generated(n: usize, seed: u64) -> Vec<String> {
    let events_per_sec = 2.0;
    let span_ms = (n as f64 / events_per_sec * 1000.0) as i64;
    Generator::new(GeneratorConfig {
        seed,
        start_ms: deskpulse::source::wall_ms() - span_ms - 30 * 60 * 1000,
        events_per_sec,
        ..GeneratorConfig::default()
    })
    .take(n)
    .collect()
}

/// Accepted, rejected and duplicate events: every message read.
pub fn processed(m: &Metrics) -> f64 {
    m.sum("deskpulse_events_total", &[])
        + m.sum("deskpulse_events_rejected_total", &[])
        + m.sum("deskpulse_events_duplicate_total", &[])
}

/// Checks `done` every 100 ms; panics with `what` and `context()` after
/// two minutes.
pub fn eventually(what: &str, context: impl Fn() -> String, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within 2 min; {}",
            context()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running `deskpulse run` or `deskpulse demo`; killed when dropped.
pub struct Deskpulse {
    child: Child,
    pub base: String,
    stderr: Arc<Mutex<String>>,
    agent: ureq::Agent,
}

pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Deskpulse {
    /// `deskpulse run` against the test broker on a free port.
    pub fn run(args: &[&str]) -> Deskpulse {
        let brokers = brokers();
        let mut all = vec![
            "run",
            "--brokers",
            &brokers,
            "--listen",
            "127.0.0.1:0",
            "--set",
            "kafka.properties.fetch.wait.max.ms=10",
        ];
        all.extend_from_slice(args);
        Deskpulse::start(&all, |line| {
            line.split_once("serving HTTP address=")
                .map(|(_, rest)| format!("http://{}", rest.trim()))
        })
    }

    /// `deskpulse demo` on a free port: no broker of ours involved.
    pub fn demo(args: &[&str]) -> Deskpulse {
        let mut all = vec!["demo", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Deskpulse::start(&all, |line| {
            let url = line.split_once("wallboard at ")?.1.split(' ').next()?;
            Some(url.trim_end_matches('/').to_owned())
        })
    }

    /// Starts the binary and waits for the line, on stdout or stderr, that
    /// `address_in` finds the HTTP address in.
    fn start(args: &[&str], address_in: fn(&str) -> Option<String>) -> Deskpulse {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("deskpulse starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (found, address) = mpsc::channel();
        // Each output stream, and where to keep its lines (stderr only).
        type Reader = (Box<dyn Read + Send>, Option<Arc<Mutex<String>>>);
        let readers: [Reader; 2] = [
            (
                Box::new(child.stdout.take().expect("stdout is piped")),
                None,
            ),
            (
                Box::new(child.stderr.take().expect("stderr is piped")),
                Some(stderr.clone()),
            ),
        ];
        for (stream, keep) in readers {
            let found = found.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(address) = address_in(&line) {
                        let _ = found.send(address);
                    }
                    if let Some(keep) = &keep {
                        let mut kept = keep.lock().expect("stderr buffer");
                        kept.push_str(&line);
                        kept.push('\n');
                    }
                }
            });
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        match address.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => Deskpulse {
                child,
                base,
                stderr,
                agent,
            },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "deskpulse {args:?} did not start serving within 60 s ({status:?}); stderr:\n{}",
                    stderr.lock().expect("stderr buffer")
                );
            }
        }
    }

    pub fn get_accepting(&self, path: &str, accept: &str) -> Response {
        let mut response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("Accept", accept)
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}; stderr:\n{}", self.stderr()));
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Response {
            status: response.status().as_u16(),
            content_type,
            body: response
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .unwrap_or_else(|e| panic!("GET {path}: body: {e}")),
        }
    }

    pub fn get(&self, path: &str) -> Response {
        self.get_accepting(path, "*/*")
    }

    pub fn metrics(&self) -> Metrics {
        let response = self.get("/metrics");
        assert_eq!(response.status, 200, "/metrics: {}", response.body);
        Metrics::parse(&response.body)
    }

    /// Scrapes until `done` holds; panics after `timeout`.
    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Metrics) -> bool,
    ) -> Metrics {
        let deadline = Instant::now() + timeout;
        loop {
            let metrics = self.metrics();
            if done(&metrics) {
                return metrics;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {timeout:?}; processed {}; stderr:\n{}",
                processed(&metrics),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for `/readyz`: joined and at the end of every partition.
    pub fn wait_ready(&self) {
        eventually(
            "ready",
            || self.stderr(),
            || self.get("/readyz").status == 200,
        );
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let status = self.child.wait().expect("deskpulse exits");
        // The reader threads hold the last lines until the pipe closes.
        std::thread::sleep(Duration::from_millis(100));
        (status, self.stderr())
    }
}

impl Drop for Deskpulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
