//! Taking chunks: each is checked against its SHA-256 and written at its offset in the
//! file's `.part` (a few at once on blocking threads), logged for a restart, and then handed
//! to hashing; a corrupt one is asked for again, a full disk pauses the transfer.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tracing::warn;

use super::{IncomingTransfer, Phase};
use crate::error::TransferError;
use crate::event::TransferStats;
use crate::state;
use crate::store::{StoreJob, StoreOutcome, Stored};
use crate::wire::{ChunkHeader, Control};

/// Chunks checked and written at once (on blocking threads).
const STORE_JOBS: usize = 4;

impl IncomingTransfer {
    /// Chunks held (being stored, or verified and waiting to be hashed) are bounded by the
    /// window: beyond it only a chunk that continues a file's prefix (one that closes a gap)
    /// is taken, up to twice the window.
    fn has_room_for(&self, file: usize, chunk: u64) -> bool {
        let held = self.verified.len() + self.storing.len();
        let window = self.core.hub.config.window as usize;
        held < window
            || (held < 2 * window && self.files.get(file).is_some_and(|rf| rf.prefix == chunk))
    }

    /// Starts checking and writing a chunk; the outcome arrives in `on_stored`.
    pub(super) async fn on_chunk(
        &mut self,
        header: ChunkHeader,
        data: Bytes,
    ) -> Option<Result<(), TransferError>> {
        let f = header.file as usize;
        let c = header.chunk;
        self.last_chunk = Instant::now();
        let dropped = || self.core.dropped();
        if self.phase != Phase::Running || f >= self.files.len() || self.files[f].done {
            dropped();
            return None;
        }
        let count = self.core.manifest.chunk_count(f);
        let (offset, len) = self.core.manifest.chunk_span(f, c);
        if c >= count || data.len() != len {
            dropped();
            return None;
        }
        if self.files[f].has_prefix_chunk(c) {
            // A resend of something we have: acknowledge again, once it is hashed (chunks of
            // larger files waiting for hashing are acknowledged then).
            if c < self.files[f].prefix {
                self.ack(header.file, c).await;
            }
            return None;
        }
        if self.storing.contains(&(header.file, c)) {
            // A resend of a chunk being written: its acknowledgement follows.
            return None;
        }
        if !self.has_room_for(f, c) {
            // Not acknowledged: the sender sends it again after its timeout.
            dropped();
            return None;
        }
        // At most STORE_JOBS at once: wait for one to finish (a few milliseconds).
        while self.stores.len() >= STORE_JOBS {
            match self.stores.join_next().await {
                Some(Ok(done)) => {
                    if let Some(end) = self.on_stored(done).await {
                        return Some(end);
                    }
                }
                Some(Err(_)) => return Some(Err(TransferError::Stopped)),
                None => break,
            }
        }
        if self.files[f].done || self.files[f].has_prefix_chunk(c) {
            return None;
        }
        self.storing.insert((header.file, c));
        if self.chunk_log.is_none()
            && let Err(e) = self.open_chunk_log().await
        {
            return Some(Err(e));
        }
        // Over an encrypted connection the AEAD authenticated the bytes; the whole file's
        // SHA-256 is checked at the end. A single chunk's hash is the file's: always checked.
        let encrypted = self
            .core
            .hub
            .ctx()
            .ok()
            .and_then(|ctx| ctx.peer_info(&self.core.peer))
            .is_some_and(|p| p.encrypted);
        let job = StoreJob {
            log: self.chunk_log.clone(),
            file_index: header.file,
            chunk: c,
            path: state::part_path(self.core.hub.temp(), self.core.id, f),
            part: self.files[f].part.clone(),
            offset,
            data,
            sha256: header.sha256,
            check: !encrypted || count == 1,
        };
        self.stores.spawn_blocking(move || job.run());
        None
    }

    /// Opens the chunk log (on the first chunk). Without one a restart resumes from the
    /// last save.
    async fn open_chunk_log(&mut self) -> Result<(), TransferError> {
        let path = state::chunk_log_path(self.core.hub.temp(), self.core.id);
        let opened = tokio::task::spawn_blocking(move || {
            OpenOptions::new().append(true).create(true).open(&path)
        })
        .await
        .map_err(|_| TransferError::Stopped)?;
        match opened {
            Ok(log) => self.chunk_log = Some(Arc::new(log)),
            Err(e) => warn!(error = %e, "no chunk log: a restart resumes from the last save"),
        }
        Ok(())
    }

    /// A chunk was checked (and written, if good).
    pub(super) async fn on_stored(&mut self, done: Stored) -> Option<Result<(), TransferError>> {
        let (fi, c) = (done.file_index, done.chunk);
        self.storing.remove(&(fi, c));
        let f = fi as usize;
        let rf = self.files.get_mut(f)?;
        if rf.part.is_none() {
            rf.part = done.part;
        }
        match done.outcome {
            StoreOutcome::Stored => {}
            StoreOutcome::Corrupt => {
                TransferStats::add(&self.core.hub.stats.chunks_corrupt, 1);
                let nack = Control::Nack {
                    id: self.core.id,
                    file: fi,
                    chunk: c,
                };
                self.core.tell(&nack).await;
                return None;
            }
            StoreOutcome::Failed(TransferError::DiskFull(p)) => {
                self.pause_for_disk(&p).await;
                return None;
            }
            StoreOutcome::Failed(e) => return Some(Err(e)),
        }
        if rf.done || rf.has_prefix_chunk(c) {
            return None;
        }
        let count = self.core.manifest.chunk_count(f);
        let len = done.data.len() as u64;
        rf.mark(c, count);
        if count == 1 {
            // The chunk is the whole file: its verified hash is the file's SHA-256 (compared
            // with the offered one when the file is finished).
            rf.digest = Some(done.sha256);
            rf.prefix = 1;
        } else {
            self.verified.insert((fi, c), done.data);
        }
        TransferStats::add(&self.core.hub.stats.bytes_received, len);
        self.core.tracker.add_chunk(len);
        self.dirty = true;
        if count == 1 {
            self.ack(fi, c).await;
            self.file_verified(f);
            return None;
        }
        // A chunk of a larger file is acknowledged once it is hashed too: so the sender's
        // window also bounds what waits here for hashing.
        self.start_hashing();
        self.core.progress(false);
        None
    }

    /// The disk is full: keep everything verified, pause (the peer stops sending), and go on
    /// after the user's `resume` once there is room.
    pub(super) async fn pause_for_disk(&mut self, p: &Path) {
        if self.core.paused_local {
            // Already paused (another job hit the full disk too): its data is kept anyway.
            return;
        }
        warn!(path = %p.display(), "disk full: transfer paused");
        self.core.pause_local().await;
        self.save().await;
        let reason = format!("disk full writing {}", p.display());
        self.core.paused(self.running(), false, Some(reason));
    }

    /// Tells the sender a chunk is verified, written and hashed.
    pub(super) async fn ack(&self, file: u32, chunk: u64) {
        let ack = Control::Ack {
            id: self.core.id,
            file,
            chunk,
        };
        self.core.tell(&ack).await;
    }
}
