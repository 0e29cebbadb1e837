//! The whole-file SHA-256, computed as each file's verified prefix grows: verified chunks
//! are hashed in order, one run at a time on a blocking thread, and acknowledged once hashed.
//! After a restart the running hash is rebuilt from the `.part` file.

use sha2::{Digest, Sha256};

use super::IncomingTransfer;
use crate::error::TransferError;
use crate::fileio::sha256_prefix;
use crate::state;

/// Most bytes hashed into a file's running SHA-256 in one blocking call.
const HASH_BATCH_BYTES: usize = 1 << 20;

/// A run of verified chunks of one file hashed into its running SHA-256.
pub(super) struct Hashed {
    file: usize,
    chunks: u64,
    hasher: Sha256,
}

impl IncomingTransfer {
    /// Hashes the next run of verified chunks that continues a file's prefix, if any and if
    /// no hashing job is running.
    pub(super) fn start_hashing(&mut self) {
        if !self.hashing.is_empty() {
            return;
        }
        let mut next = None;
        let mut last_file = None;
        for &(fi, c) in self.verified.keys() {
            if last_file == Some(fi) {
                continue;
            }
            last_file = Some(fi);
            if self
                .files
                .get(fi as usize)
                .is_some_and(|rf| rf.prefix == c && rf.hasher.is_some())
            {
                next = Some((fi, c));
                break;
            }
        }
        let Some((fi, first)) = next else { return };
        let mut run = Vec::new();
        let mut bytes = 0;
        let mut c = first;
        while bytes < HASH_BATCH_BYTES {
            let Some(data) = self.verified.remove(&(fi, c)) else {
                break;
            };
            bytes += data.len();
            run.push(data);
            c += 1;
        }
        let f = fi as usize;
        let Some(mut hasher) = self.files[f].hasher.take() else {
            return;
        };
        self.hashing.spawn_blocking(move || {
            for data in &run {
                hasher.update(data);
            }
            Hashed {
                file: f,
                chunks: run.len() as u64,
                hasher,
            }
        });
    }

    /// A run of chunks was hashed: the file's verified prefix grows and they are acknowledged.
    pub(super) async fn on_hashed(&mut self, done: Hashed) -> Option<Result<(), TransferError>> {
        let rf = self.files.get_mut(done.file)?;
        rf.hasher = Some(done.hasher);
        let first = rf.prefix;
        rf.prefix += done.chunks;
        self.dirty = true;
        let prefix = rf.prefix;
        for c in first..prefix {
            self.ack(done.file as u32, c).await;
        }
        if prefix >= self.core.manifest.chunk_count(done.file) {
            self.file_verified(done.file);
        }
        self.start_hashing();
        self.core.progress(false);
        None
    }

    /// Hashes the verified prefix of file `f` from its `.part` file again (after a restart);
    /// a missing or short file shrinks the prefix to what is really there.
    pub(super) async fn rebuild_hasher(&mut self, f: usize) {
        let path = state::part_path(self.core.hub.temp(), self.core.id, f);
        let chunk = u64::from(self.core.manifest.chunk_size);
        let size = self.core.manifest.files[f].size;
        let prefix = self.files[f].prefix;
        let rebuilt = tokio::task::spawn_blocking(move || {
            let have = std::fs::metadata(&path).map_or(0, |m| m.len());
            // Whole chunks on disk; a complete file's last chunk may be short.
            let on_disk = if have >= size {
                size.div_ceil(chunk)
            } else {
                have / chunk
            };
            let chunks = prefix.min(on_disk);
            let len = (chunks * chunk).min(size);
            sha256_prefix(&path, len).map(|hasher| (chunks, hasher))
        })
        .await;
        let rf = &mut self.files[f];
        rf.digest = None;
        match rebuilt {
            Ok(Ok((chunks, hasher))) => {
                rf.prefix = chunks;
                rf.hasher = Some(hasher);
            }
            _ => {
                rf.prefix = 0;
                rf.hasher = Some(Sha256::new());
            }
        }
        rf.truncate_to_prefix();
    }
}
