//! Reading the state topic: a consumer that is assigned partitions and
//! never joins a group (as Kafka Streams' restore consumer is), reading a
//! range of one partition forward, and the index backwards from its end.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientConfig, ClientContext, Message, Offset, TopicPartitionList};

use super::records::INDEX_PARTITION;
use super::PATIENCE;
use crate::config::KafkaConfig;
use crate::source::kafka::client_config;

/// The first stretch of the index read back from its end, in records: a
/// partition that saves regularly finds its manifest in it. Each further
/// stretch doubles, up to the last, so that reading back to the start of
/// a long index takes few fetches.
const FIRST_STRETCH: i64 = 256;
const LONGEST_STRETCH: i64 = 65_536;
/// How long one poll waits; the read gives up after [`PATIENCE`] without
/// a record.
const POLL: Duration = Duration::from_millis(100);

/// A record of the index, copied out of the consumer's buffer.
pub(super) struct IndexRecord {
    pub offset: i64,
    pub key: Vec<u8>,
    /// `None` for a tombstone.
    pub value: Option<Vec<u8>>,
}

pub(super) struct Reader {
    consumer: BaseConsumer<ReaderContext>,
    topic: String,
}

/// librdkafka also reports every partition end the reader asks for
/// through the error callback, which rdkafka logs as an error by default:
/// those ends are news, not errors.
pub(super) struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::warn!(%error, "state topic reader: {reason}");
        }
    }
}

impl ConsumerContext for ReaderContext {}

impl Reader {
    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<Reader, String> {
        let mut config = ClientConfig::new();
        // A default an operator may change through kafka.properties: at
        // 16 MB a fetch brings about 18 chunks, where the default (1 MB)
        // brings one, and Tansu holds every fetch for fetch.wait.max.ms.
        config.set("max.partition.fetch.bytes", (16 << 20).to_string());
        for (key, value) in client_config(kafka).config_map() {
            config.set(key, value);
        }
        // What the reads rely on. librdkafka needs a group id to assign
        // partitions at all; this one is never joined and nothing is
        // committed under it. End-of-partition events end a read at the
        // end; a read from before the log's start begins at its start; a
        // short fetch wait, because Tansu holds every fetch that long even
        // with data waiting, and a real broker holds an empty one that long.
        config
            .set("group.id", format!("{}.state", kafka.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "10");
        let consumer = config.create_with_context(ReaderContext).map_err(|e| {
            format!("cannot create its Kafka consumer: {e}; check kafka.properties against librdkafka's configuration properties")
        })?;
        Ok(Reader {
            consumer,
            topic: topic.to_owned(),
        })
    }

    /// How many partitions the topic has; `None` if it does not exist.
    pub fn partitions(&self, kafka: &KafkaConfig) -> Result<Option<usize>, String> {
        // All topics: a request naming a missing topic can create it, with
        // the broker's defaults, on brokers that create topics on use.
        let metadata = self
            .consumer
            .fetch_metadata(None, kafka.startup_timeout)
            .map_err(|e| {
                format!(
                    "cannot reach the Kafka brokers at {} within {}: {e}; check kafka.brokers (or --brokers) and that the brokers are up",
                    kafka.brokers,
                    humantime::format_duration(kafka.startup_timeout)
                )
            })?;
        Ok(metadata
            .topics()
            .iter()
            .find(|t| t.name() == self.topic && t.error().is_none() && !t.partitions().is_empty())
            .map(|t| t.partitions().len()))
    }

    /// Reads `partition` forward from offset `from`, handing `visit` each
    /// record, until `visit` breaks, a record at or past `until` comes, or
    /// the partition's end.
    pub fn forward(
        &self,
        partition: i32,
        from: i64,
        until: Option<i64>,
        visit: impl FnMut(&BorrowedMessage<'_>) -> ControlFlow<()>,
    ) -> Result<(), String> {
        if until.is_some_and(|until| from >= until) {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, partition, Offset::Offset(from))
            .map_err(|e| e.to_string())?;
        self.consumer
            .assign(&list)
            .map_err(|e| format!("cannot read partition {partition}: {e}"))?;
        let read = self.poll(partition, from, until, visit);
        // What is still fetched for this read is dropped with it; an error
        // here leaves the next read's assign to replace it.
        let _ = self.consumer.unassign();
        read
    }

    fn poll(
        &self,
        partition: i32,
        from: i64,
        until: Option<i64>,
        mut visit: impl FnMut(&BorrowedMessage<'_>) -> ControlFlow<()>,
    ) -> Result<(), String> {
        let mut heard = Instant::now();
        let mut last_error = String::new();
        loop {
            match self.consumer.poll(POLL) {
                Some(Ok(m)) => {
                    // librdkafka drops what an earlier read had fetched;
                    // the check costs nothing and keeps that from mattering.
                    if m.topic() != self.topic || m.partition() != partition || m.offset() < from {
                        continue;
                    }
                    heard = Instant::now();
                    let offset = m.offset();
                    if until.is_some_and(|until| offset >= until) {
                        return Ok(());
                    }
                    if visit(&m).is_break() || until.is_some_and(|until| offset + 1 >= until) {
                        return Ok(());
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) if p == partition => return Ok(()),
                // Transport errors and the like, which librdkafka retries.
                Some(Err(e)) => last_error = format!(" (last error: {e})"),
                None => {}
            }
            if heard.elapsed() > PATIENCE {
                return Err(format!(
                    "partition {partition} sent nothing from offset {from} for {}{last_error}; check the brokers",
                    humantime::format_duration(PATIENCE)
                ));
            }
        }
    }

    /// Hands `visit` the index's records newest first, from just before
    /// `before` (its end when `None`) back to its start, until `visit`
    /// breaks. `written_end` is one past the last index offset this
    /// process wrote.
    pub fn index_backwards(
        &self,
        before: Option<i64>,
        written_end: i64,
        mut visit: impl FnMut(&IndexRecord) -> ControlFlow<()>,
    ) -> Result<(), String> {
        let (low, high) = self
            .consumer
            .fetch_watermarks(&self.topic, INDEX_PARTITION, PATIENCE)
            .map_err(|e| format!("cannot ask for the index's offsets: {e}"))?;
        let low = low.max(0);
        // The end the broker reports can be short (Tansu's can), and the
        // newest records are what count most, so the first stretch is read
        // forward past it (and past what this process wrote) to the
        // partition's end; each stretch after ends where the last began.
        let mut until = before;
        let mut end = before.unwrap_or(high.max(written_end));
        let mut stretch = FIRST_STRETCH;
        loop {
            let start = end.saturating_sub(stretch).max(low);
            let records = self.index_range(start, until)?;
            if newest_first(&records, &mut visit).is_break() || start <= low {
                return Ok(());
            }
            end = start;
            until = Some(start);
            stretch = (stretch * 2).min(LONGEST_STRETCH);
        }
    }

    fn index_range(&self, from: i64, until: Option<i64>) -> Result<Vec<IndexRecord>, String> {
        let mut records = Vec::new();
        self.forward(INDEX_PARTITION, from, until, |m| {
            records.push(IndexRecord {
                offset: m.offset(),
                key: m.key().unwrap_or_default().to_vec(),
                value: m.payload().map(<[u8]>::to_vec),
            });
            ControlFlow::Continue(())
        })?;
        Ok(records)
    }
}

fn newest_first(
    records: &[IndexRecord],
    visit: &mut impl FnMut(&IndexRecord) -> ControlFlow<()>,
) -> ControlFlow<()> {
    records.iter().rev().try_for_each(visit)
}
