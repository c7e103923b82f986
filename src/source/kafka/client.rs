//! What every Kafka client of ours shares: the ClientConfig it starts
//! from, queueing a record while the producer is full, and the startup
//! checks and their one-line errors.

use std::time::Duration;

use anyhow::{anyhow, bail};
use rdkafka::client::Client;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, ProducerContext};
use rdkafka::{ClientConfig, ClientContext};

use crate::config::KafkaConfig;

/// The ClientConfig every client of ours starts from: brokers, then the
/// operator's pass-through properties (security, SASL, SSL, tuning).
pub fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.brokers);
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config
}

/// Queues `record`; while the producer's local queue is full, waits for
/// deliveries rather than drop it, which slows the caller only meanwhile.
pub fn send_waiting<C: ProducerContext>(
    producer: &BaseProducer<C>,
    mut record: BaseRecord<'_, [u8], [u8], C::DeliveryOpaque>,
) -> Result<(), KafkaError> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(10));
            }
            Err((error, _)) => return Err(error),
        }
    }
}

pub(super) fn client_error(what: &str, error: KafkaError) -> anyhow::Error {
    anyhow!("cannot create the Kafka {what}: {error}; check kafka.properties against librdkafka's configuration properties")
}

/// Startup check: the brokers answer within `startup_timeout`, and every
/// topic exists; `topics` pairs each with the setting that names it.
pub fn check_topics<C: ClientContext>(
    client: &Client<C>,
    kafka: &KafkaConfig,
    topics: &[(&str, &str)],
) -> anyhow::Result<()> {
    let timeout = kafka.startup_timeout;
    let metadata = client.fetch_metadata(None, timeout).map_err(|e| {
        anyhow!(
            "cannot reach the Kafka brokers at {} within {}: {e}; check kafka.brokers (or --brokers) and that the brokers are up",
            kafka.brokers,
            humantime::format_duration(timeout)
        )
    })?;
    for (topic, setting) in topics {
        let found = metadata
            .topics()
            .iter()
            .any(|t| t.name() == *topic && t.error().is_none() && !t.partitions().is_empty());
        if !found {
            bail!(
                "topic {topic:?} does not exist on the brokers at {}; create it, or fix {setting}",
                kafka.brokers
            );
        }
    }
    Ok(())
}
