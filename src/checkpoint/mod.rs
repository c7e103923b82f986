//! Checkpoints: a partition's engine [`State`] together with the offset of
//! the next message it will apply, so that a restart or a rebalance picks
//! the partition up exactly where its state stands.
//!
//! By job: the encoded form, versioned and checked (`format.rs`); where
//! checkpoints are kept, behind one interface (`store.rs`: a local
//! directory in `dir.rs`, a Kafka topic in `topic.rs`); the thread that
//! encodes and writes them off the workers' hot path (`writer.rs`); and
//! here, what a restore finds.
//!
//! What a checkpoint never holds: settings (rebuilt from the config, and
//! a fingerprint of those that shape the state is checked instead) and
//! counters (per process, see [`crate::engine::Engine`]).

pub mod dir;
pub mod format;
pub mod store;
pub mod topic;
pub mod writer;

pub use format::{Header, Unusable, FORMAT_VERSION};
pub use store::{PartitionName, Store, StoreError, Stores};
pub use topic::TopicStore;
pub use writer::{CheckpointStats, Checkpoints, Job};

use std::sync::Arc;

use crate::config::Config;
use crate::engine::Engine;

/// The stores `[state]` names, checked at startup: a directory that
/// cannot be written, or a state topic that cannot be used, stops the
/// start with one line saying what to do.
pub fn open_stores(config: &Config) -> anyhow::Result<Stores> {
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    let dir = &config.state.dir;
    if !dir.is_empty() {
        // Named for this process: instances sharing the directory start
        // at once, and one's probe must not be the other's.
        let probe = std::path::Path::new(dir).join(format!(".writable-{}", std::process::id()));
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&probe, b""))
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| {
                anyhow::anyhow!(
                    "state.dir {dir:?} is not a writable directory ({e}); set state.dir to one, or to \"\" to keep no local checkpoints"
                )
            })?;
        stores.push(Arc::new(dir::DirStore::new(dir)));
    }
    if let Some(topic) = &config.state.topic {
        let store = TopicStore::new(&config.kafka, topic).map_err(|e| {
            anyhow::anyhow!(
                "{e}; fix state.topic, or leave it out to keep checkpoints only in state.dir"
            )
        })?;
        stores.push(Arc::new(store));
    }
    Ok(Stores::new(stores))
}

/// `deskpulse run --state-reset`: deletes the group's saved state in
/// every store, so that every partition starts empty from its committed
/// offset.
pub fn reset(stores: &Stores, group: &str) -> anyhow::Result<()> {
    for store in stores.iter() {
        store
            .reset(group)
            .map_err(|e| anyhow::anyhow!("--state-reset: cannot delete the saved state: {e}"))?;
        tracing::info!(
            store = store.name(),
            group,
            "saved state deleted (--state-reset)"
        );
    }
    Ok(())
}

/// How a partition's restore went, for the log and
/// `deskpulse_checkpoint_restores_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Restore {
    /// State and offset came back.
    Restored,
    /// No checkpoint of this partition in any store: it starts empty.
    None,
    /// A checkpoint was found and could not be used; it starts empty from
    /// the committed offset.
    Unusable,
    /// A store could not be read; it starts empty from the committed offset.
    Failed,
}

impl Restore {
    pub const ALL: [Restore; 4] = [
        Restore::Restored,
        Restore::None,
        Restore::Unusable,
        Restore::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Restore::Restored => "restored",
            Restore::None => "none",
            Restore::Unusable => "unusable",
            Restore::Failed => "failed",
        }
    }
}

/// A checkpoint loaded and checked: the engine it restores and the offset
/// to read from.
pub struct Restored {
    pub engine: Engine,
    pub header: Header,
}

/// Loads the newest usable checkpoint of `partition` from every store (the
/// higher offset wins) and restores its engine under `config`, whose
/// state fingerprint is `fingerprint`. Only the headers of the others are
/// read: decoding a state costs far more. Every checkpoint found but not
/// used is logged with why and what to do.
pub fn restore(
    stores: &Stores,
    fingerprint: u64,
    config: &Config,
    partition: &PartitionName,
) -> (Restore, Option<Restored>) {
    let mut result = Restore::None;
    let unusable = |store: &str, why: &Unusable| {
        tracing::warn!(
            store,
            %partition,
            "checkpoint not used, starting the partition empty from the committed offset: {why}"
        );
    };
    let mut found: Vec<(&'static str, Header, Vec<u8>)> = Vec::new();
    for store in stores.iter() {
        let bytes = match store.load(partition) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(
                    store = store.name(),
                    %partition,
                    "checkpoint store unreadable, starting the partition empty from the committed offset: {error}"
                );
                result = result.max(Restore::Failed);
                continue;
            }
        };
        match format::header(&bytes) {
            Ok(header) => found.push((store.name(), header, bytes)),
            Err(why) => {
                unusable(store.name(), &why);
                result = result.max(Restore::Unusable);
            }
        }
    }
    found.sort_by_key(|(_, header, _)| std::cmp::Reverse(header.next_offset));
    for (store, _, bytes) in found {
        match format::decode(&bytes, partition, fingerprint) {
            Ok((header, state)) => {
                let engine = Engine::restore(config, state);
                return (Restore::Restored, Some(Restored { engine, header }));
            }
            Err(why) => {
                unusable(store, &why);
                result = result.max(Restore::Unusable);
            }
        }
    }
    (result, None)
}

#[cfg(test)]
mod tests;
