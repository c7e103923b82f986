//! Writing events to Kafka as producers should (SPEC §1): one JSON object
//! per message, keyed by the entity whose state it changes. Used by
//! `deskpulse produce`, the demo, the real-broker tests and the benches.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::KafkaConfig;
use crate::source::kafka::{check_topics, client_config, send_waiting};

/// The Kafka message key of an event line (SPEC §1): the entity whose
/// state it changes, so that all events of one entity share a partition.
/// Ticket events by `ticket_id`, interaction events by `interaction_id`
/// even when they name a ticket, agent events by `agent_id`, customer
/// events by `customer_id`; surveys and reviews by `ticket_id`, else
/// `customer_id`, else `event_id`. A type the spec does not name (custom
/// events) goes by `event_id`; a line that is not a JSON object has no key.
pub fn partition_key(line: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        return String::new();
    };
    let field = |k: &str| value.get(k).and_then(|v| v.as_str());
    let kind = field("type").unwrap_or_default();
    let family = kind.split_once('.').map_or(kind, |(family, _)| family);
    let order: &[&str] = match family {
        "ticket" => &["ticket_id"],
        "interaction" => &["interaction_id"],
        "agent" => &["agent_id"],
        "customer" => &["customer_id"],
        "survey" | "review" => &["ticket_id", "customer_id"],
        _ => &[],
    };
    order
        .iter()
        .chain(&["event_id"])
        .find_map(|&k| field(k))
        .unwrap_or_default()
        .to_owned()
}

/// Creates `topic` with `partitions` unless it exists.
pub fn ensure_topic(kafka: &KafkaConfig, topic: &str, partitions: i32) -> anyhow::Result<()> {
    ensure_topic_with(kafka, topic, partitions, TopicReplication::Fixed(1), &[])
}

/// [`ensure_topic`] with a replication (`Fixed(-1)` is the brokers'
/// default) and topic settings such as `cleanup.policy`.
pub fn ensure_topic_with(
    kafka: &KafkaConfig,
    topic: &str,
    partitions: i32,
    replication: TopicReplication<'_>,
    settings: &[(&str, &str)],
) -> anyhow::Result<()> {
    let mut new = NewTopic::new(topic, partitions, replication);
    for (key, value) in settings {
        new = new.set(key, value);
    }
    let admin: AdminClient<DefaultClientContext> = client_config(kafka)
        .create()
        .context("cannot create the Kafka admin client")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot start the async runtime")?;
    let options = AdminOptions::new().request_timeout(Some(kafka.startup_timeout));
    let results = runtime
        .block_on(admin.create_topics(&[new], &options))
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

#[cfg(test)]
mod tests {
    use super::partition_key;

    #[test]
    fn keys_follow_spec_section_1() {
        for (line, key) in [
            (
                r#"{"event_id":"e","type":"ticket.created","ticket_id":"t","customer_id":"c"}"#,
                "t",
            ),
            // An interaction goes by itself even when it names a ticket.
            (
                r#"{"event_id":"e","type":"interaction.queued","interaction_id":"i","ticket_id":"t"}"#,
                "i",
            ),
            (
                r#"{"event_id":"e","type":"agent.status_changed","agent_id":"a"}"#,
                "a",
            ),
            (
                r#"{"event_id":"e","type":"customer.signed_up","customer_id":"c"}"#,
                "c",
            ),
            (
                r#"{"event_id":"e","type":"survey.csat","ticket_id":"t","customer_id":"c","agent_id":"a"}"#,
                "t",
            ),
            // A survey without a ticket goes by its customer, not its agent.
            (
                r#"{"event_id":"e","type":"survey.csat","customer_id":"c","agent_id":"a"}"#,
                "c",
            ),
            (
                r#"{"event_id":"e","type":"review.iqs","agent_id":"a"}"#,
                "e",
            ),
            (
                r#"{"event_id":"e","type":"order.shipped","ticket_id":"t"}"#,
                "e",
            ),
            (r#"{"event_id":"e","type":"ticket.created"}"#, "e"),
            ("not json", ""),
        ] {
            assert_eq!(partition_key(line), key, "{line}");
        }
    }
}
