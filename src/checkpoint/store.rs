//! Where checkpoints are kept, behind one interface: a local directory
//! (`state.dir`) and a Kafka topic (`state.topic`), either or both. Each
//! keeps the newest checkpoint of each partition of a consumer group.

use std::fmt;
use std::sync::Arc;

/// Whose checkpoint: a partition as its consumer group reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionName<'a> {
    pub group: &'a str,
    pub topic: &'a str,
    pub partition: i32,
}

impl fmt::Display for PartitionName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} (group {})",
            self.topic, self.partition, self.group
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("state topic {topic}: {reason}")]
    Kafka { topic: String, reason: String },
}

pub trait Store: Send + Sync {
    /// For logs: `dir` or `topic`.
    fn name(&self) -> &'static str;
    /// Keeps `checkpoint` (encoded) as the newest of its partition, whole
    /// or not at all: a reader never sees part of it.
    fn save(&self, partition: &PartitionName, checkpoint: &[u8]) -> Result<(), StoreError>;
    /// The newest complete checkpoint of the partition, if any.
    fn load(&self, partition: &PartitionName) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes every checkpoint of `group` (`deskpulse run --state-reset`).
    fn reset(&self, group: &str) -> Result<(), StoreError>;
}

/// The stores the config names; a checkpoint goes to each.
#[derive(Clone, Default)]
pub struct Stores(Vec<Arc<dyn Store>>);

impl Stores {
    pub fn new(stores: Vec<Arc<dyn Store>>) -> Stores {
        Stores(stores)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Store>> {
        self.0.iter()
    }
}
