//! What the receiver knows of one file: which chunks are verified, how far the hashed prefix
//! reaches, and whether the file is being finished or done.

use std::fs::File;
use std::sync::Arc;

use sha2::{Digest, Sha256};

#[derive(Default)]
pub(super) struct RecvFile {
    /// Chunks received and verified (a bitset; empty until the first chunk).
    received: Vec<u64>,
    /// Chunks from the start that are all verified and hashed into `hasher`.
    pub prefix: u64,
    /// SHA-256 state over the prefix; `None` until rebuilt from disk after a restart, and
    /// while a hashing job has it.
    pub hasher: Option<Sha256>,
    /// The whole file's SHA-256 when already known: a one-chunk file's is its chunk's.
    pub digest: Option<[u8; 32]>,
    /// Being checked and moved into place.
    pub finalizing: bool,
    pub done: bool,
    pub part: Option<Arc<File>>,
}

impl RecvFile {
    /// `n` files with nothing received yet.
    pub(super) fn fresh(n: usize) -> Vec<RecvFile> {
        (0..n)
            .map(|_| RecvFile {
                hasher: Some(Sha256::new()),
                ..RecvFile::default()
            })
            .collect()
    }

    pub(super) fn has(&self, c: u64) -> bool {
        self.received
            .get((c / 64) as usize)
            .is_some_and(|w| w & (1 << (c % 64)) != 0)
    }

    pub(super) fn mark(&mut self, c: u64, count: u64) {
        if self.received.is_empty() {
            self.received = vec![0; count.div_ceil(64) as usize];
        }
        if let Some(w) = self.received.get_mut((c / 64) as usize) {
            *w |= 1 << (c % 64);
        }
    }

    /// Forgets chunks beyond the prefix (after a reconnect the sender starts there).
    pub(super) fn truncate_to_prefix(&mut self) {
        self.received.clear();
    }

    /// Frees the bitset of a finished file.
    pub(super) fn forget_chunks(&mut self) {
        self.received = Vec::new();
    }

    pub(super) fn has_prefix_chunk(&self, c: u64) -> bool {
        c < self.prefix || self.has(c)
    }

    /// Chunks from the start that are verified and written (hashed or not): what a restart
    /// can continue from (the hash is rebuilt from the disk then).
    pub(super) fn stored_prefix(&self) -> u64 {
        let mut p = self.prefix;
        while self.has(p) {
            p += 1;
        }
        p
    }
}
