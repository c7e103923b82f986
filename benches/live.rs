//! Live benchmark against a real Kafka-protocol broker; run it through
//! `benches/live`, which starts one. It prints a table, not a timed test:
//!
//! 1. Drain: a topic is filled with generated events, then read on the same
//!    broker by a consume-only rdkafka loop (the ceiling: what a client can
//!    get out of this broker here at all) and by the release `deskpulse
//!    run`. Target: deskpulse at least 0.6 × the ceiling. deskpulse's end is
//!    watched through `/readyz`, because every `/metrics` scrape has
//!    deskpulse snapshot all its state, which slows a drain of a big state;
//!    a second drain, scraped every 50 ms, shows by how much (over its
//!    first 5 s at most, to bound the bench's time).
//! 2. Sustainable rate: on a fresh topic, events are produced flat out for
//!    10 s (or 2,000,000 events, whichever first) while a fresh deskpulse
//!    consumes them. The rate is what deskpulse applied meanwhile, by its
//!    own counters read at the start and the end, but no more than the
//!    producer achieved: what the whole pipeline (producer, broker,
//!    deskpulse) sustains on this machine with everything running at once.
//!    The drain rate of 1 is no such rate: there nothing else runs.
//! 3. Latency: on a fresh topic, events are produced in real time at half
//!    the sustainable rate of 2, while `/metrics` is scraped every 100 ms
//!    (each scrape snapshots all state, so scraping flat out would slow
//!    the work it measures; Prometheus scrapes every 15 s or so); the
//!    delay of an event is from its hand-over to the producer to the first
//!    scrape that counts it. Target: p99 at most 1 s.
//!
//! deskpulse runs as a separate process, as in production, so that the
//! HTTP path and the consumer thread's work on each scrape are included.
//! DESKPULSE_* variables in the environment reach it as settings (to try a
//! tuning); the table lists them.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Message;

use deskpulse::config::KafkaConfig;
use deskpulse::generate::{Generator, GeneratorConfig};
use deskpulse::produce::{ensure_topic, EventProducer};
use deskpulse::source::kafka::client_config;

// The real-broker tests' harness: deskpulse as a child process, scraped.
#[path = "../tests/common/mod.rs"]
mod common;
use common::kafka::{processed, Deskpulse};
use common::Metrics;
use deskpulse::source::wall_ms;

const PARTITIONS: i32 = 4;
/// Events in the drained topic, unless LIVE_BENCH_EVENTS says otherwise:
/// enough for the ceiling to take most of a second and deskpulse several,
/// little enough to fill in seconds.
const DRAIN_EVENTS: u64 = 1_000_000;
/// How long events are produced in the latency run.
const LATENCY_RUN: Duration = Duration::from_secs(15);
/// Poll interval while draining: the resolution of the drain's start and
/// end, fine enough for a drain of seconds.
const DRAIN_SCRAPE_EVERY: Duration = Duration::from_millis(50);
/// Longest the drain scraped every 50 ms is followed: enough for some 100
/// scrapes and a steady rate; a deskpulse slowed down a lot by scraping
/// would otherwise make this row the longest part of the bench.
const SCRAPED_DRAIN_MAX: Duration = Duration::from_secs(5);
/// The flat-out production of the sustainable-rate phase ends after this
/// long or this many events, whichever first: long enough for queues and
/// batching to settle, short enough for the bench.
const SUSTAIN_RUN: Duration = Duration::from_secs(10);
const SUSTAIN_MAX_EVENTS: u64 = 2_000_000;
/// Pause between scrapes in the latency run: the resolution of the delay,
/// beside the scrape itself, while leaving the two cores to the work.
/// A scrape costs tens of milliseconds of the workers' time here.
const LATENCY_SCRAPE_EVERY: Duration = Duration::from_millis(100);
/// Longest wait for any one phase before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(180);
const SEED: u64 = 42;
const HOUR_MS: i64 = 3_600_000;

/// Everything the table shows.
struct Results {
    brokers: String,
    events: u64,
    fill_secs: f64,
    ceiling: Drain,
    deskpulse: Drain,
    /// The same drain while `/metrics` is scraped every 50 ms (possibly
    /// only its first [`SCRAPED_DRAIN_MAX`]).
    scraped: Drain,
    drain_scrape_p50: Duration,
    sustained: Sustained,
    latency: Latency,
    /// DESKPULSE_* settings passed on from the environment.
    settings: Vec<String>,
}

struct Drain {
    events_per_sec: f64,
    secs: f64,
    /// Events the rate is over: all of the topic unless the drain was cut
    /// short.
    events: u64,
}

/// The sustainable-rate phase.
struct Sustained {
    /// The lower of the two rates below: what the pipeline sustains.
    rate: f64,
    produced: u64,
    /// From the first send until every message was delivered.
    producer_secs: f64,
    producer_rate: f64,
    /// Events deskpulse applied between the scrapes at the start and end
    /// of the phase, `secs` apart.
    applied: u64,
    applied_rate: f64,
    secs: f64,
}

struct Latency {
    rate: f64,
    produced: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    scrape_p50: Duration,
    scrapes: usize,
    /// How far the producer fell behind its schedule at worst: if large,
    /// the rate asked for was not the rate produced.
    producer_behind: Duration,
}

fn main() -> ExitCode {
    // `cargo bench` passes --bench; without it this is `cargo test
    // --benches` (or --all-targets), which should not start a
    // minutes-long run against a broker.
    if !std::env::args().any(|a| a == "--bench") {
        println!("live bench: not run outside `cargo bench`; run benches/live");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(results) => {
            print_table(&results);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("live bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<Results> {
    let brokers = std::env::var("KAFKA_TEST_BROKERS").map_err(|_| {
        anyhow!("KAFKA_TEST_BROKERS is not set: run benches/live, which starts a broker")
    })?;
    let events = match std::env::var("LIVE_BENCH_EVENTS") {
        Ok(n) => n
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| anyhow!("LIVE_BENCH_EVENTS={n:?} is not a positive whole number"))?,
        Err(_) => DRAIN_EVENTS,
    };
    let mut properties = std::collections::BTreeMap::new();
    // The same fetch tuning deskpulse gets below, so both readers of the
    // drain ask the broker alike.
    properties.insert("fetch.wait.max.ms".to_owned(), "10".to_owned());
    let kafka = KafkaConfig {
        brokers: brokers.clone(),
        startup_timeout: Duration::from_secs(30),
        properties,
        ..KafkaConfig::default()
    };
    let run_id = format!("{}-{}", std::process::id(), wall_ms());

    eprintln!("live bench: filling a {PARTITIONS}-partition topic with {events} events");
    let drain_topic = format!("live-bench-drain-{run_id}");
    let fill_secs = fill(&kafka, &drain_topic, events)?;
    eprintln!(
        "live bench: filled in {fill_secs:.1} s ({:.0} events/s produced)",
        events as f64 / fill_secs
    );

    eprintln!("live bench: consume-only ceiling");
    let ceiling = consume_only(
        &kafka,
        &drain_topic,
        events,
        &format!("live-bench-ceiling-{run_id}"),
    )?;
    eprintln!("live bench: ceiling {:.0} events/s", ceiling.events_per_sec);

    eprintln!("live bench: deskpulse draining the same topic, watched through /readyz");
    let (deskpulse, _) = deskpulse_drain(
        &drain_topic,
        events,
        &format!("live-bench-drain-{run_id}"),
        Watch::Readyz,
    )?;
    eprintln!(
        "live bench: deskpulse {:.0} events/s",
        deskpulse.events_per_sec
    );

    eprintln!(
        "live bench: again, with /metrics scraped every {} ms",
        DRAIN_SCRAPE_EVERY.as_millis()
    );
    let (scraped, drain_scrape_p50) = deskpulse_drain(
        &drain_topic,
        events,
        &format!("live-bench-scraped-{run_id}"),
        Watch::Metrics,
    )?;
    eprintln!(
        "live bench: deskpulse {:.0} events/s while scraped",
        scraped.events_per_sec
    );

    eprintln!(
        "live bench: sustainable rate: producing flat out for up to {} s while deskpulse consumes",
        SUSTAIN_RUN.as_secs()
    );
    let sustained = sustainable(
        &kafka,
        &format!("live-bench-sustain-{run_id}"),
        &format!("live-bench-sustain-{run_id}"),
    )?;
    eprintln!(
        "live bench: sustainable {:.0} events/s (produced {:.0} events/s, deskpulse applied {:.0} events/s)",
        sustained.rate, sustained.producer_rate, sustained.applied_rate
    );

    let rate = sustained.rate / 2.0;
    eprintln!(
        "live bench: latency at {rate:.0} events/s for {} s",
        LATENCY_RUN.as_secs()
    );
    let latency_topic = format!("live-bench-latency-{run_id}");
    ensure_topic(&kafka, &latency_topic, PARTITIONS)?;
    let latency = latency(
        &kafka,
        &latency_topic,
        rate,
        &format!("live-bench-latency-{run_id}"),
    )?;

    Ok(Results {
        brokers,
        events,
        fill_secs,
        ceiling,
        deskpulse,
        scraped,
        drain_scrape_p50,
        sustained,
        latency,
        settings: deskpulse_settings(),
    })
}

/// Creates `topic` and fills it with `n` generated events; the seconds it took.
fn fill(kafka: &KafkaConfig, topic: &str, n: u64) -> anyhow::Result<f64> {
    ensure_topic(kafka, topic, PARTITIONS)?;
    let producer = EventProducer::new(kafka, topic)?;
    Ok(produce_flat_out(&producer, SEED, n, None)?.secs)
}

/// What a flat-out production achieved.
struct FlatOut {
    events: u64,
    /// From the first send until every message was delivered.
    secs: f64,
}

/// Produces generated events as fast as the producer takes them, until
/// `max_events` are sent or `max_time` has passed, whichever first, and
/// waits until all are delivered.
fn produce_flat_out(
    producer: &EventProducer,
    seed: u64,
    max_events: u64,
    max_time: Option<Duration>,
) -> anyhow::Result<FlatOut> {
    // The events span up to two hours of event time ending an hour ago: a
    // realistic busy centre, and none near the `future_ts` limit.
    let span_ms = 2 * HOUR_MS;
    let mut generator = Generator::new(GeneratorConfig {
        seed,
        start_ms: wall_ms() - span_ms - HOUR_MS,
        events_per_sec: max_events as f64 / (span_ms as f64 / 1000.0),
        ..GeneratorConfig::default()
    });
    let start = Instant::now();
    let mut events = 0;
    while events < max_events {
        if max_time.is_some_and(|max| start.elapsed() >= max) {
            break;
        }
        let line = generator.next().expect("the generator never ends");
        producer.send(&line)?;
        events += 1;
    }
    producer.flush()?;
    if generator.clock_ms() > wall_ms() {
        bail!("the generated events run past now; they would be rejected as future_ts");
    }
    Ok(FlatOut {
        events,
        secs: start.elapsed().as_secs_f64(),
    })
}

/// The ceiling: a bare rdkafka consumer reading all `n` messages, touching
/// every payload byte; events/s from the first message to the last.
fn consume_only(kafka: &KafkaConfig, topic: &str, n: u64, group: &str) -> anyhow::Result<Drain> {
    let consumer: BaseConsumer = client_config(kafka)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .context("cannot create the consume-only consumer")?;
    consumer
        .subscribe(&[topic])
        .with_context(|| format!("cannot subscribe to {topic}"))?;
    let deadline = Instant::now() + PATIENCE;
    let (mut seen, mut checksum) = (0u64, 0u64);
    let mut first = None;
    let mut last = Instant::now();
    while seen < n {
        if Instant::now() > deadline {
            bail!("the consume-only reader saw {seen} of {n} messages within {PATIENCE:?}");
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(message)) => {
                let payload = message.payload().unwrap_or_default();
                // A plain sum: every byte is read, as deskpulse's parser
                // reads it, at a cost of a few cycles per message.
                let sum: u64 = payload.iter().map(|&byte| u64::from(byte)).sum();
                checksum = checksum.wrapping_add(sum);
                last = Instant::now();
                first.get_or_insert(last);
                seen += 1;
            }
            Some(Err(error)) => bail!("the consume-only reader failed: {error}"),
        }
    }
    std::hint::black_box(checksum);
    let secs = last.duration_since(first.unwrap_or(last)).as_secs_f64();
    Ok(Drain {
        events_per_sec: n as f64 / secs.max(1e-9),
        secs,
        events: n,
    })
}

/// How the drain's end is watched.
#[derive(Clone, Copy, PartialEq)]
enum Watch {
    /// `/readyz`, which costs the consumer thread nothing worth counting.
    Readyz,
    /// `/metrics` every [`DRAIN_SCRAPE_EVERY`]: each scrape has deskpulse
    /// snapshot all its state, which a drain of a big state feels. Followed
    /// for at most [`SCRAPED_DRAIN_MAX`].
    Metrics,
}

/// deskpulse reading all `n` messages; events/s from the first scrape that
/// counts any to the first instant all are seen (or, watching `/metrics`,
/// to the last scrape within [`SCRAPED_DRAIN_MAX`] of it, if sooner). Also
/// the p50 of the `/metrics` scrapes made meanwhile.
fn deskpulse_drain(
    topic: &str,
    n: u64,
    group: &str,
    watch: Watch,
) -> anyhow::Result<(Drain, Duration)> {
    let deskpulse = Deskpulse::run(&["--topics", topic, "--group-id", group]);
    let deadline = Instant::now() + PATIENCE;
    let mut scrape_times = Vec::new();
    let too_slow = |deskpulse: &Deskpulse, read: u64| {
        anyhow!(
            "deskpulse read {read} of {n} messages within {PATIENCE:?}; its log ends:\n{}",
            common::tail(&deskpulse.stderr())
        )
    };
    // The start: while little is applied, a scrape is cheap (and is left
    // out of the scrape times).
    let first = loop {
        let (finished, _, read) = scrape(&deskpulse);
        if read > 0 {
            break finished;
        }
        if finished > deadline {
            return Err(too_slow(&deskpulse, 0));
        }
        std::thread::sleep(DRAIN_SCRAPE_EVERY);
    };
    let (done, read) = loop {
        let started = Instant::now();
        let (finished, read) = match watch {
            // Ready once every partition was read to its end: all of the
            // topic, since it was filled before deskpulse started.
            Watch::Readyz => {
                let ready = deskpulse.get("/readyz").status == 200;
                (Instant::now(), if ready { n } else { 0 })
            }
            Watch::Metrics => {
                let (finished, took, read) = scrape(&deskpulse);
                scrape_times.push(took);
                (finished, read)
            }
        };
        if read >= n {
            break (finished, n);
        }
        // Long enough for a steady rate; reading the rest would lengthen
        // the bench without telling more. The state is smaller than at the
        // end of a whole drain, so scrapes cost somewhat less than they
        // would there.
        if watch == Watch::Metrics && finished.duration_since(first) >= SCRAPED_DRAIN_MAX {
            break (finished, read);
        }
        if finished > deadline {
            return Err(too_slow(&deskpulse, scrape(&deskpulse).2));
        }
        // Polls start every 50 ms; a scrape that takes longer is followed
        // at once by the next.
        std::thread::sleep(DRAIN_SCRAPE_EVERY.saturating_sub(started.elapsed()));
    };
    // Every message counted, and as accepted: a drain that skipped or
    // rejected events would not be a fair figure.
    let counted = scrape(&deskpulse).2;
    if read == n && counted != n {
        bail!(
            "after the drain deskpulse counts {counted} messages, not {n}; its log ends:\n{}",
            common::tail(&deskpulse.stderr())
        );
    }
    warn_unless_all_accepted(&deskpulse, "drain");
    stop_cleanly(deskpulse);
    let secs = done.duration_since(first).as_secs_f64();
    let drain = Drain {
        events_per_sec: read as f64 / secs.max(1e-9),
        secs,
        events: read,
    };
    Ok((drain, percentile(&mut scrape_times, 0.5)))
}

/// Produces flat out to a fresh `topic` for [`SUSTAIN_RUN`] (or
/// [`SUSTAIN_MAX_EVENTS`]) while a fresh deskpulse consumes it: the rate
/// the producer, the broker and deskpulse sustain together here.
fn sustainable(kafka: &KafkaConfig, topic: &str, group: &str) -> anyhow::Result<Sustained> {
    ensure_topic(kafka, topic, PARTITIONS)?;
    let deskpulse = Deskpulse::run(&["--topics", topic, "--group-id", group]);
    deskpulse.wait_ready();
    // Created before the phase starts, so that its setup is not counted.
    let producer = EventProducer::new(kafka, topic)?;
    // deskpulse's counters are read only at the start and the end: a
    // scrape in a loop would take its time from the work being measured.
    let (start, _, before) = scrape(&deskpulse);
    // Produced on this thread: there is nothing else to do meanwhile.
    let produced = produce_flat_out(&producer, SEED + 2, SUSTAIN_MAX_EVENTS, Some(SUSTAIN_RUN))?;
    let (end, _, after) = scrape(&deskpulse);
    warn_unless_all_accepted(&deskpulse, "sustainable-rate phase");
    stop_cleanly(deskpulse);
    let applied = after.saturating_sub(before);
    let secs = end.duration_since(start).as_secs_f64();
    let applied_rate = applied as f64 / secs.max(1e-9);
    let producer_rate = produced.events as f64 / produced.secs.max(1e-9);
    eprintln!(
        "live bench: deskpulse was {} events behind the producer at the end",
        produced.events.saturating_sub(after)
    );
    Ok(Sustained {
        // deskpulse cannot apply faster than events arrive for long; the
        // lower rate is the one the pipeline as a whole sustains.
        rate: applied_rate.min(producer_rate),
        produced: produced.events,
        producer_secs: produced.secs,
        producer_rate,
        applied,
        applied_rate,
        secs,
    })
}

/// Produces at `rate` in real time for [`LATENCY_RUN`] while scraping, and
/// turns the two timelines into a delay per event.
fn latency(kafka: &KafkaConfig, topic: &str, rate: f64, group: &str) -> anyhow::Result<Latency> {
    let deskpulse = Deskpulse::run(&["--topics", topic, "--group-id", group]);
    // Ready, so that the first events are not delayed by the start.
    deskpulse.wait_ready();

    let producer = std::thread::Builder::new()
        .name("producer".into())
        .spawn({
            let (kafka, topic) = (kafka.clone(), topic.to_owned());
            move || produce_paced(&kafka, &topic, rate)
        })
        .context("cannot start the producer thread")?;

    // (instant the scrape finished, messages it counts)
    let mut scrapes: Vec<(Instant, u64)> = Vec::new();
    let mut scrape_times = Vec::new();
    let mut producer = Some(producer);
    let mut produced: Option<Produced> = None;
    let deadline = Instant::now() + LATENCY_RUN + PATIENCE;
    loop {
        // One scrape at a time: the next starts only after this one's
        // answer is read to its end.
        let (finished, took, read) = scrape(&deskpulse);
        scrape_times.push(took);
        scrapes.push((finished, read));
        if let Some(done) = producer.take_if(|p| p.is_finished()) {
            let result = done
                .join()
                .map_err(|_| anyhow!("the producer thread panicked"))?;
            produced = Some(result?);
        }
        // Once the producer is done, until every message it sent is counted.
        if let Some(produced) = &produced {
            let total = produced.sent.len() as u64;
            if read >= total {
                warn_unless_all_accepted(&deskpulse, "latency run");
                break;
            }
        }
        if finished > deadline {
            bail!(
                "deskpulse counted {read} events of the latency run within {:?}; its log ends:\n{}",
                LATENCY_RUN + PATIENCE,
                common::tail(&deskpulse.stderr())
            );
        }
        std::thread::sleep(LATENCY_SCRAPE_EVERY);
    }
    stop_cleanly(deskpulse);
    let produced = produced.expect("set before the loop ends");

    // Counts only go up, so one pass pairs each message with the first
    // scrape counting more than its index. This reads "count = n" as "the
    // first n messages produced are visible". Messages on different
    // partitions can be applied slightly out of their production order, so
    // a single message's delay may be off by that reordering; the spread
    // of the whole distribution is not.
    let mut delays = Vec::with_capacity(produced.sent.len());
    let mut scrape = scrapes.iter().peekable();
    for (index, &sent) in produced.sent.iter().enumerate() {
        while scrape
            .peek()
            .is_some_and(|&&(_, count)| count <= index as u64)
        {
            scrape.next();
        }
        let &&(seen, _) = scrape
            .peek()
            .ok_or_else(|| anyhow!("message {index} was never counted in /metrics"))?;
        delays.push(seen.saturating_duration_since(sent));
    }
    if delays.is_empty() {
        bail!("no events were produced in the latency run");
    }
    Ok(Latency {
        rate,
        produced: delays.len(),
        p50: percentile(&mut delays, 0.5),
        p99: percentile(&mut delays, 0.99),
        max: percentile(&mut delays, 1.0),
        scrape_p50: percentile(&mut scrape_times, 0.5),
        scrapes: scrapes.len(),
        producer_behind: produced.behind,
    })
}

struct Produced {
    /// When each message was handed to the producer, in order.
    sent: Vec<Instant>,
    behind: Duration,
}

/// Produces generated events for [`LATENCY_RUN`], each when the wall clock
/// reaches its event time (as `deskpulse demo` does), so `ts` is the
/// instant of sending.
fn produce_paced(kafka: &KafkaConfig, topic: &str, rate: f64) -> anyhow::Result<Produced> {
    let producer = EventProducer::new(kafka, topic)?;
    let start_ms = wall_ms();
    let start = Instant::now();
    let mut generator = Generator::new(GeneratorConfig {
        seed: SEED + 1,
        start_ms,
        events_per_sec: rate,
        ..GeneratorConfig::default()
    });
    let mut sent = Vec::with_capacity((rate * LATENCY_RUN.as_secs_f64() * 1.1) as usize);
    let mut behind = Duration::ZERO;
    loop {
        let line = generator.next().expect("the generator never ends");
        let due = start + Duration::from_millis((generator.clock_ms() - start_ms).max(0) as u64);
        if due > start + LATENCY_RUN {
            break;
        }
        // Wait in whole milliseconds, serving delivery reports meanwhile;
        // a message up to 1 ms early is harmless, since its delay is
        // measured from the instant it is actually sent.
        loop {
            let ahead = due.saturating_duration_since(Instant::now());
            if ahead < Duration::from_millis(1) {
                break;
            }
            producer.wait(ahead.min(Duration::from_millis(50)));
        }
        behind = behind.max(Instant::now().saturating_duration_since(due));
        producer.send(&line)?;
        sent.push(Instant::now());
    }
    producer.flush()?;
    Ok(Produced { sent, behind })
}

/// Nearest-rank percentile; sorts `values`.
fn percentile(values: &mut [Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// One `/metrics` scrape: the instant it finished, how long it took, and
/// the messages deskpulse has read, whatever became of them. Scrapes are
/// made one after another, never overlapping: each has deskpulse snapshot
/// all its state.
fn scrape(deskpulse: &Deskpulse) -> (Instant, Duration, u64) {
    let started = Instant::now();
    let response = deskpulse.get("/metrics");
    let finished = Instant::now();
    assert_eq!(response.status, 200, "/metrics: {}", response.body);
    // Parsed after the clock stops: the answer was complete on arrival.
    let read = processed(&Metrics::parse(&response.body)) as u64;
    (finished, finished - started, read)
}

/// Events deskpulse did not accept; all of a generated stream should be.
fn warn_unless_all_accepted(deskpulse: &Deskpulse, phase: &str) {
    let metrics: Metrics = deskpulse.metrics();
    let rejected = metrics.sum("deskpulse_events_rejected_total", &[]);
    let duplicates = metrics.sum("deskpulse_events_duplicate_total", &[]);
    if rejected + duplicates > 0.0 {
        eprintln!(
            "live bench: warning: {rejected} events rejected, {duplicates} duplicates in the {phase}; all should be accepted"
        );
    }
}

/// SIGTERM, as an orchestrator stops it; says so if it did not exit 0.
fn stop_cleanly(deskpulse: Deskpulse) {
    let (status, stderr) = deskpulse.terminate();
    if !status.success() {
        eprintln!(
            "live bench: warning: deskpulse ended with {status} after SIGTERM; its log ends:\n{}",
            common::tail(&stderr)
        );
    }
}

/// The DESKPULSE_* variables deskpulse will read as settings.
fn deskpulse_settings() -> Vec<String> {
    let mut settings: Vec<String> = std::env::vars()
        .filter(|(name, _)| name.starts_with("DESKPULSE_"))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    settings.sort();
    settings
}

fn print_table(r: &Results) {
    let ratio = r.deskpulse.events_per_sec / r.ceiling.events_per_sec;
    let (s, l) = (&r.sustained, &r.latency);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    println!(
        "live bench: Tansu at {}, {PARTITIONS} partitions; drain of {} generated events (topic filled in {:.1} s); sustainable-rate run of {} events; latency run of {} events over {} s",
        r.brokers,
        r.events,
        r.fill_secs,
        s.produced,
        l.produced,
        LATENCY_RUN.as_secs()
    );
    if !r.settings.is_empty() {
        println!(
            "deskpulse settings from the environment: {}",
            r.settings.join(" ")
        );
    }
    println!(
        "{:<58} {:>12} {:>12}  verdict",
        "measure", "value", "target"
    );
    let row = |name: &str, value: String, target: Option<(&str, &str, bool)>| match target {
        Some((op, target, ok)) => println!(
            "{name:<58} {value:>12} {:>12}  {}",
            format!("{op} {target}"),
            if ok { "ok" } else { "MISSED" }
        ),
        None => println!("{name:<58} {value:>12}"),
    };
    row(
        &format!("consume-only ceiling, events/s ({:.1} s)", r.ceiling.secs),
        thousands(r.ceiling.events_per_sec),
        None,
    );
    row(
        &format!("deskpulse drain, events/s ({:.1} s)", r.deskpulse.secs),
        thousands(r.deskpulse.events_per_sec),
        None,
    );
    row(
        "  ratio to the ceiling",
        format!("{ratio:.2}"),
        Some((">=", "0.6", ratio >= 0.6)),
    );
    // Cut short after SCRAPED_DRAIN_MAX, the row says over how many events.
    let scraped_span = if r.scraped.events < r.events {
        format!(
            "first {} in {:.1} s",
            thousands(r.scraped.events as f64),
            r.scraped.secs
        )
    } else {
        format!("{:.1} s", r.scraped.secs)
    };
    row(
        &format!(
            "  scraped every {} ms, events/s ({scraped_span})",
            DRAIN_SCRAPE_EVERY.as_millis(),
        ),
        thousands(r.scraped.events_per_sec),
        None,
    );
    row(
        "  /metrics scrape p50 in that drain, ms",
        format!("{:.1}", ms(r.drain_scrape_p50)),
        None,
    );
    row(
        "sustainable rate (produce and consume at once), events/s",
        thousands(s.rate),
        None,
    );
    row(
        &format!(
            "  producer flat out, events/s ({} in {:.1} s)",
            thousands(s.produced as f64),
            s.producer_secs
        ),
        thousands(s.producer_rate),
        None,
    );
    row(
        &format!(
            "  deskpulse applied then, events/s ({} in {:.1} s)",
            thousands(s.applied as f64),
            s.secs
        ),
        thousands(s.applied_rate),
        None,
    );
    row(
        "latency run rate, events/s (half the sustainable rate)",
        thousands(l.rate),
        None,
    );
    row(
        "produce to /metrics p50, ms",
        format!("{:.0}", ms(l.p50)),
        None,
    );
    row(
        "produce to /metrics p99, ms",
        format!("{:.0}", ms(l.p99)),
        Some(("<=", "1,000", l.p99 <= Duration::from_secs(1))),
    );
    row(
        "produce to /metrics max, ms",
        format!("{:.0}", ms(l.max)),
        None,
    );
    row(
        &format!("  /metrics scrape p50, ms ({} scrapes)", l.scrapes),
        format!("{:.1}", ms(l.scrape_p50)),
        None,
    );
    row(
        "  producer behind schedule at worst, ms",
        format!("{:.0}", ms(l.producer_behind)),
        None,
    );
    if l.producer_behind > Duration::from_millis(100) {
        println!(
            "note: the producer fell behind its schedule: this machine could not produce at the latency run's rate beside the broker and deskpulse, so its delays include that backlog"
        );
    }
}

/// 123456.7 as "123,457".
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
