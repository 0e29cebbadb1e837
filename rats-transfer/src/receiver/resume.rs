//! Resuming: the state saved for a restart and how it is read back, settling the pipeline
//! when the peers fall out of step, and the `continue` / `continue_from` exchange that picks
//! up at each file's verified prefix.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tracing::warn;

use super::{IncomingTransfer, Phase};
use crate::error::TransferError;
use crate::event::TransferEvent;
use crate::state::{self, SavedTransfer};
use crate::wire::{Control, FileProgress, FileStart, Kind};

impl IncomingTransfer {
    /// Takes up a transfer saved before a restart: files done, verified prefixes (extended
    /// by the chunk log), and our pause.
    pub(super) fn restore(&mut self, s: &SavedTransfer) {
        for (i, f) in self.files.iter_mut().enumerate() {
            f.done = s.files_done.get(i).copied().unwrap_or(false);
            f.prefix = s.prefixes.get(i).copied().unwrap_or(0);
        }
        self.done_count = self.files.iter().filter(|f| f.done).count();
        self.core.paused_local = s.paused;
        self.replay_chunk_log();
    }

    /// After a restart: files that were moved into place before the kill but not yet
    /// recorded as done (their `.part` gone, the target complete with the offered SHA-256)
    /// count as done, so the transfer does not ask a sender that may have finished already.
    /// `Some(Ok(()))` when every file is done (also when the state saved at a stop already
    /// said so but the last `file_done` never reached the sender); `Some(Err(Stopped))` if the
    /// node stops (`cancelled` completes) meanwhile (the state is kept).
    pub(super) async fn adopt_files_in_place(
        &mut self,
        cancelled: impl std::future::Future<Output = ()>,
    ) -> Option<Result<(), TransferError>> {
        let manifest = self.core.manifest.clone();
        let temp = self.core.hub.temp().to_path_buf();
        let id = self.core.id;
        let dest = self.dest.clone();
        let pending: Vec<usize> = (0..self.files.len())
            .filter(|&f| !self.files[f].done)
            .collect();
        if !pending.is_empty() {
            // Hashing a large file takes a while: a stopping node must not wait for it.
            let stop = Arc::new(AtomicBool::new(false));
            let stopped = stop.clone();
            let job = tokio::task::spawn_blocking(move || {
                pending
                    .into_iter()
                    .filter(|&f| {
                        let m = &manifest.files[f];
                        crate::store::already_in_place(
                            &state::part_path(&temp, id, f),
                            manifest.kind,
                            &dest,
                            &m.rel,
                            m.size,
                            &m.sha256,
                            &stopped,
                        )
                    })
                    .collect::<Vec<usize>>()
            });
            let adopted = tokio::select! {
                _ = cancelled => {
                    stop.store(true, Ordering::Relaxed);
                    return Some(Err(TransferError::Stopped));
                }
                r = job => r.unwrap_or_default(),
            };
            for f in adopted {
                let rf = &mut self.files[f];
                if rf.done {
                    continue;
                }
                rf.done = true;
                rf.forget_chunks();
                self.done_count += 1;
                self.dirty = true;
                if self.core.manifest.kind == Kind::Directory {
                    self.core.emit(TransferEvent::FileCompleted {
                        id: self.core.id,
                        path: self.core.manifest.files[f].rel.to_string(),
                    });
                }
            }
            self.core
                .restart_progress(self.files.iter().map(|rf| (!rf.done).then_some(rf.prefix)));
        }
        if self.done_count == self.files.len() {
            return Some(Ok(()));
        }
        None
    }

    /// After a restart: chunks written after the last save extend the saved prefixes.
    fn replay_chunk_log(&mut self) {
        let max = self.core.manifest.total_chunks();
        for (f, c) in state::read_chunk_log(self.core.hub.temp(), self.core.id, max) {
            let fi = f as usize;
            let count = self.core.manifest.chunk_count(fi);
            if let Some(rf) = self.files.get_mut(fi)
                && !rf.done
                && c < count
                && !rf.has_prefix_chunk(c)
            {
                rf.mark(c, count);
            }
        }
        for rf in &mut self.files {
            while rf.has(rf.prefix) {
                rf.prefix += 1;
            }
            // The hasher is rebuilt from disk over the prefix before continuing.
            rf.hasher = None;
        }
    }

    /// Saves files done and stored prefixes (nothing while a pull awaits its offer).
    pub(super) async fn save(&mut self) {
        if matches!(self.phase, Phase::AwaitingOffer { .. }) {
            return;
        }
        let saved = SavedTransfer {
            files_done: self.files.iter().map(|f| f.done).collect(),
            prefixes: self.files.iter().map(|f| f.stored_prefix()).collect(),
            ..self.core.saved()
        };
        // What is logged is in the saved (stored) prefixes now, or beyond a gap (sent again);
        // a chunk whose job is still running logs after this, or at worst is sent again.
        self.core.save(saved, self.chunk_log.clone()).await;
        self.last_save = Instant::now();
        self.dirty = false;
    }

    /// Lets every running job finish and hashes what is verified, so that the prefixes are
    /// exact (before saving for a reconnect).
    async fn drain(&mut self) -> Option<Result<(), TransferError>> {
        loop {
            if let Some(done) = self.stores.join_next().await {
                let Ok(done) = done else {
                    return Some(Err(TransferError::Stopped));
                };
                if let Some(end) = self.on_stored(done).await {
                    return Some(end);
                }
                continue;
            }
            self.start_hashing();
            match self.hashing.join_next().await {
                Some(Ok(done)) => {
                    if let Some(end) = self.on_hashed(done).await {
                        return Some(end);
                    }
                }
                Some(Err(_)) => return Some(Err(TransferError::Stopped)),
                None => break,
            }
        }
        // Files waiting for a finalizing job are started again later (`finish_complete_files`
        // after `continue_from`, or `resume`); only the running jobs are waited for.
        for f in std::mem::take(&mut self.to_finalize) {
            if let Some(rf) = self.files.get_mut(f) {
                rf.finalizing = false;
            }
        }
        while let Some(done) = self.finalizing.join_next().await {
            let Ok(done) = done else {
                return Some(Err(TransferError::Stopped));
            };
            if let Some(end) = self.on_finalized(done).await {
                return Some(end);
            }
        }
        // Chunks beyond a gap are forgotten; the sender sends them again.
        self.verified.clear();
        None
    }

    /// Settles what is running and waits for the sender to continue from the verified
    /// prefixes (after a reconnect, or out of step with it).
    pub(super) async fn settle(&mut self) -> Option<Result<(), TransferError>> {
        if let Some(end) = self.drain().await {
            return Some(end);
        }
        self.phase = Phase::Waiting;
        for f in &mut self.files {
            f.truncate_to_prefix();
        }
        None
    }

    /// Out of step with the sender (it asked, or nothing arrived for long): settle what is
    /// running, then send `continue` and wait for `continue_from`.
    pub(super) async fn resync(&mut self) -> Option<Result<(), TransferError>> {
        self.last_resync = Some(Instant::now());
        if let Some(end) = self.settle().await {
            return Some(end);
        }
        self.ask_to_continue().await;
        self.last_chunk = Instant::now();
        None
    }

    /// After a reconnect or a restart: tell the sender what we have. If the peer is gone
    /// again, the next `PeerUp` (or its `where`) asks again.
    pub(super) async fn ask_to_continue(&mut self) {
        let mut progress = Vec::new();
        for f in 0..self.files.len() {
            if self.files[f].done {
                continue;
            }
            if self.files[f].hasher.is_none() {
                self.rebuild_hasher(f).await;
            }
            let rf = &self.files[f];
            let m = &self.core.manifest.files[f];
            let digest = rf.hasher.clone().unwrap_or_default().finalize();
            progress.push(FileProgress {
                file: f as u32,
                size: m.size,
                mtime: m.mtime,
                chunks: rf.prefix,
                prefix_sha256: hex::encode(digest),
            });
        }
        let msg = Control::Continue {
            id: self.core.id,
            window: self.core.hub.config.window,
            files: progress,
        };
        if let Err(e) = self.core.send(&msg).await {
            warn!(error = %e, "could not ask the sender to continue; waiting for the peer");
        }
    }

    /// The sender's answer: where each unfinished file continues (at our prefix, or at zero
    /// when its source no longer matches what we have).
    pub(super) fn continue_from(&mut self, starts: Vec<FileStart>) -> Result<(), TransferError> {
        for s in starts {
            let Some(rf) = self.files.get_mut(s.file as usize) else {
                continue;
            };
            if s.chunk > rf.prefix {
                return Err(TransferError::Refused(
                    "the sender would skip chunks we do not have".into(),
                ));
            }
            if s.chunk < rf.prefix {
                // The sender's source does not match what we have: start the file over.
                rf.prefix = 0;
                rf.digest = None;
                rf.hasher = Some(Sha256::new());
                rf.truncate_to_prefix();
            }
        }
        self.core
            .restart_progress(self.files.iter().map(|rf| (!rf.done).then_some(rf.prefix)));
        self.dirty = true;
        Ok(())
    }
}
