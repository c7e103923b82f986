//! The optional dead-letter producer: a copy of each rejected message, the
//! reason and where it came from in headers, and counts of what was
//! delivered.

use std::sync::atomic::{AtomicU64, Ordering};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::client::send_waiting;
use crate::decode::Reject;
use crate::source::DeadLetterSink;

/// The optional dead-letter topic: a copy of each rejected message, with
/// the reason and where it came from in headers.
pub struct DeadLetters {
    pub(super) producer: BaseProducer<DeliveryCounts>,
    pub(super) topic: String,
}

#[derive(Default)]
pub(super) struct DeliveryCounts {
    pub(super) sent: AtomicU64,
    pub(super) failed: AtomicU64,
}

impl ClientContext for DeliveryCounts {}

impl ProducerContext for DeliveryCounts {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.sent.fetch_add(1, Ordering::Relaxed),
            Err((error, _)) => {
                tracing::warn!(%error, "a dead letter was not delivered");
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// Header names on dead letters.
pub const DEAD_LETTER_HEADERS: [&str; 4] = [
    "deskpulse-reason",
    "deskpulse-topic",
    "deskpulse-partition",
    "deskpulse-offset",
];

impl DeadLetterSink for DeadLetters {
    fn send(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
        reason: Reject,
    ) {
        let (partition, offset) = (partition.to_string(), offset.to_string());
        let values = [reason.as_str(), topic, &partition, &offset];
        let headers = DEAD_LETTER_HEADERS.iter().zip(values).fold(
            OwnedHeaders::new_with_capacity(DEAD_LETTER_HEADERS.len()),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value),
                })
            },
        );
        let mut record: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::to(&self.topic)
            .payload(payload)
            .headers(headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Err(error) = send_waiting(&self.producer, record) {
            tracing::warn!(%error, "a dead letter could not be queued");
            self.producer
                .context()
                .failed
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}
