//! The destination: prepared when the data phase first starts, then each file whose chunks
//! are all verified and hashed is checked against its offered SHA-256 and moved into place,
//! a few at once on blocking threads.

use sha2::Digest;

use super::IncomingTransfer;
use crate::error::TransferError;
use crate::event::TransferEvent;
use crate::path::create_dirs_under;
use crate::state;
use crate::store::finalize_file;
use crate::wire::{Control, Kind};

/// Files checked and moved into place at once (on blocking threads).
const FINALIZE_JOBS: usize = 4;

/// A file checked against its SHA-256 and moved into place (or not).
pub(super) struct Finalized {
    pub file: usize,
    digest: [u8; 32],
    pub result: Result<(), TransferError>,
}

impl IncomingTransfer {
    /// First start of the data phase: directories, empty files, saved state (unless
    /// [`prepare`](Self::prepare) did that already), `Started`.
    pub(super) async fn begin(&mut self) -> Option<Result<(), TransferError>> {
        if !self.prepared
            && let Err(e) = self.prepare().await
        {
            return Some(Err(e));
        }
        self.core.started();
        self.finish_complete_files().await
    }

    /// Directories and the saved state, so that a restart right after we accept still knows
    /// the transfer: an accepted push calls this before its `accept` goes out.
    pub(crate) async fn prepare(&mut self) -> Result<(), TransferError> {
        let manifest = self.core.manifest.clone();
        let dest = self.dest.clone();
        let temp = self.core.hub.temp().to_path_buf();
        let id = self.core.id;
        let prepared = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(state::transfer_dir(&temp, id))
                .map_err(|e| TransferError::io(&temp, &e))?;
            if manifest.kind == Kind::File
                && let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|e| TransferError::io(parent, &e))?;
            }
            if manifest.kind == Kind::Directory {
                std::fs::create_dir_all(&dest).map_err(|e| TransferError::io(&dest, &e))?;
                for d in &manifest.dirs {
                    create_dirs_under(&dest, d)?;
                }
            }
            Ok::<(), TransferError>(())
        })
        .await
        .unwrap_or(Err(TransferError::Stopped));
        prepared?;
        self.save().await;
        self.prepared = true;
        Ok(())
    }

    /// Files with every chunk verified (always so for empty files) are finished at once.
    pub(super) async fn finish_complete_files(&mut self) -> Option<Result<(), TransferError>> {
        for f in 0..self.files.len() {
            if self.files[f].prefix >= self.core.manifest.chunk_count(f) {
                self.start_finalize(f);
            }
        }
        if self.done_count == self.files.len() {
            return Some(Ok(()));
        }
        None
    }

    /// Every chunk of file `f` is verified and hashed: finish it (and with the last file,
    /// the transfer, in `on_finalized`).
    pub(super) fn file_verified(&mut self, f: usize) {
        self.start_finalize(f);
        self.core.progress(false);
    }

    /// Starts checking the whole file's SHA-256 and moving it into place, on a blocking
    /// thread (a move across file systems is a copy): other files' chunks keep flowing.
    fn start_finalize(&mut self, f: usize) {
        let rf = &mut self.files[f];
        if rf.done || rf.finalizing {
            return;
        }
        rf.finalizing = true;
        if self.finalizing.len() >= FINALIZE_JOBS {
            self.to_finalize.push_back(f);
            return;
        }
        self.spawn_finalize(f);
    }

    fn spawn_finalize(&mut self, f: usize) {
        let rf = &mut self.files[f];
        let digest: [u8; 32] = match rf.digest.take() {
            Some(d) => d,
            None => rf.hasher.take().unwrap_or_default().finalize().into(),
        };
        rf.part = None;
        let m = self.core.manifest.files[f].clone();
        let kind = self.core.manifest.kind;
        let dest = self.dest.clone();
        let part = state::part_path(self.core.hub.temp(), self.core.id, f);
        self.finalizing.spawn_blocking(move || Finalized {
            file: f,
            digest,
            result: finalize_file(digest, &m.sha256, &part, kind, &dest, &m.rel, m.mtime),
        });
    }

    /// A file was checked and moved (or not).
    pub(super) async fn on_finalized(
        &mut self,
        done: Finalized,
    ) -> Option<Result<(), TransferError>> {
        let f = done.file;
        self.files.get_mut(f)?.finalizing = false;
        if let Some(next) = self.to_finalize.pop_front() {
            self.spawn_finalize(next);
        }
        match done.result {
            Ok(()) => {}
            Err(TransferError::DiskFull(p)) => {
                // The verified file stays in the temporary directory; `resume` finishes it.
                self.files[f].digest = Some(done.digest);
                self.pause_for_disk(&p).await;
                return None;
            }
            Err(e) => return Some(Err(e)),
        }
        let rf = &mut self.files[f];
        rf.done = true;
        rf.forget_chunks();
        self.done_count += 1;
        self.core.tracker.file_done();
        self.dirty = true;
        let rel = self.core.manifest.files[f].rel.to_string();
        let done = Control::FileDone {
            id: self.core.id,
            file: f as u32,
        };
        self.core.tell(&done).await;
        if self.core.manifest.kind == Kind::Directory {
            self.core.emit(TransferEvent::FileCompleted {
                id: self.core.id,
                path: rel,
            });
        }
        if self.done_count == self.files.len() {
            return Some(Ok(()));
        }
        self.core.progress(false);
        None
    }
}
