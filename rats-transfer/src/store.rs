//! The receiver's blocking disk work: checking a chunk's SHA-256 and writing it at its offset
//! (and logging it), and finishing a file (whole-file hash, modification time, move into
//! place). Run on blocking threads; several chunk jobs of one transfer may run at once.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tracing::debug;

use crate::error::TransferError;
use crate::fileio::write_all_at;
use crate::hub::Hub;
use crate::manifest::system_time;
use crate::path::{RelPath, create_dirs_under, resolve_under};
use crate::state;
use crate::wire::Kind;

/// Refuses when the destination's file system has less than `bytes` plus the margin free.
pub(crate) async fn check_space(hub: &Hub, dest: &Path, bytes: u64) -> Result<(), TransferError> {
    let needed = bytes.saturating_add(hub.config.free_space_margin);
    let dest = dest.to_path_buf();
    let temp = hub.temp().to_path_buf();
    let available = tokio::task::spawn_blocking(move || {
        let a = crate::fileio::available_space(&dest).unwrap_or(u64::MAX);
        let b = crate::fileio::available_space(&temp).unwrap_or(u64::MAX);
        a.min(b)
    })
    .await
    .unwrap_or(0);
    if available < needed {
        return Err(TransferError::NoSpace { needed, available });
    }
    Ok(())
}

pub(crate) enum StoreOutcome {
    Stored,
    Corrupt,
    Failed(TransferError),
}

/// One chunk to verify and write, run on a blocking thread.
pub(crate) struct StoreJob {
    pub log: Option<Arc<File>>,
    pub file_index: u32,
    pub chunk: u64,
    pub path: PathBuf,
    pub part: Option<Arc<File>>,
    pub offset: u64,
    pub data: Bytes,
    pub sha256: [u8; 32],
    /// Whether `sha256` is checked before writing. Over an encrypted connection the AEAD has
    /// already authenticated every byte and the whole file's SHA-256 is checked at the end,
    /// so a chunk of a larger file is written unchecked (one hashing pass instead of two);
    /// a single-chunk file is always checked (its chunk hash is the file's).
    pub check: bool,
}

pub(crate) struct Stored {
    pub file_index: u32,
    pub chunk: u64,
    pub data: Bytes,
    /// The chunk's SHA-256 (checked against the data when `outcome` is `Stored` and the job
    /// was to check it).
    pub sha256: [u8; 32],
    pub outcome: StoreOutcome,
    pub part: Option<Arc<File>>,
}

impl StoreJob {
    pub(crate) fn run(mut self) -> Stored {
        let outcome = self.store();
        Stored {
            file_index: self.file_index,
            chunk: self.chunk,
            data: self.data,
            sha256: self.sha256,
            outcome,
            part: self.part,
        }
    }

    fn store(&mut self) -> StoreOutcome {
        if self.check && <[u8; 32]>::from(Sha256::digest(&self.data)) != self.sha256 {
            return StoreOutcome::Corrupt;
        }
        let part = match &self.part {
            Some(p) => p.clone(),
            None => match OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.path)
            {
                Ok(f) => {
                    let f = Arc::new(f);
                    self.part = Some(f.clone());
                    f
                }
                Err(e) => return StoreOutcome::Failed(TransferError::io(&self.path, &e)),
            },
        };
        if let Err(e) = write_all_at(&part, &self.data, self.offset) {
            return StoreOutcome::Failed(TransferError::io(&self.path, &e));
        }
        if let Some(log) = &self.log {
            let mut record = [0u8; state::CHUNK_LOG_RECORD];
            record[..4].copy_from_slice(&self.file_index.to_be_bytes());
            record[4..].copy_from_slice(&self.chunk.to_be_bytes());
            // Appends are positioned at the end by the OS; a failed log write only costs a
            // resend after a restart.
            let _ = (&**log).write_all(&record);
        }
        StoreOutcome::Stored
    }
}

/// Checks the whole-file hash, sets the modification time and moves the file into place.
/// On a mismatch the partial file is removed and nothing reaches the destination.
pub(crate) fn finalize_file(
    digest: [u8; 32],
    expected: &[u8; 32],
    part: &Path,
    kind: Kind,
    dest: &Path,
    rel: &RelPath,
    mtime: u64,
) -> Result<(), TransferError> {
    if digest != *expected {
        let _ = std::fs::remove_file(part);
        return Err(TransferError::HashMismatch(rel.to_string()));
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(part)
        .map_err(|e| TransferError::io(part, &e))?;
    if let Err(e) = file.set_modified(system_time(mtime)) {
        debug!(error = %e, "could not set the modification time");
    }
    drop(file);
    let target = match kind {
        Kind::File => {
            if std::fs::symlink_metadata(dest).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(TransferError::Path(crate::path::PathError::Symlink(
                    dest.to_path_buf(),
                )));
            }
            dest.to_path_buf()
        }
        Kind::Directory => {
            if let Some(parent) = parent_of(rel) {
                create_dirs_under(dest, &parent)?;
            }
            resolve_under(dest, rel)?
        }
    };
    crate::fileio::move_into_place(part, &target).map_err(|e| TransferError::io(&target, &e))
}

/// Whether a file of a restored transfer was already moved into place before the restart (a
/// kill between the move and the save that records it): its `.part` is gone and the target
/// holds content of the offered size and SHA-256.
pub(crate) fn already_in_place(
    part: &Path,
    kind: Kind,
    dest: &Path,
    rel: &RelPath,
    size: u64,
    expected: &[u8; 32],
    stop: &AtomicBool,
) -> bool {
    if std::fs::symlink_metadata(part).is_ok() {
        return false;
    }
    let target = match kind {
        Kind::File => dest.to_path_buf(),
        Kind::Directory => match resolve_under(dest, rel) {
            Ok(t) => t,
            Err(_) => return false,
        },
    };
    // A symlink is never ours (finalize_file refuses to write through one).
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_file() && m.len() == size => {}
        _ => return false,
    }
    let Ok(mut file) = File::open(&target) else {
        return false;
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    let digest: [u8; 32] = hasher.finalize().into();
    digest == *expected
}

fn parent_of(rel: &RelPath) -> Option<RelPath> {
    let s = rel.as_str();
    let (parent, _) = s.rsplit_once('/')?;
    RelPath::parse(parent).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "rats-store-{tag}-{}-{}",
                std::process::id(),
                rand::random::<u32>()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn job(dir: &Path, data: &'static [u8], sha256: [u8; 32], log: Arc<File>) -> StoreJob {
        StoreJob {
            log: Some(log),
            file_index: 3,
            chunk: 7,
            path: dir.join("file.part"),
            part: None,
            offset: 10,
            data: Bytes::from_static(data),
            sha256,
            check: true,
        }
    }

    fn log_file(dir: &Path) -> (PathBuf, Arc<File>) {
        let path = dir.join("chunks.log");
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        (path, Arc::new(f))
    }

    #[test]
    fn a_chunk_that_does_not_match_its_hash_is_refused_and_nothing_is_written() {
        let dir = Scratch::new("corrupt");
        let (log_path, log) = log_file(&dir.0);
        let stored = job(&dir.0, b"tampered", sha(b"original"), log).run();
        assert!(matches!(stored.outcome, StoreOutcome::Corrupt));
        assert!(!dir.0.join("file.part").exists(), "no partial file");
        assert_eq!(std::fs::metadata(log_path).unwrap().len(), 0, "not logged");
    }

    #[test]
    fn a_matching_chunk_is_written_at_its_offset_and_logged() {
        let dir = Scratch::new("good");
        let (log_path, log) = log_file(&dir.0);
        let stored = job(&dir.0, b"chunk", sha(b"chunk"), log).run();
        assert!(matches!(stored.outcome, StoreOutcome::Stored));
        let written = std::fs::read(dir.0.join("file.part")).unwrap();
        assert_eq!(&written[10..], b"chunk");
        let record = std::fs::read(log_path).unwrap();
        assert_eq!(record.len(), state::CHUNK_LOG_RECORD);
        assert_eq!(record[..4], 3u32.to_be_bytes());
        assert_eq!(record[4..], 7u64.to_be_bytes());
    }

    #[test]
    fn a_whole_file_hash_mismatch_fails_and_leaves_nothing_behind() {
        let dir = Scratch::new("final-bad");
        let part = dir.0.join("f.part");
        std::fs::write(&part, b"what arrived").unwrap();
        let dest = dir.0.join("f.txt");
        let rel = RelPath::parse("f.txt").unwrap();
        let err = finalize_file(
            sha(b"what arrived"),
            &sha(b"what was offered"),
            &part,
            Kind::File,
            &dest,
            &rel,
            0,
        )
        .unwrap_err();
        assert!(
            matches!(err, TransferError::HashMismatch(ref p) if p == "f.txt"),
            "{err}"
        );
        assert!(!part.exists(), "partial file removed");
        assert!(!dest.exists(), "nothing reaches the destination");
    }

    #[tokio::test]
    async fn a_destination_without_room_for_the_data_and_the_margin_is_refused() {
        let dir = Scratch::new("space");
        let free = crate::fileio::available_space(&dir.0).expect("free space");
        let margin = 64 * 1024 * 1024;
        let hub = |margin| {
            let config = crate::config::TransferConfig {
                free_space_margin: margin,
                ..Default::default()
            };
            Hub::new(config, dir.0.clone(), false)
        };
        check_space(&hub(margin), &dir.0, 1)
            .await
            .expect("room for one byte");
        let err = check_space(&hub(margin), &dir.0, free).await.unwrap_err();
        assert!(
            matches!(err, TransferError::NoSpace { needed, .. } if needed == free + margin),
            "{err}"
        );
        // Without a margin, half of what is free fits; more than exists does not.
        let exact = crate::fileio::available_space(&dir.0).expect("free space");
        assert!(check_space(&hub(0), &dir.0, exact / 2).await.is_ok());
        assert!(check_space(&hub(0), &dir.0, u64::MAX).await.is_err());
    }

    #[test]
    fn a_matching_file_is_moved_into_place() {
        let dir = Scratch::new("final-good");
        let part = dir.0.join("f.part");
        std::fs::write(&part, b"data").unwrap();
        let dest = dir.0.join("out");
        std::fs::create_dir_all(&dest).unwrap();
        let rel = RelPath::parse("sub/f.txt").unwrap();
        finalize_file(
            sha(b"data"),
            &sha(b"data"),
            &part,
            Kind::Directory,
            &dest,
            &rel,
            1_700_000_000,
        )
        .unwrap();
        assert_eq!(std::fs::read(dest.join("sub/f.txt")).unwrap(), b"data");
        assert!(!part.exists());
    }
}
