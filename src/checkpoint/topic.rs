//! The Kafka topic store (`state.topic`): checkpoints kept on the brokers,
//! so that a partition's state reaches whichever instance of the group is
//! assigned the partition next, with no shared disk.
//!
//! Kafka Streams hands state over the same way, with a compacted changelog
//! topic read by a consumer that is assigned partitions and never joins
//! the group. A changelog holds one record per key of a store and is read
//! whole on restore; a checkpoint is one value of tens of MB, so here it is
//! cut into chunks below the brokers' largest message (as LinkedIn's
//! large-message client does, each chunk naming its save, its place and
//! how many there are), and a small index says where the newest one is.
//!
//! - **Partitions.** Partition 0 is the index: a manifest per checkpointed
//!   partition and a reset mark per reset group, all small. Chunks go to
//!   partitions 1 and up, each checkpointed partition to one of them by a
//!   hash of its name. `records.rs` has the keys and values.
//! - **Save.** The chunks go first, to the slot (0 or 1) the partition's
//!   newest manifest does not use, so that a save never overwrites the
//!   chunks of the checkpoint it replaces. The newest manifest is looked
//!   up at every save rather than remembered, because another instance
//!   may have saved the partition since. Once every chunk is
//!   acknowledged (acks=all, idempotent), the manifest goes to the index,
//!   naming the save's id and each chunk's offset; the checkpoint counts
//!   once the manifest is acknowledged. A crash before leaves chunks no
//!   manifest names, in the other slot: the last checkpoint still loads.
//! - **Load.** The index is read back from its end to the partition's
//!   newest manifest (a reset mark of its group or a tombstone first means
//!   none), then its chunk partition forward from the first chunk to the
//!   last. Chunks of another save are refused, as is a whole whose length
//!   or checksum is not the manifest's; then the manifest before it is
//!   tried, whose chunks are in the other slot.
//! - **Reset** writes a reset mark to the index: no older manifest of the
//!   group counts. Tombstones for the group's manifests and chunks follow,
//!   which only free space.
//! - **Compaction** keeps the latest record of each key: per partition one
//!   manifest and the chunks of at most two saves (one per slot). Without
//!   it (Tansu does not compact) every save's records stay: only space
//!   grows, and a load still reads back only to its newest manifest.
//!
//! Tansu, the test broker, answers a fetch that starts inside a record
//! batch with the next batch, so every record is produced as a batch of
//! its own (`batch.num.messages=1`): every offset read from is a batch's
//! first. Its ListOffsets counts batches, so the end it reports can be
//! short: the index's end is found by reading forward to the partition's
//! end, from past what this process wrote (whose offsets the delivery
//! reports give exactly). It holds every fetch for `fetch.wait.max.ms`,
//! which the store's consumer sets to 10 ms.

mod read;
mod records;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::admin::TopicReplication;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Message};

use self::read::Reader;
use self::records::{
    chunk_key, group_manifests, manifest_key, reset_key, Assembly, Broken, ChunkHead, Manifest,
    ResetMark, CHUNK_BYTES, INDEX_PARTITION,
};
use super::store::{PartitionName, Store, StoreError};
use crate::config::KafkaConfig;
use crate::source::kafka::{client_config, send_waiting};
use crate::source::{locked, wall_ms};

/// How long a read waits for its next record, and a write for its next
/// acknowledgement, before the store gives up.
const PATIENCE: Duration = Duration::from_secs(30);
/// Partitions of a topic the store creates: the index and 8 for chunks,
/// so that the chunk traffic spreads over the brokers.
const CREATED_PARTITIONS: i32 = 9;
/// Settings of a topic the store creates. Compaction frees what newer
/// saves replaced; it never touches the open segment, so segments roll
/// hourly rather than weekly.
const CREATED_SETTINGS: &[(&str, &str)] =
    &[("cleanup.policy", "compact"), ("segment.ms", "3600000")];
/// What an operator creates by hand where deskpulse may not create topics.
const BY_HAND: &str =
    "cleanup.policy=compact, at least 2 partitions (deskpulse makes 9), the usual replication";

pub struct TopicStore {
    topic: String,
    /// Partition 0 is the index; chunks go to 1 to `partitions - 1`.
    partitions: i32,
    producer: BaseProducer<Deliveries>,
    /// One consumer, one read at a time: it is assigned what it reads.
    reader: Mutex<Reader>,
    /// One save or reset at a time, so that the delivery reports in
    /// [`Deliveries`] are all of that write's records.
    writing: Mutex<()>,
    /// One past the highest index offset this process wrote: the index is
    /// at least that long, whatever the broker reports.
    index_written: AtomicI64,
}

/// A record's index in the current write, and where it was written or why
/// not.
type Report = (usize, Result<(i32, i64), String>);

/// The delivery report of each record of the current write.
#[derive(Default)]
struct Deliveries(Mutex<Vec<Report>>);

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let report = match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((error, _)) => Err(error.to_string()),
        };
        locked(&self.0).push((index, report));
    }
}

impl TopicStore {
    /// Connects, and creates the topic if it is missing.
    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<TopicStore, StoreError> {
        let fail = |reason: String| StoreError::Kafka {
            topic: topic.to_owned(),
            reason,
        };
        let reader = Reader::new(kafka, topic).map_err(fail)?;
        let partitions = match reader.partitions(kafka).map_err(fail)? {
            Some(n) => n,
            None => create(kafka, topic, &reader).map_err(fail)?,
        };
        if partitions < 2 {
            return Err(fail(format!(
                "it has 1 partition and the store needs at least 2 (0 for the index, the others for chunks); recreate it with {BY_HAND}, or delete it and let deskpulse create it"
            )));
        }
        let mut config = ClientConfig::new();
        // Chunks are zstd already; an operator may still change this.
        config.set("compression.type", "none");
        for (key, value) in client_config(kafka).config_map() {
            config.set(key, value);
        }
        // What a save relies on: a record acknowledged is on every in-sync
        // replica, retries neither duplicate nor reorder, and each record is
        // a batch of its own (see the module's note on Tansu).
        config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("batch.num.messages", "1")
            .set("linger.ms", "0");
        let producer = config
            .create_with_context(Deliveries::default())
            .map_err(|e| fail(format!("cannot create its Kafka producer: {e}; check kafka.properties against librdkafka's configuration properties")))?;
        Ok(TopicStore {
            topic: topic.to_owned(),
            partitions: i32::try_from(partitions).unwrap_or(i32::MAX),
            producer,
            reader: Mutex::new(reader),
            writing: Mutex::new(()),
            index_written: AtomicI64::new(0),
        })
    }

    /// What a crash after the first `chunks` chunks of a save leaves: those
    /// chunks, acknowledged, and no manifest. For the tests.
    #[doc(hidden)]
    pub fn save_interrupted(
        &self,
        partition: &PartitionName,
        checkpoint: &[u8],
        chunks: usize,
    ) -> Result<(), StoreError> {
        self.write(partition, checkpoint, Some(chunks))
    }

    fn fail(&self, reason: String) -> StoreError {
        StoreError::Kafka {
            topic: self.topic.clone(),
            reason,
        }
    }

    /// The chunk partition of the partition whose manifest key is `key`.
    fn chunk_partition(&self, key: &str) -> i32 {
        let chunk_partitions = (self.partitions - 1).max(1) as u64;
        1 + (xxhash_rust::xxh3::xxh3_64(key.as_bytes()) % chunk_partitions) as i32
    }

    /// Saves `checkpoint`, or with `stop_after` only that many chunks.
    fn write(
        &self,
        p: &PartitionName,
        checkpoint: &[u8],
        stop_after: Option<usize>,
    ) -> Result<(), StoreError> {
        let _writing = locked(&self.writing);
        self.drain()?;
        let key = manifest_key(p);
        let newest = self.newest(&locked(&self.reader), &key, p.group, None)?;
        let slot = records::next_slot(newest.as_ref().map(|(_, manifest)| manifest));
        let chunk_partition = self.chunk_partition(&key);
        let pieces: Vec<&[u8]> = checkpoint.chunks(CHUNK_BYTES).collect();
        let count = u32::try_from(pieces.len())
            .map_err(|_| self.fail(format!("{p}: {} bytes is too large", checkpoint.len())))?;
        let checksum = records::checksum(checkpoint);
        let id = save_id(checksum);
        let sent = stop_after.map_or(pieces.len(), |n| n.min(pieces.len()));
        for (index, data) in pieces.iter().enumerate().take(sent) {
            let head = ChunkHead {
                id,
                index: index as u32,
                count,
            };
            let value = records::encode(&head, data).map_err(|e| self.fail(e))?;
            let chunk = chunk_key(&key, slot, index);
            self.send(chunk_partition, &chunk, Some(&value), index)?;
        }
        let written = self.delivered(sent)?;
        if stop_after.is_some() {
            return Ok(());
        }
        let offsets = written
            .iter()
            .map(|&(partition, offset)| (partition == chunk_partition).then_some(offset))
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| self.fail(format!("{p}: a chunk went to another partition")))?;
        let manifest = Manifest {
            id,
            slot,
            chunk_partition,
            offsets,
            bytes: checkpoint.len() as u64,
            checksum,
            saved_ms: wall_ms(),
        };
        let value = records::encode(&manifest, &[]).map_err(|e| self.fail(e))?;
        self.send(INDEX_PARTITION, &key, Some(&value), 0)?;
        self.delivered(1)?;
        Ok(())
    }

    /// Waits until nothing of an earlier write is still on its way (one
    /// that failed waiting), so that no chunk of it lands among this
    /// write's and takes a key's latest place, then clears the reports.
    fn drain(&self) -> Result<(), StoreError> {
        if self.producer.in_flight_count() > 0 {
            self.producer.flush(PATIENCE).map_err(|e| {
                self.fail(format!(
                    "records of an earlier write are still unacknowledged after {} ({e}); check the brokers",
                    humantime::format_duration(PATIENCE)
                ))
            })?;
        }
        locked(&self.producer.context().0).clear();
        Ok(())
    }

    /// Queues one record; `value` `None` is a tombstone.
    fn send(
        &self,
        partition: i32,
        key: &str,
        value: Option<&[u8]>,
        index: usize,
    ) -> Result<(), StoreError> {
        let mut record = BaseRecord::with_opaque_to(&self.topic, index)
            .partition(partition)
            .key(key.as_bytes());
        if let Some(value) = value {
            record = record.payload(value);
        }
        send_waiting(&self.producer, record)
            .map_err(|e| self.fail(format!("cannot queue {key}: {e}")))?;
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    /// Waits for the acknowledgements of the `n` records sent since the
    /// reports were cleared; their partitions and offsets, in send order.
    fn delivered(&self, n: usize) -> Result<Vec<(i32, i64)>, StoreError> {
        let mut heard = Instant::now();
        let mut seen = 0;
        loop {
            let got = locked(&self.producer.context().0).len();
            if got >= n {
                break;
            }
            if got > seen {
                seen = got;
                heard = Instant::now();
            } else if heard.elapsed() > PATIENCE {
                return Err(self.fail(format!(
                    "{} of {n} records unacknowledged after {}; check the brokers",
                    n - got,
                    humantime::format_duration(PATIENCE)
                )));
            }
            // rdkafka's poll returns only at its timeout, reports or not.
            self.producer.poll(Duration::from_millis(1));
        }
        let reports = std::mem::take(&mut *locked(&self.producer.context().0));
        let mut written = vec![None; n];
        for (index, report) in reports {
            let at = report.map_err(|e| self.fail(format!("a record was not written: {e}")))?;
            if let Some(slot) = written.get_mut(index) {
                *slot = Some(at);
            }
            if at.0 == INDEX_PARTITION {
                self.index_written.fetch_max(at.1 + 1, Ordering::AcqRel);
            }
        }
        written
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.fail("a delivery report is missing".to_owned()))
    }

    /// The newest manifest of `key` before index offset `before` (the end
    /// when `None`), with its offset; `None` when a reset of `group` or a
    /// tombstone comes first, or there is none.
    fn newest(
        &self,
        reader: &Reader,
        key: &str,
        group: &str,
        before: Option<i64>,
    ) -> Result<Option<(i64, Manifest)>, StoreError> {
        let reset = reset_key(group);
        let mut found = None;
        let written = self.index_written.load(Ordering::Acquire);
        reader
            .index_backwards(before, written, |record| {
                if record.key == reset.as_bytes() {
                    return ControlFlow::Break(());
                }
                if record.key != key.as_bytes() {
                    return ControlFlow::Continue(());
                }
                let Some(value) = &record.value else {
                    return ControlFlow::Break(());
                };
                match records::decode::<Manifest>(value) {
                    Some((manifest, [])) => {
                        found = Some((record.offset, manifest));
                        ControlFlow::Break(())
                    }
                    _ => {
                        tracing::warn!(
                            topic = self.topic,
                            offset = record.offset,
                            key,
                            "unreadable checkpoint manifest passed over (written by another version?)"
                        );
                        ControlFlow::Continue(())
                    }
                }
            })
            .map_err(|e| self.fail(e))?;
        Ok(found)
    }

    /// The checkpoint `manifest` names, read from its chunk partition.
    fn assemble(
        &self,
        reader: &Reader,
        key: &str,
        manifest: &Manifest,
    ) -> Result<Result<Vec<u8>, Broken>, StoreError> {
        let mut assembly = match Assembly::new(manifest, key) {
            Ok(assembly) => assembly,
            Err(broken) => return Ok(Err(broken)),
        };
        let (Some(first), Some(&last)) = (assembly.wants(), manifest.offsets.last()) else {
            return Ok(assembly.finish());
        };
        if manifest.chunk_partition < 1 {
            let partition = manifest.chunk_partition;
            return Ok(Err(Broken(format!("it names chunk partition {partition}"))));
        }
        let mut broken = None;
        reader
            .forward(
                manifest.chunk_partition,
                first,
                Some(last + 1),
                |m| match assembly.offer(m.offset(), m.key().unwrap_or_default(), m.payload()) {
                    Ok(()) if assembly.wants().is_some() => ControlFlow::Continue(()),
                    Ok(()) => ControlFlow::Break(()),
                    Err(why) => {
                        broken = Some(why);
                        ControlFlow::Break(())
                    }
                },
            )
            .map_err(|e| self.fail(e))?;
        Ok(match broken {
            Some(why) => Err(why),
            None => assembly.finish(),
        })
    }
}

impl Store for TopicStore {
    fn name(&self) -> &'static str {
        "topic"
    }

    fn save(&self, partition: &PartitionName, checkpoint: &[u8]) -> Result<(), StoreError> {
        self.write(partition, checkpoint, None)
    }

    fn load(&self, partition: &PartitionName) -> Result<Option<Vec<u8>>, StoreError> {
        let key = manifest_key(partition);
        let reader = locked(&self.reader);
        let mut before = None;
        let mut broken = Vec::new();
        // The newest manifest, else the one before: saves take turns
        // between the slots, so its chunks outlive whatever a save that
        // raced it (an instance that has lost the partition) did to the
        // newest's slot.
        for _ in 0..2 {
            let Some((offset, manifest)) = self.newest(&reader, &key, partition.group, before)?
            else {
                break;
            };
            match self.assemble(&reader, &key, &manifest)? {
                Ok(bytes) => {
                    if !broken.is_empty() {
                        tracing::warn!(
                            topic = self.topic,
                            %partition,
                            "an older checkpoint loaded: the newest is incomplete ({})",
                            broken.join("; ")
                        );
                    }
                    return Ok(Some(bytes));
                }
                Err(why) => {
                    broken.push(format!("manifest at index offset {offset}: {why}"));
                    before = Some(offset);
                }
            }
        }
        if broken.is_empty() {
            return Ok(None);
        }
        Err(self.fail(format!(
            "no complete checkpoint of {partition} ({}); the next save replaces it",
            broken.join("; ")
        )))
    }

    fn reset(&self, group: &str) -> Result<(), StoreError> {
        let _writing = locked(&self.writing);
        self.drain()?;
        let mark = ResetMark {
            reset_ms: wall_ms(),
        };
        let value = records::encode(&mark, &[]).map_err(|e| self.fail(e))?;
        let reset = reset_key(group);
        self.send(INDEX_PARTITION, &reset, Some(&value), 0)?;
        let marked = self.delivered(1)?;
        // From here on no checkpoint of the group loads. What follows only
        // frees space: tombstones, which compaction turns into nothing, for
        // each manifest of the group and the chunks it names, down to an
        // earlier reset (which freed what is older).
        let prefix = group_manifests(group);
        let mut chunks: BTreeMap<String, BTreeMap<(u8, i32), usize>> = BTreeMap::new();
        let written = self.index_written.load(Ordering::Acquire);
        let before = marked.first().map(|&(_, offset)| offset);
        locked(&self.reader)
            .index_backwards(before, written, |record| {
                if record.key == reset.as_bytes() {
                    return ControlFlow::Break(());
                }
                let key = String::from_utf8_lossy(&record.key);
                let manifest = record
                    .value
                    .as_deref()
                    .and_then(records::decode::<Manifest>);
                let ours = key.starts_with(&prefix);
                if let (true, Some((manifest, _))) = (ours, manifest) {
                    let most = chunks
                        .entry(key.into_owned())
                        .or_default()
                        .entry((manifest.slot, manifest.chunk_partition))
                        .or_default();
                    *most = (*most).max(manifest.offsets.len());
                }
                ControlFlow::Continue(())
            })
            .map_err(|e| self.fail(e))?;
        let mut sent = 0;
        for (key, slots) in &chunks {
            // Not to the index, nor where a damaged manifest points.
            let chunk_partitions = slots.iter().filter(|((_, partition), _)| *partition >= 1);
            for (&(slot, partition), &count) in chunk_partitions {
                for index in 0..count {
                    self.send(partition, &chunk_key(key, slot, index), None, sent)?;
                    sent += 1;
                }
            }
            self.send(INDEX_PARTITION, key, None, sent)?;
            sent += 1;
        }
        self.delivered(sent)?;
        Ok(())
    }
}

/// Creates the topic; its partition count once the brokers show it.
fn create(kafka: &KafkaConfig, topic: &str, reader: &Reader) -> Result<usize, String> {
    crate::produce::ensure_topic_with(
        kafka,
        topic,
        CREATED_PARTITIONS,
        TopicReplication::Fixed(-1),
        CREATED_SETTINGS,
    )
    .map_err(|e| {
        format!("it does not exist and {e:#}; create it by hand ({BY_HAND}), or fix state.topic")
    })?;
    // A new topic takes a moment to show in every broker's metadata.
    let deadline = Instant::now() + kafka.startup_timeout;
    loop {
        if let Some(n) = reader.partitions(kafka)? {
            return Ok(n);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "it was created but does not show in the brokers' metadata within {}; check the brokers",
                humantime::format_duration(kafka.startup_timeout)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An id no other save has: the checkpoint's checksum hashed with the
/// wall clock, the process and a count of saves.
fn save_id(checksum: u64) -> u64 {
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let seed =
        nanos ^ (u64::from(std::process::id()) << 40) ^ SAVES.fetch_add(1, Ordering::Relaxed);
    xxhash_rust::xxh3::xxh3_64_with_seed(&checksum.to_le_bytes(), seed)
}
