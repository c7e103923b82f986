//! Real-broker helpers: the broker `tests/with-broker` started, topics,
//! producing, and deskpulse as a separate process scraped over HTTP.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deskpulse::config::KafkaConfig;
use deskpulse::generate::{Generator, GeneratorConfig};
use deskpulse::produce::ensure_topic;
use deskpulse::produce::partition_key;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use super::{Metrics, UNIQUE};

/// librdkafka fetches ahead while its queue is short of
/// `queued.min.messages`, so a backlog is normally fetched in a few large
/// fetches, faster than it is applied, and nothing ever waits for the
/// broker. Fetch limits below any batch (a broker still returns one whole
/// batch) and no fetching ahead make it one batch a fetch, each fetched
/// once the one before is handed over: the consumer keeps finding nothing
/// to read while the partition is far from its end. (librdkafka wants
/// `fetch.max.bytes` ≥ `message.max.bytes`; the events are smaller.)
pub const ONE_BATCH_A_FETCH: [&str; 8] = [
    "--set",
    "kafka.properties.queued.min.messages=1",
    "--set",
    "kafka.properties.max.partition.fetch.bytes=1",
    "--set",
    "kafka.properties.fetch.max.bytes=1000",
    "--set",
    "kafka.properties.message.max.bytes=1000",
];

/// The broker's address; the tests fail, never skip, without one.
pub fn brokers() -> String {
    std::env::var("KAFKA_TEST_BROKERS").expect(
        "KAFKA_TEST_BROKERS is not set: run the tests as `tests/with-broker cargo test`, which starts a Kafka broker",
    )
}

pub fn kafka() -> KafkaConfig {
    kafka_on(&brokers())
}

/// The client settings of the tests, against the brokers at `brokers`.
pub fn kafka_on(brokers: &str) -> KafkaConfig {
    KafkaConfig {
        brokers: brokers.to_owned(),
        startup_timeout: Duration::from_secs(30),
        ..KafkaConfig::default()
    }
}

/// A new topic of `partitions`, named for this test and run.
pub fn topic(hint: &str, partitions: i32) -> String {
    topic_on(&kafka(), hint, partitions)
}

/// [`topic`] on the brokers of `kafka`.
pub fn topic_on(kafka: &KafkaConfig, hint: &str, partitions: i32) -> String {
    let name = format!(
        "{hint}-{}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        deskpulse::source::wall_ms()
    );
    ensure_topic(kafka, &name, partitions).expect("the test topic is created");
    name
}

/// Produces `lines` keyed as SPEC §1 asks (what `deskpulse produce` does)
/// and waits until every one is delivered.
pub fn produce<S: AsRef<str>>(topic: &str, lines: &[S]) {
    produce_ends(topic, lines);
}

/// Per partition, the offset one past its last message: where a consumer
/// that has read everything stands, and what its group commits.
pub type Ends = BTreeMap<i32, i64>;

/// [`produce`], returning the end of every partition written to, from the
/// broker's own delivery reports (Tansu's ListOffsets can under-report the
/// end, so watermarks are not asked for).
pub fn produce_ends<S: AsRef<str>>(topic: &str, lines: &[S]) -> Ends {
    produce_ends_on(&kafka(), topic, lines)
}

/// [`produce_ends`] on the brokers of `kafka`.
pub fn produce_ends_on<S: AsRef<str>>(kafka: &KafkaConfig, topic: &str, lines: &[S]) -> Ends {
    produce_with(kafka, topic, None, lines, None)
}

/// Produces `lines`, still keyed, all to `partition`: for streams that must
/// be laid out on chosen partitions.
pub fn produce_to<S: AsRef<str>>(topic: &str, partition: i32, lines: &[S]) -> Ends {
    produce_with(&kafka(), topic, Some(partition), lines, None)
}

/// [`produce_to`] in record batches of at most `per_batch` messages: the
/// broker hands a consumer whole batches, so this sets how finely a
/// backlog is fetched.
pub fn produce_to_in_batches<S: AsRef<str>>(
    topic: &str,
    partition: i32,
    lines: &[S],
    per_batch: usize,
) -> Ends {
    produce_with(&kafka(), topic, Some(partition), lines, Some(per_batch))
}

/// The later end of each partition of `a` and `b`: the ends after
/// producing both.
pub fn merged(a: &Ends, b: &Ends) -> Ends {
    let mut out = a.clone();
    for (partition, end) in b {
        let e = out.entry(*partition).or_insert(*end);
        *e = (*e).max(*end);
    }
    out
}

/// Records every delivery report: the ends reached, and failures.
#[derive(Default)]
struct Deliveries {
    ends: Mutex<Ends>,
    delivered: Mutex<usize>,
    failed: Mutex<Vec<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                let mut ends = self.ends.lock().expect("ends");
                let end = ends.entry(message.partition()).or_insert(0);
                *end = (*end).max(message.offset() + 1);
                *self.delivered.lock().expect("delivered") += 1;
            }
            Err((error, _)) => self.failed.lock().expect("failed").push(error.to_string()),
        }
    }
}

fn produce_with<S: AsRef<str>>(
    kafka: &KafkaConfig,
    topic: &str,
    partition: Option<i32>,
    lines: &[S],
    per_batch: Option<usize>,
) -> Ends {
    let mut config = deskpulse::source::kafka::client_config(kafka);
    config.set("linger.ms", "5");
    if let Some(per_batch) = per_batch {
        config.set("batch.num.messages", per_batch.to_string());
    }
    let producer: BaseProducer<Deliveries> = config
        .create_with_context(Deliveries::default())
        .expect("the test producer starts");
    for line in lines {
        let line = line.as_ref();
        let key = partition_key(line);
        let mut record = BaseRecord::to(topic)
            .key(key.as_bytes())
            .payload(line.as_bytes());
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        deskpulse::source::kafka::send_waiting(&producer, record).expect("the event is produced");
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("every event is delivered");
    let deliveries = producer.context();
    let failed = deliveries.failed.lock().expect("failed");
    assert!(failed.is_empty(), "deliveries failed: {failed:?}");
    assert_eq!(
        *deliveries.delivered.lock().expect("delivered"),
        lines.len(),
        "a delivery report for every event"
    );
    let ends = deliveries.ends.lock().expect("ends").clone();
    ends
}

/// The offsets `group` has committed on the partitions of `ends` of
/// `topic`, read through `reader` (a consumer of that group id that never
/// joins it); partitions without a commit are left out.
fn committed(reader: &BaseConsumer, topic: &str, ends: &Ends) -> Ends {
    let mut list = TopicPartitionList::new();
    for partition in ends.keys() {
        list.add_partition(topic, *partition);
    }
    match reader.committed_offsets(list, Duration::from_secs(10)) {
        Ok(list) => list
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect(),
        Err(_) => Ends::new(),
    }
}

/// The offsets `group` has committed on `topic`, once they equal `ends`:
/// everything up to the ends is then applied by whoever owns each
/// partition (an offset is committed only once its message is applied),
/// so no message is still on its way. Panics after two minutes, with
/// `context()`.
pub fn wait_committed(group: &str, topic: &str, ends: &Ends, context: impl Fn() -> String) {
    wait_committed_on(&kafka(), group, topic, ends, context)
}

/// [`wait_committed`] on the brokers of `kafka`.
pub fn wait_committed_on(
    kafka: &KafkaConfig,
    group: &str,
    topic: &str,
    ends: &Ends,
    context: impl Fn() -> String,
) {
    let reader: BaseConsumer = deskpulse::source::kafka::client_config(kafka)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("the offsets reader starts");
    let last = std::cell::RefCell::new(Ends::new());
    eventually(
        "offsets committed at the end of every partition",
        || {
            format!(
                "ends {ends:?}, committed {:?}; {}",
                last.borrow(),
                context()
            )
        },
        || {
            let now = committed(&reader, topic, ends);
            let done = &now == ends;
            *last.borrow_mut() = now;
            done
        },
    );
}

/// The offsets `group` has committed on the partitions of `ends`, now.
pub fn committed_now(group: &str, topic: &str, ends: &Ends) -> Ends {
    let reader: BaseConsumer = deskpulse::source::kafka::client_config(&kafka())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("the offsets reader starts");
    committed(&reader, topic, ends)
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

/// About `n` generated events (two a second) whose last `ts` is at most
/// `end_ms` and within about a second of it, each with its `ts`.
pub fn generated_until(n: usize, seed: u64, end_ms: i64) -> Vec<(i64, String)> {
    let events_per_sec = 2.0;
    let span_ms = (n as f64 / events_per_sec * 1000.0) as i64;
    let mut generator = Generator::new(GeneratorConfig {
        seed,
        start_ms: end_ms - span_ms,
        events_per_sec,
        ..GeneratorConfig::default()
    });
    let mut out = Vec::new();
    loop {
        let line = generator.next().expect("the generator is endless");
        let ts = generator.clock_ms();
        if ts > end_ms {
            return out;
        }
        out.push((ts, line));
    }
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
    /// The child's `TMPDIR` (where a demo keeps its checkpoints), removed
    /// with it: a killed demo cannot remove its own.
    scratch: PathBuf,
    pub base: String,
    stderr: Arc<Mutex<String>>,
    /// One message from each output reader thread when its pipe closes.
    readers_done: mpsc::Receiver<()>,
    agent: ureq::Agent,
}

/// The state directory of this test process's deskpulse instances, under
/// the build's own scratch directory rather than the system's.
pub fn test_state_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("test-state-{}", std::process::id()))
}

pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Deskpulse {
    /// `deskpulse run` against the test broker on a free port. Checkpoints
    /// go to one directory per test process (topics and groups are per
    /// test, so tests never see each other's), which `args` may override.
    pub fn run(args: &[&str]) -> Deskpulse {
        Deskpulse::run_on(&brokers(), args)
    }

    /// [`Deskpulse::run`] against the brokers at `brokers`.
    pub fn run_on(brokers: &str, args: &[&str]) -> Deskpulse {
        let state_dir = format!("state.dir={}", test_state_dir().display());
        let mut all = vec![
            "run",
            "--brokers",
            brokers,
            "--listen",
            "127.0.0.1:0",
            "--set",
            "kafka.properties.fetch.wait.max.ms=10",
            "--set",
            &state_dir,
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
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "deskpulse-{}-{}",
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&scratch).expect("a scratch directory");
        let mut child = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(args)
            .env("RUST_LOG", "info")
            .env("TMPDIR", &scratch)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("deskpulse starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (found, address) = mpsc::channel();
        let (reader_done, readers_done) = mpsc::channel();
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
            let done = reader_done.clone();
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
                let _ = done.send(());
            });
        }
        // Only the readers hold senders now: when both pipes close (the
        // process ended) before the address line, the wait below ends at
        // once instead of after its timeout.
        drop(found);
        let agent = super::http_client(Duration::from_secs(30))
            .build()
            .new_agent();
        match address.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => Deskpulse {
                child,
                scratch,
                base,
                stderr,
                readers_done,
                agent,
            },
            Err(why) => {
                let _ = child.kill();
                let status = child.wait();
                let _ = std::fs::remove_dir_all(&scratch);
                let why = match why {
                    mpsc::RecvTimeoutError::Timeout => "did not start serving within 60 s",
                    mpsc::RecvTimeoutError::Disconnected => "exited before serving",
                };
                // Whatever the reason, the readers end once the process
                // is gone; wait for them so that its last lines are kept.
                for _ in 0..2 {
                    let _ = readers_done.recv_timeout(Duration::from_secs(10));
                }
                panic!(
                    "deskpulse {args:?} {why} ({status:?}); stderr:\n{}",
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

    /// Sends SIGKILL (a crash: nothing is saved or committed on the way
    /// out) and waits for the exit.
    pub fn kill(mut self) {
        self.child.kill().expect("deskpulse is killed");
        self.child.wait().expect("deskpulse exits");
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let status = self.child.wait().expect("deskpulse exits");
        // The reader threads hold the last lines until the pipes close,
        // which the exit does: wait for both to finish.
        for stream in ["stdout", "stderr"] {
            self.readers_done
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| {
                    panic!(
                        "an output reader ({stream}?) did not end within 10 s of the exit; stderr so far:\n{}",
                        self.stderr()
                    )
                });
        }
        (status, self.stderr())
    }
}

impl Drop for Deskpulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
