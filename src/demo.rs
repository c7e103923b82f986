//! `deskpulse demo`: live mode, whole, with no external services:
//! librdkafka's in-process mock broker, fed by the generator at a steady
//! rate, read by the real consumer path.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use rdkafka::mocking::MockCluster;

use crate::config::{Config, KafkaConfig};
use crate::generate::{Generator, GeneratorConfig};
use crate::live;
use crate::produce::EventProducer;
use crate::source::wall_ms;

/// How far in the past the simulation starts.
const HEAD_START_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Events per second, in real time.
    pub rate: f64,
    pub partitions: i32,
    pub seed: u64,
}

pub fn run(mut config: Config, options: &DemoOptions) -> anyhow::Result<()> {
    let cluster =
        MockCluster::new(1).map_err(|e| anyhow!("cannot start the embedded broker: {e}"))?;
    let topic = config.kafka.topics.first().cloned().unwrap_or_default();
    for name in std::iter::once(&topic).chain(config.kafka.dead_letter_topic.iter()) {
        cluster
            .create_topic(name, options.partitions, 1)
            .map_err(|e| anyhow!("cannot create topic {name:?} on the embedded broker: {e}"))?;
    }
    config.kafka.brokers = cluster.bootstrap_servers();
    config.kafka.topics = vec![topic.clone()];
    // The embedded broker starts empty each time: state saved by an
    // earlier demo would be of other events. Checkpoints still run, into
    // a directory of this run's own, deleted at the end; the shared topic
    // store would need a real broker.
    let state_dir = std::env::temp_dir().join(format!("deskpulse-demo-{}", std::process::id()));
    config.state.dir = state_dir.to_string_lossy().into_owned();
    config.state.topic = None;

    let stop = Arc::new(AtomicBool::new(false));
    let producer = std::thread::Builder::new()
        .name("generator".into())
        .spawn({
            let (kafka, options, stop) = (config.kafka.clone(), options.clone(), stop.clone());
            move || produce(&kafka, &topic, &options, &stop)
        })
        .context("cannot start the generator thread")?;
    let scheme = match config.http.tls_cert_file {
        Some(_) => "https",
        None => "http",
    };
    let served = live::run(&config, false, |address| {
        println!(
            "deskpulse demo: wallboard at {scheme}://{}/ (also /metrics, /api/v1/kpis, /readyz); {} events/s into {} partitions; Ctrl-C stops",
            reachable(address),
            options.rate,
            options.partitions
        );
    });
    stop.store(true, Ordering::Relaxed);
    let _ = std::fs::remove_dir_all(&state_dir);
    let produced = producer
        .join()
        .map_err(|_| anyhow!("the generator thread failed; see the log above"))?;
    served.and(produced)
}

/// An address a browser on this machine can open.
fn reachable(address: SocketAddr) -> SocketAddr {
    match address {
        a if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        a => a,
    }
}

/// Produces generated events keyed as SPEC §1 asks, each at the wall-clock
/// instant of its event time (at once for the head start), so the live
/// windows fill as in production.
fn produce(
    kafka: &KafkaConfig,
    topic: &str,
    options: &DemoOptions,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let producer = EventProducer::new(kafka, topic)?;
    // The simulation starts a little in the past, so the windows and the
    // agents' statuses fill within seconds rather than minutes.
    let mut generator = Generator::new(GeneratorConfig {
        seed: options.seed,
        start_ms: wall_ms() - HEAD_START_MS,
        events_per_sec: options.rate,
        ..GeneratorConfig::default()
    });
    while !stop.load(Ordering::Relaxed) {
        let Some(line) = generator.next() else { break };
        if !generator.pace(|d| producer.wait(d), || stop.load(Ordering::Relaxed)) {
            break;
        }
        producer.send(&line)?;
    }
    producer.flush()
}
