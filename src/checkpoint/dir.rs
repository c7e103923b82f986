//! The local directory store (`state.dir`): one file per partition,
//! `DIR/GROUP/TOPIC/PARTITION.ckpt`, replaced atomically (written beside,
//! fsynced, renamed over, and the directory fsynced), so a crash leaves
//! either the old checkpoint or the new one, never a mix.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::store::{PartitionName, Store, StoreError};

pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> DirStore {
        DirStore { root: root.into() }
    }

    fn group_dir(&self, group: &str) -> PathBuf {
        self.root.join(path_safe(group))
    }

    fn file(&self, p: &PartitionName) -> PathBuf {
        self.group_dir(p.group)
            .join(path_safe(p.topic))
            .join(format!("{}.ckpt", p.partition))
    }
}

/// A group id or topic as one path component: Kafka topic names are
/// already safe; a group id may hold anything, so other bytes are escaped.
/// The topic store's record keys are made of the same components.
pub(super) fn path_safe(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => out.push(b as char),
            b'.' if !out.is_empty() => out.push('.'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Store for DirStore {
    fn name(&self) -> &'static str {
        "dir"
    }

    fn save(&self, partition: &PartitionName, checkpoint: &[u8]) -> Result<(), StoreError> {
        let path = self.file(partition);
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(io(dir))?;
        let partial = path.with_extension("ckpt.partial");
        let mut file = fs::File::create(&partial).map_err(io(&partial))?;
        file.write_all(checkpoint).map_err(io(&partial))?;
        file.sync_all().map_err(io(&partial))?;
        drop(file);
        fs::rename(&partial, &path).map_err(io(&path))?;
        // The rename is durable only once the directory is.
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))
    }

    fn load(&self, partition: &PartitionName) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.file(partition);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn reset(&self, group: &str) -> Result<(), StoreError> {
        let dir = self.group_dir(group);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&dir)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("deskpulse-dir-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_newest_save_replaces_the_last_and_reset_deletes_the_group() {
        let root = scratch("replace");
        let store = DirStore::new(&root);
        let p = PartitionName {
            group: "desk/pulse",
            topic: "events",
            partition: 3,
        };
        assert_eq!(store.load(&p).expect("readable"), None);
        store.save(&p, b"one").expect("saved");
        store.save(&p, b"two").expect("saved");
        assert_eq!(
            store.load(&p).expect("readable").as_deref(),
            Some(&b"two"[..])
        );
        let files: Vec<_> = fs::read_dir(root.join("desk%2Fpulse").join("events"))
            .expect("the partition's directory")
            .map(|e| e.expect("an entry").file_name())
            .collect();
        assert_eq!(files, ["3.ckpt"], "nothing partial is left beside it");
        let other_group = PartitionName {
            group: "other",
            ..p
        };
        store.save(&other_group, b"kept").expect("saved");
        store.reset("desk/pulse").expect("reset");
        assert_eq!(store.load(&p).expect("readable"), None);
        assert!(store.load(&other_group).expect("readable").is_some());
        fs::remove_dir_all(&root).expect("cleaned up");
    }
}
