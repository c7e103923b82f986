//! Writing events to Kafka as producers should (SPEC §1): one JSON object
//! per message, keyed by ticket, else interaction or agent. Used by
//! `deskpulse produce`, the demo, the real-broker tests and the benches.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::KafkaConfig;
use crate::generate::partition_key;
use crate::source::kafka::{check_topics, client_config, send_waiting};

/// Creates `topic` with `partitions` unless it exists.
pub fn ensure_topic(kafka: &KafkaConfig, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(kafka)
        .create()
        .context("cannot create the Kafka admin client")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot start the async runtime")?;
    let options = AdminOptions::new().request_timeout(Some(kafka.startup_timeout));
    let results = runtime
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &options,
        ))
        .map_err(|e| anyhow!("cannot create topic {topic:?} at {}: {e}", kafka.brokers))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(anyhow!("cannot create topic {name:?}: {code}")),
        }
    }
    Ok(())
}

/// A producer of event lines, each keyed by [`partition_key`].
pub struct EventProducer {
    producer: BaseProducer,
    topic: String,
}

impl EventProducer {
    pub fn new(kafka: &KafkaConfig, topic: &str) -> anyhow::Result<EventProducer> {
        let producer: BaseProducer = client_config(kafka)
            .set("linger.ms", "5")
            .create()
            .context("cannot create the Kafka producer; check kafka.properties")?;
        check_topics(producer.client(), kafka, &[(topic, "--topic")])?;
        Ok(EventProducer {
            producer,
            topic: topic.to_owned(),
        })
    }

    pub fn send(&self, line: &str) -> anyhow::Result<()> {
        let key = partition_key(line);
        let record = BaseRecord::to(&self.topic)
            .key(key.as_bytes())
            .payload(line.as_bytes());
        send_waiting(&self.producer, record)
            .with_context(|| format!("cannot produce to {}", self.topic))?;
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    /// Serves delivery reports for up to `timeout`: a pause that keeps
    /// the producer going.
    pub fn wait(&self, timeout: Duration) {
        self.producer.poll(timeout);
    }

    /// Waits until every message is delivered.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.producer
            .flush(Duration::from_secs(30))
            .with_context(|| format!("not every message reached {}", self.topic))
    }
}

/// `deskpulse produce`: every non-blank line of `input` becomes a message.
pub fn lines(producer: &EventProducer, input: &mut dyn BufRead) -> anyhow::Result<u64> {
    let mut sent = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if input
            .read_line(&mut line)
            .context("cannot read the input")?
            == 0
        {
            break;
        }
        let event = line.trim_end_matches(['\n', '\r']);
        if !event.trim().is_empty() {
            producer.send(event)?;
            sent += 1;
        }
    }
    producer.flush()?;
    Ok(sent)
}
