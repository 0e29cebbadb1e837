//! The receiving side of one transfer, as a task owning its state: checks each chunk's
//! SHA-256 before writing it at its offset in a `.part` file ([`chunks`]), hashes each file as
//! its verified prefix grows ([`hashing`]), checks the whole-file SHA-256 before moving the
//! file into place ([`finalize`]), and saves how far it got so a reconnect or a restart
//! continues from the verified prefix ([`resume`]). This file is the task: its state, its
//! loop, and the dispatch of messages.

mod chunks;
mod file;
mod finalize;
mod hashing;
mod resume;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rats_core::PeerId;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::error::TransferError;
use crate::event::{TransferInfo, TransferState};
use crate::hub::{Hub, TaskMsg, TaskRx};
use crate::id::TransferId;
use crate::manifest::Manifest;
use crate::state::SavedTransfer;
use crate::store::Stored;
pub(crate) use crate::store::check_space;
use crate::transfer_core::{TransferCore, ended_by_peer};
use crate::wire::{Control, Kind, Offer, clip_reason};

use file::RecvFile;
use finalize::Finalized;
use hashing::Hashed;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Pull: request sent, waiting for the server's offer.
    AwaitingOffer { directory: bool },
    /// Chunks are taken.
    Running,
    /// The peer is gone, or we asked where to continue and wait for the answer.
    Waiting,
}

/// How a transfer's receiving task starts.
pub(crate) enum Start {
    /// An accepted push: data is expected right away.
    Accepted(Arc<Manifest>),
    /// A pull: the server's offer is awaited.
    Requested { directory: bool },
    /// Loaded after a restart.
    Restored(Box<SavedTransfer>),
}

/// The receiving side of one transfer.
pub(crate) struct IncomingTransfer {
    core: TransferCore,
    dest: PathBuf,
    rx: TaskRx,
    phase: Phase,
    files: Vec<RecvFile>,
    done_count: usize,
    last_save: Instant,
    dirty: bool,
    /// Directories made and the state saved once ([`prepare`](Self::prepare)).
    prepared: bool,
    /// The chunk log, opened on the first chunk.
    chunk_log: Option<Arc<File>>,
    /// When the last chunk (or the answer to our `continue`) arrived.
    last_chunk: Instant,
    /// When we last settled and asked the sender to continue while running.
    last_resync: Option<Instant>,
    /// Chunks being checked and written.
    stores: JoinSet<Stored>,
    /// Their (file, chunk), so that a resend of one is not stored twice.
    storing: HashSet<(u32, u64)>,
    /// Verified chunks waiting to be hashed into their file's SHA-256 in order.
    verified: BTreeMap<(u32, u64), Bytes>,
    /// The one hashing job (hashing is sequential per file).
    hashing: JoinSet<Hashed>,
    /// Files being checked and moved into place.
    finalizing: JoinSet<Finalized>,
    /// Files verified and waiting for a finalizing job.
    to_finalize: VecDeque<usize>,
}

impl IncomingTransfer {
    pub(crate) fn new(
        hub: Arc<Hub>,
        id: TransferId,
        peer: PeerId,
        dest: PathBuf,
        start: Start,
        rx: TaskRx,
        info: watch::Sender<TransferInfo>,
    ) -> Self {
        let (manifest, phase, saved) = match start {
            Start::Accepted(m) => (m, Phase::Running, None),
            Start::Requested { directory } => (
                Arc::new(Manifest {
                    kind: if directory {
                        Kind::Directory
                    } else {
                        Kind::File
                    },
                    name: String::new(),
                    files: Vec::new(),
                    dirs: Vec::new(),
                    chunk_size: crate::config::MIN_CHUNK_SIZE,
                }),
                Phase::AwaitingOffer { directory },
                None,
            ),
            Start::Restored(s) => (s.manifest.clone(), Phase::Waiting, Some(*s)),
        };
        let mut t = IncomingTransfer {
            files: RecvFile::fresh(manifest.files.len()),
            core: TransferCore::new(hub, id, peer, manifest, info),
            dest,
            rx,
            phase,
            done_count: 0,
            last_save: Instant::now(),
            dirty: false,
            prepared: false,
            chunk_log: None,
            last_chunk: Instant::now(),
            last_resync: None,
            stores: JoinSet::new(),
            storing: HashSet::new(),
            verified: BTreeMap::new(),
            hashing: JoinSet::new(),
            finalizing: JoinSet::new(),
            to_finalize: VecDeque::new(),
        };
        if let Some(s) = saved {
            t.restore(&s);
        }
        t
    }

    /// A pull's offer arrived: its files replace the placeholder.
    fn set_manifest(&mut self, manifest: Arc<Manifest>) {
        self.files = RecvFile::fresh(manifest.files.len());
        self.core.set_manifest(manifest);
    }

    fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// Runs until the transfer finishes or the node stops.
    pub(crate) async fn run(mut self) {
        let span = self.core.span();
        async move {
            let outcome = self.main_loop().await;
            self.finish(outcome).await;
        }
        .instrument(span)
        .await;
    }

    async fn main_loop(&mut self) -> Option<Result<(), TransferError>> {
        let Ok(ctx) = self.core.hub.ctx().cloned() else {
            return None;
        };
        let cancel = ctx.cancellation().clone();
        if self.phase == Phase::Waiting
            && let Some(end) = self.adopt_files_in_place(cancel.cancelled()).await
        {
            return match end {
                Ok(()) => Some(Ok(())),
                // Stopping: `None` keeps the state for the next start.
                Err(_) => None,
            };
        }
        if self.phase == Phase::Running {
            if let Some(end) = self.begin().await {
                return Some(end);
            }
        } else if self.phase == Phase::Waiting && ctx.peer_info(&self.core.peer).is_some() {
            self.ask_to_continue().await;
        }
        let save_every = Duration::from_millis(self.core.hub.config.save_interval_ms);
        // A server without the transfer service never answers a request.
        let answer_by = tokio::time::Instant::now() + self.core.hub.config.answer_timeout();
        // With nothing arriving for this long while data is due, ask the sender (it answers,
        // or says it does not know the transfer any more).
        let idle = Duration::from_millis(self.core.hub.config.chunk_timeout_ms.saturating_mul(2));
        loop {
            let awaiting = matches!(self.phase, Phase::AwaitingOffer { .. });
            let expecting = (self.phase == Phase::Running
                && !self.core.is_paused()
                && self.finalizing.is_empty()
                && self.done_count < self.files.len())
                || (self.phase == Phase::Waiting && ctx.peer_info(&self.core.peer).is_some());
            let idle_at = tokio::time::Instant::from_std(self.last_chunk + idle);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep_until(answer_by), if awaiting => {
                    return Some(Err(TransferError::Timeout("no answer to the request".into())));
                }
                _ = tokio::time::sleep_until(idle_at), if expecting => {
                    if self.phase == Phase::Waiting {
                        // Our `continue` went unanswered: ask again.
                        self.last_chunk = Instant::now();
                        self.ask_to_continue().await;
                    } else if let Some(end) = self.resync().await {
                        return Some(end);
                    }
                }
                Some(done) = self.stores.join_next(), if !self.stores.is_empty() => {
                    let Ok(done) = done else { return Some(Err(TransferError::Stopped)) };
                    if let Some(end) = self.on_stored(done).await {
                        return Some(end);
                    }
                }
                Some(done) = self.hashing.join_next(), if !self.hashing.is_empty() => {
                    let Ok(done) = done else { return Some(Err(TransferError::Stopped)) };
                    if let Some(end) = self.on_hashed(done).await {
                        return Some(end);
                    }
                }
                Some(done) = self.finalizing.join_next(), if !self.finalizing.is_empty() => {
                    let Ok(done) = done else { return Some(Err(TransferError::Stopped)) };
                    if let Some(end) = self.on_finalized(done).await {
                        return Some(end);
                    }
                }
                // Always read: control and lifecycle messages must get through. Chunks are
                // bounded by the sender's window, and beyond it dropped (`has_room_for`).
                msg = self.rx.recv() => {
                    let msg = msg?;
                    if let Some(outcome) = self.handle(msg).await {
                        return Some(outcome);
                    }
                }
                _ = tokio::time::sleep(save_every), if self.dirty => {}
            }
            if self.dirty && self.last_save.elapsed() >= save_every {
                self.save().await;
            }
        }
    }

    /// Handles one message; `Some` ends the transfer.
    async fn handle(&mut self, msg: TaskMsg) -> Option<Result<(), TransferError>> {
        match msg {
            TaskMsg::Chunk(header, data, _held) => return self.on_chunk(header, data).await,
            TaskMsg::PeerUp => {
                // A long outage is not idleness: the idle timer starts over.
                self.last_chunk = Instant::now();
                if self.phase == Phase::Waiting {
                    self.ask_to_continue().await;
                }
            }
            TaskMsg::PeerDown => {
                // The peer says again after a reconnect whether it has paused.
                self.core.lift_peer_pause();
                if matches!(self.phase, Phase::AwaitingOffer { .. }) {
                    return Some(Err(TransferError::NotConnected(self.core.peer.short())));
                }
                if let Some(end) = self.settle().await {
                    return Some(end);
                }
                self.save().await;
                self.core.set_state(TransferState::WaitingForPeer);
            }
            TaskMsg::Pause => {
                self.core.pause_local().await;
                self.core.paused(self.running(), false, None);
                self.save().await;
            }
            TaskMsg::Resume => {
                self.core.resume_local(self.running()).await;
                self.last_chunk = Instant::now();
                self.save().await;
                // Files held back by a full disk.
                if self.phase == Phase::Running {
                    return self.finish_complete_files().await;
                }
            }
            TaskMsg::Cancel => return Some(Err(self.core.cancel().await)),
            TaskMsg::Control(c) => return self.on_control(c).await,
        }
        None
    }

    async fn on_control(&mut self, c: Control) -> Option<Result<(), TransferError>> {
        // Any word from the sender is a sign of life for the idle timer.
        self.last_chunk = Instant::now();
        match c {
            Control::Offer(offer) => {
                if let Phase::AwaitingOffer { directory } = self.phase {
                    return self.on_offer(offer, directory).await;
                }
                self.core.dropped();
            }
            Control::Reject { reason, .. } => {
                if matches!(self.phase, Phase::AwaitingOffer { .. }) {
                    return Some(Err(TransferError::Rejected(clip_reason(&reason))));
                }
            }
            Control::Pause { .. } => self.core.peer_paused(self.running()),
            Control::Resume { .. } => {
                self.core.lift_peer_pause();
                self.core.resumed(self.running());
            }
            c @ (Control::Cancel { .. } | Control::Failed { .. }) => {
                return ended_by_peer(&c).map(Err);
            }
            Control::ContinueFrom { files, .. } => {
                if self.phase == Phase::Waiting {
                    self.last_chunk = Instant::now();
                    // The sender says again whether it has paused (right after this).
                    self.core.lift_peer_pause();
                    if let Err(e) = self.continue_from(files) {
                        return Some(Err(e));
                    }
                    // Our pause outlives reconnects, restarts and the wait for the data phase.
                    self.core.announce_pause().await;
                    self.phase = Phase::Running;
                    self.core.continued();
                    // Files whose chunks all reached the disk before a restart (or empty ones)
                    // get nothing more from the sender: finish them now.
                    return self.finish_complete_files().await;
                }
            }
            // Messages only a receiver sends, or that a receiver never gets.
            Control::Request { .. }
            | Control::Accept { .. }
            | Control::Ack { .. }
            | Control::Nack { .. }
            | Control::FileDone { .. }
            | Control::Continue { .. } => self.core.dropped(),
            // The sender asks where we are (it is back, or it found the transfer stalled): tell
            // it what we have, and take chunks again once it answers.
            Control::Where { .. } => {
                let timeout = Duration::from_millis(self.core.hub.config.chunk_timeout_ms);
                if self.phase == Phase::Running {
                    // At most once per chunk timeout: each one settles the pipeline and sends
                    // the progress of every unfinished file.
                    if self.last_resync.is_some_and(|t| t.elapsed() < timeout) {
                        return None;
                    }
                    if let Some(end) = self.resync().await {
                        return Some(end);
                    }
                } else if self.phase == Phase::Waiting {
                    self.ask_to_continue().await;
                }
            }
        }
        None
    }

    /// Pull: the server's offer arrives; check it like a push offer, then accept.
    async fn on_offer(
        &mut self,
        offer: Offer,
        directory: bool,
    ) -> Option<Result<(), TransferError>> {
        let manifest = match Manifest::from_offer(&offer, &self.core.hub.config) {
            Ok(m) => m,
            Err(e) => {
                self.reject(&e.to_string()).await;
                return Some(Err(e));
            }
        };
        if (manifest.kind == Kind::Directory) != directory {
            let e = TransferError::Refused("the server offered a different kind".into());
            self.reject(&e.to_string()).await;
            return Some(Err(e));
        }
        if let Err(e) = check_space(&self.core.hub, &self.dest, manifest.total_size()).await {
            self.reject(&e.to_string()).await;
            return Some(Err(e));
        }
        let total = manifest.total_size();
        let files = manifest.files.len();
        let name = manifest.name.clone();
        self.set_manifest(Arc::new(manifest));
        self.core.update_info(|i| {
            i.name = name;
            i.total_bytes = total;
            i.files = files;
            i.progress.total_bytes = total;
        });
        let accept = Control::Accept {
            id: self.core.id,
            window: self.core.hub.config.window,
        };
        if let Err(e) = self.core.send(&accept).await {
            return Some(Err(e));
        }
        // Our pause outlives reconnects, restarts and the wait for the data phase.
        self.core.announce_pause().await;
        self.phase = Phase::Running;
        self.begin().await
    }

    async fn reject(&self, reason: &str) {
        let msg = Control::Reject {
            id: self.core.id,
            reason: clip_reason(reason),
        };
        self.core.tell(&msg).await;
    }

    async fn finish(mut self, outcome: Option<Result<(), TransferError>>) {
        // No write may land after the temporary data is removed.
        self.stores.shutdown().await;
        self.hashing.shutdown().await;
        let Some(outcome) = outcome else {
            // The node stops: files already moved into place count as done (their `.part` is
            // gone); keep the state so a restart continues.
            while let Some(joined) = self.finalizing.join_next().await {
                if let Ok(Finalized {
                    file,
                    result: Ok(()),
                    ..
                }) = joined
                    && let Some(rf) = self.files.get_mut(file)
                {
                    rf.done = true;
                    self.dirty = true;
                }
            }
            if self.dirty {
                self.save().await;
            }
            return;
        };
        self.finalizing.shutdown().await;
        // Open files are closed before the temporary data is removed.
        for f in &mut self.files {
            f.part = None;
        }
        self.chunk_log = None;
        self.core.finish(outcome).await;
    }
}
