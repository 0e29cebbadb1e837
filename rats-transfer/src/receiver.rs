//! The receiving side of one transfer, as a task owning its state: checks each chunk's
//! SHA-256 before writing it at its offset in a `.part` file, hashes each file as its verified
//! prefix grows, checks the whole-file SHA-256 before moving the file into place, and saves
//! how far it got so a reconnect or a restart continues from the verified prefix.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rats_core::PeerId;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{Instrument, info_span, warn};

use crate::error::TransferError;
use crate::event::{TransferEvent, TransferInfo, TransferState, TransferStats};
use crate::fileio::read_exact_at;
use crate::hub::{Hub, TaskMsg, TaskRx};
use crate::id::TransferId;
use crate::manifest::Manifest;
use crate::path::create_dirs_under;
use crate::progress::Tracker;
use crate::state::{self, SavedRole, SavedTransfer};
pub(crate) use crate::store::check_space;
use crate::store::{StoreJob, StoreOutcome, Stored, finalize_file};
use crate::wire::{ChunkHeader, Control, FileProgress, FileStart, Kind, Offer, clip_reason};

/// Chunks checked and written at once (on blocking threads).
const STORE_JOBS: usize = 4;
/// Files checked and moved into place at once (on blocking threads).
const FINALIZE_JOBS: usize = 4;
/// Most bytes hashed into a file's running SHA-256 in one blocking call.
const HASH_BATCH_BYTES: usize = 1 << 20;

/// A file checked against its SHA-256 and moved into place (or not).
struct Finalized {
    file: usize,
    digest: [u8; 32],
    result: Result<(), TransferError>,
}

/// A run of verified chunks of one file hashed into its running SHA-256.
struct Hashed {
    file: usize,
    chunks: u64,
    hasher: Sha256,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Pull: request sent, waiting for the server's offer.
    AwaitingOffer { directory: bool },
    /// Chunks are taken.
    Running,
    /// The peer is gone, or we asked where to continue and wait for the answer.
    Waiting,
}

#[derive(Default)]
struct RecvFile {
    /// Chunks received and verified (a bitset; empty until the first chunk).
    received: Vec<u64>,
    received_count: u64,
    /// Chunks from the start that are all verified and hashed into `hasher`.
    prefix: u64,
    /// SHA-256 state over the prefix; `None` until rebuilt from disk after a restart, and
    /// while a hashing job has it.
    hasher: Option<Sha256>,
    /// The whole file's SHA-256 when already known: a one-chunk file's is its chunk's.
    digest: Option<[u8; 32]>,
    /// Being checked and moved into place.
    finalizing: bool,
    done: bool,
    part: Option<Arc<File>>,
}

impl RecvFile {
    fn has(&self, c: u64) -> bool {
        self.received
            .get((c / 64) as usize)
            .is_some_and(|w| w & (1 << (c % 64)) != 0)
    }

    fn mark(&mut self, c: u64, count: u64) {
        if self.received.is_empty() {
            self.received = vec![0; count.div_ceil(64) as usize];
        }
        if let Some(w) = self.received.get_mut((c / 64) as usize) {
            *w |= 1 << (c % 64);
            self.received_count += 1;
        }
    }

    /// Forgets chunks beyond the prefix (after a reconnect the sender starts there).
    fn truncate_to_prefix(&mut self) {
        self.received.clear();
        self.received_count = self.prefix;
    }

    fn has_prefix_chunk(&self, c: u64) -> bool {
        c < self.prefix || self.has(c)
    }

    /// Chunks from the start that are verified and written (hashed or not): what a restart
    /// can continue from (the hash is rebuilt from the disk then).
    fn stored_prefix(&self) -> u64 {
        let mut p = self.prefix;
        while self.has(p) {
            p += 1;
        }
        p
    }
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
    hub: Arc<Hub>,
    id: TransferId,
    peer: PeerId,
    manifest: Arc<Manifest>,
    dest: PathBuf,
    rx: TaskRx,
    info: watch::Sender<TransferInfo>,
    phase: Phase,
    files: Vec<RecvFile>,
    done_count: usize,
    paused_local: bool,
    paused_remote: bool,
    tracker: Tracker,
    last_save: Instant,
    dirty: bool,
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
    to_finalize: std::collections::VecDeque<usize>,
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
            tracker: Tracker::new(0, 0, Duration::from_millis(hub.config.progress_interval_ms)),
            hub,
            id,
            peer,
            manifest: manifest.clone(),
            dest,
            rx,
            info,
            phase,
            files: Vec::new(),
            done_count: 0,
            paused_local: false,
            paused_remote: false,
            last_save: Instant::now(),
            dirty: false,
            chunk_log: None,
            last_chunk: Instant::now(),
            last_resync: None,
            stores: JoinSet::new(),
            storing: HashSet::new(),
            verified: BTreeMap::new(),
            hashing: JoinSet::new(),
            finalizing: JoinSet::new(),
            to_finalize: std::collections::VecDeque::new(),
        };
        t.set_manifest(manifest);
        if let Some(s) = saved {
            for (i, f) in t.files.iter_mut().enumerate() {
                f.done = s.files_done.get(i).copied().unwrap_or(false);
                f.prefix = s.prefixes.get(i).copied().unwrap_or(0);
                f.received_count = f.prefix;
            }
            t.done_count = t.files.iter().filter(|f| f.done).count();
            t.paused_local = s.paused;
            t.replay_chunk_log();
        }
        t
    }

    /// After a restart: chunks written after the last save extend the saved prefixes.
    fn replay_chunk_log(&mut self) {
        let max = self.manifest.total_chunks();
        for (f, c) in state::read_chunk_log(self.hub.temp(), self.id, max) {
            let fi = f as usize;
            let count = self.manifest.chunk_count(fi);
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

    fn set_manifest(&mut self, manifest: Arc<Manifest>) {
        self.files = (0..manifest.files.len())
            .map(|_| RecvFile {
                hasher: Some(Sha256::new()),
                ..RecvFile::default()
            })
            .collect();
        self.tracker = Tracker::new(
            manifest.total_size(),
            manifest.total_chunks(),
            Duration::from_millis(self.hub.config.progress_interval_ms),
        );
        self.manifest = manifest;
    }

    /// Runs until the transfer finishes or the node stops.
    pub(crate) async fn run(mut self) {
        let span =
            info_span!("transfer", id = %self.id.short(), peer = %self.peer.short(), dir = "in");
        async move {
            let outcome = self.main_loop().await;
            self.finish(outcome).await;
        }
        .instrument(span)
        .await;
    }

    async fn main_loop(&mut self) -> Option<Result<(), TransferError>> {
        let Ok(ctx) = self.hub.ctx().cloned() else {
            return None;
        };
        let cancel = ctx.cancellation().clone();
        if self.phase == Phase::Running {
            if let Some(end) = self.begin().await {
                return Some(end);
            }
        } else if self.phase == Phase::Waiting && ctx.peer_info(&self.peer).is_some() {
            self.ask_to_continue().await;
        }
        let save_every = Duration::from_millis(self.hub.config.save_interval_ms);
        // A server without the transfer service never answers a request.
        let answer_by = tokio::time::Instant::now() + self.hub.config.answer_timeout();
        // With nothing arriving for this long while data is due, ask the sender (it answers,
        // or says it does not know the transfer any more).
        let idle = Duration::from_millis(self.hub.config.chunk_timeout_ms.saturating_mul(2));
        loop {
            let awaiting = matches!(self.phase, Phase::AwaitingOffer { .. });
            let expecting = (self.phase == Phase::Running
                && !self.paused_local
                && !self.paused_remote
                && self.finalizing.is_empty()
                && self.done_count < self.files.len())
                || (self.phase == Phase::Waiting && ctx.peer_info(&self.peer).is_some());
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

    /// Tells the peer again that we have paused (it forgets a pause with the connection).
    async fn announce_pause(&self) {
        if self.paused_local {
            let _ = self
                .hub
                .send(&self.peer, &Control::Pause { id: self.id })
                .await;
        }
    }

    fn set_state(&self, state: TransferState) {
        self.info.send_modify(|i| i.state = state);
    }

    fn running_state(&self) -> TransferState {
        if self.paused_local {
            TransferState::Paused { by_peer: false }
        } else if self.paused_remote {
            TransferState::Paused { by_peer: true }
        } else {
            TransferState::Active
        }
    }

    fn progress(&mut self, force: bool) {
        if let Some(p) = self.tracker.due(force) {
            self.info.send_modify(|i| i.progress = p.clone());
            self.hub.emit(TransferEvent::Progress {
                id: self.id,
                peer: self.peer,
                progress: p,
            });
        }
    }

    fn saved(&self) -> SavedTransfer {
        SavedTransfer {
            id: self.id,
            peer: self.peer,
            role: SavedRole::Receiver,
            manifest: self.manifest.clone(),
            local_path: self.dest.clone(),
            sources: Vec::new(),
            files_done: self.files.iter().map(|f| f.done).collect(),
            prefixes: self.files.iter().map(RecvFile::stored_prefix).collect(),
            paused: self.paused_local,
            saved_at: state::now_secs(),
        }
    }

    async fn save(&mut self) {
        if matches!(self.phase, Phase::AwaitingOffer { .. }) {
            return;
        }
        let saved = self.saved();
        let temp = self.hub.temp().to_path_buf();
        let log = self.chunk_log.clone();
        let saved_and_truncated = tokio::task::spawn_blocking(move || {
            state::save(&temp, &saved)?;
            // What is logged is in the saved (stored) prefixes now, or beyond a gap (sent
            // again); a chunk whose job is still running logs after this, or at worst is sent
            // again.
            match log {
                Some(log) => log.set_len(0),
                None => Ok(()),
            }
        });
        match saved_and_truncated.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "could not save transfer state"),
            Err(_) => {}
        }
        self.last_save = Instant::now();
        self.dirty = false;
    }

    /// First start of the data phase: directories, empty files, saved state, `Started`.
    async fn begin(&mut self) -> Option<Result<(), TransferError>> {
        let manifest = self.manifest.clone();
        let dest = self.dest.clone();
        let temp = self.hub.temp().to_path_buf();
        let id = self.id;
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
        if let Err(e) = prepared {
            return Some(Err(e));
        }
        self.save().await;
        self.set_state(self.running_state());
        self.hub
            .emit(TransferEvent::Started(self.info.borrow().clone()));
        self.finish_complete_files().await
    }

    /// Files with every chunk verified (always so for empty files) are finished at once.
    async fn finish_complete_files(&mut self) -> Option<Result<(), TransferError>> {
        for f in 0..self.files.len() {
            if self.files[f].prefix >= self.manifest.chunk_count(f) {
                self.start_finalize(f);
            }
        }
        if self.done_count == self.files.len() {
            return Some(Ok(()));
        }
        None
    }

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
                self.paused_remote = false;
                if matches!(self.phase, Phase::AwaitingOffer { .. }) {
                    return Some(Err(TransferError::NotConnected(self.peer.short())));
                }
                if let Some(end) = self.drain().await {
                    return Some(end);
                }
                self.phase = Phase::Waiting;
                for f in &mut self.files {
                    f.truncate_to_prefix();
                }
                self.save().await;
                self.set_state(TransferState::WaitingForPeer);
            }
            TaskMsg::Pause => {
                self.paused_local = true;
                let _ = self
                    .hub
                    .send(&self.peer, &Control::Pause { id: self.id })
                    .await;
                self.paused_event(false, None);
                self.save().await;
            }
            TaskMsg::Resume => {
                self.paused_local = false;
                let _ = self
                    .hub
                    .send(&self.peer, &Control::Resume { id: self.id })
                    .await;
                self.resumed_event();
                self.save().await;
                // Files held back by a full disk.
                if self.phase == Phase::Running {
                    return self.finish_complete_files().await;
                }
            }
            TaskMsg::Cancel => {
                let msg = Control::Cancel {
                    id: self.id,
                    reason: "cancelled by the receiver".into(),
                };
                let _ = self.hub.send(&self.peer, &msg).await;
                return Some(Err(TransferError::Cancelled));
            }
            TaskMsg::Control(c) => return self.on_control(c).await,
        }
        None
    }

    fn paused_event(&self, by_peer: bool, reason: Option<String>) {
        if self.phase == Phase::Running {
            self.set_state(self.running_state());
        }
        self.hub.emit(TransferEvent::Paused {
            id: self.id,
            by_peer,
            reason,
        });
    }

    fn resumed_event(&mut self) {
        self.last_chunk = Instant::now();
        if self.phase == Phase::Running {
            self.set_state(self.running_state());
        }
        let p = self.tracker.snapshot();
        self.tracker
            .restart(p.bytes_done, p.chunks_done, p.files_done);
        self.hub.emit(TransferEvent::Resumed { id: self.id });
    }

    async fn on_control(&mut self, c: Control) -> Option<Result<(), TransferError>> {
        // Any word from the sender is a sign of life for the idle timer.
        self.last_chunk = Instant::now();
        match c {
            Control::Offer(offer) => {
                if let Phase::AwaitingOffer { directory } = self.phase {
                    return self.on_offer(offer, directory).await;
                }
                TransferStats::add(&self.hub.stats.chunks_dropped, 1);
            }
            Control::Reject { reason, .. } => {
                if matches!(self.phase, Phase::AwaitingOffer { .. }) {
                    return Some(Err(TransferError::Rejected(clip_reason(&reason))));
                }
            }
            Control::Pause { .. } => {
                self.paused_remote = true;
                self.paused_event(true, None);
            }
            Control::Resume { .. } => {
                self.paused_remote = false;
                self.resumed_event();
            }
            Control::Cancel { reason, .. } => {
                return Some(Err(TransferError::CancelledByPeer(clip_reason(&reason))));
            }
            Control::Failed { reason, .. } => {
                return Some(Err(TransferError::Remote(clip_reason(&reason))));
            }
            Control::ContinueFrom { files, .. } => {
                if self.phase == Phase::Waiting {
                    self.last_chunk = Instant::now();
                    // The sender says again whether it has paused (right after this).
                    self.paused_remote = false;
                    if let Err(e) = self.continue_from(files) {
                        return Some(Err(e));
                    }
                    // Our pause outlives reconnects, restarts and the wait for the data phase.
                    self.announce_pause().await;
                    self.phase = Phase::Running;
                    self.set_state(self.running_state());
                    self.hub.emit(TransferEvent::Resumed { id: self.id });
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
            | Control::Continue { .. } => {
                TransferStats::add(&self.hub.stats.chunks_dropped, 1);
            }
            // The sender asks where we are (it is back, or it found the transfer stalled): tell
            // it what we have, and take chunks again once it answers.
            Control::Where { .. } => {
                let timeout = Duration::from_millis(self.hub.config.chunk_timeout_ms);
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
        let manifest = match Manifest::from_offer(&offer, &self.hub.config) {
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
        if let Err(e) = check_space(&self.hub, &self.dest, manifest.total_size()).await {
            self.reject(&e.to_string()).await;
            return Some(Err(e));
        }
        let total = manifest.total_size();
        let files = manifest.files.len();
        let name = manifest.name.clone();
        self.set_manifest(Arc::new(manifest));
        self.info.send_modify(|i| {
            i.name = name;
            i.total_bytes = total;
            i.files = files;
            i.progress.total_bytes = total;
        });
        let accept = Control::Accept {
            id: self.id,
            window: self.hub.config.window,
        };
        if let Err(e) = self.hub.send(&self.peer, &accept).await {
            return Some(Err(e));
        }
        // Our pause outlives reconnects, restarts and the wait for the data phase.
        self.announce_pause().await;
        self.phase = Phase::Running;
        self.begin().await
    }

    async fn reject(&self, reason: &str) {
        let msg = Control::Reject {
            id: self.id,
            reason: clip_reason(reason),
        };
        let _ = self.hub.send(&self.peer, &msg).await;
    }

    /// Out of step with the sender (it asked, or nothing arrived for long): settle what is
    /// running, then send `continue` and wait for `continue_from`.
    async fn resync(&mut self) -> Option<Result<(), TransferError>> {
        self.last_resync = Some(Instant::now());
        if let Some(end) = self.drain().await {
            return Some(end);
        }
        self.phase = Phase::Waiting;
        for f in &mut self.files {
            f.truncate_to_prefix();
        }
        self.ask_to_continue().await;
        self.last_chunk = Instant::now();
        None
    }

    /// After a reconnect or a restart: tell the sender what we have. If the peer is gone
    /// again, the next `PeerUp` (or its `where`) asks again.
    async fn ask_to_continue(&mut self) {
        let mut progress = Vec::new();
        for f in 0..self.files.len() {
            if self.files[f].done {
                continue;
            }
            if self.files[f].hasher.is_none() {
                self.rebuild_hasher(f).await;
            }
            let rf = &self.files[f];
            let m = &self.manifest.files[f];
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
            id: self.id,
            window: self.hub.config.window,
            files: progress,
        };
        if let Err(e) = self.hub.send(&self.peer, &msg).await {
            warn!(error = %e, "could not ask the sender to continue; waiting for the peer");
        }
    }

    /// Hashes the verified prefix of file `f` from its `.part` file again (after a restart);
    /// a missing or short file shrinks the prefix to what is really there.
    async fn rebuild_hasher(&mut self, f: usize) {
        let path = state::part_path(self.hub.temp(), self.id, f);
        let chunk = u64::from(self.manifest.chunk_size);
        let size = self.manifest.files[f].size;
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
            let mut hasher = Sha256::new();
            if len > 0 {
                let file = File::open(&path)?;
                let mut buf = vec![0u8; 1 << 20];
                let mut off = 0;
                while off < len {
                    let n = (len - off).min(buf.len() as u64) as usize;
                    read_exact_at(&file, &mut buf[..n], off)?;
                    hasher.update(&buf[..n]);
                    off += n as u64;
                }
            }
            Ok::<_, std::io::Error>((chunks, hasher))
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

    fn continue_from(&mut self, starts: Vec<FileStart>) -> Result<(), TransferError> {
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
        let (mut bytes, mut chunks) = (0, 0);
        for (f, rf) in self.files.iter().enumerate() {
            if rf.done {
                bytes += self.manifest.files[f].size;
                chunks += self.manifest.chunk_count(f);
            } else {
                bytes += self.manifest.chunk_span(f, rf.prefix).0;
                chunks += rf.prefix;
            }
        }
        self.tracker.restart(bytes, chunks, self.done_count);
        self.dirty = true;
        Ok(())
    }

    /// Chunks held (being stored, or verified and waiting to be hashed) are bounded by the
    /// window: beyond it only a chunk that continues a file's prefix (one that closes a gap)
    /// is taken, up to twice the window.
    fn has_room_for(&self, file: usize, chunk: u64) -> bool {
        let held = self.verified.len() + self.storing.len();
        let window = self.hub.config.window as usize;
        held < window
            || (held < 2 * window && self.files.get(file).is_some_and(|rf| rf.prefix == chunk))
    }

    /// Starts checking and writing a chunk; the outcome arrives in `on_stored`.
    async fn on_chunk(
        &mut self,
        header: ChunkHeader,
        data: Bytes,
    ) -> Option<Result<(), TransferError>> {
        let f = header.file as usize;
        let c = header.chunk;
        self.last_chunk = Instant::now();
        let dropped = || TransferStats::add(&self.hub.stats.chunks_dropped, 1);
        if self.phase != Phase::Running || f >= self.files.len() || self.files[f].done {
            dropped();
            return None;
        }
        let count = self.manifest.chunk_count(f);
        let (offset, len) = self.manifest.chunk_span(f, c);
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
        if self.chunk_log.is_none() {
            let path = state::chunk_log_path(self.hub.temp(), self.id);
            let opened = tokio::task::spawn_blocking(move || {
                OpenOptions::new().append(true).create(true).open(&path)
            })
            .await;
            match opened {
                Ok(Ok(log)) => self.chunk_log = Some(Arc::new(log)),
                Ok(Err(e)) => {
                    warn!(error = %e, "no chunk log: a restart resumes from the last save")
                }
                Err(_) => return Some(Err(TransferError::Stopped)),
            }
        }
        let job = StoreJob {
            log: self.chunk_log.clone(),
            file_index: header.file,
            chunk: c,
            path: state::part_path(self.hub.temp(), self.id, f),
            part: self.files[f].part.clone(),
            offset,
            data,
            sha256: header.sha256,
        };
        self.stores.spawn_blocking(move || job.run());
        None
    }

    /// A chunk was checked (and written, if good).
    async fn on_stored(&mut self, done: Stored) -> Option<Result<(), TransferError>> {
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
                TransferStats::add(&self.hub.stats.chunks_corrupt, 1);
                let nack = Control::Nack {
                    id: self.id,
                    file: fi,
                    chunk: c,
                };
                let _ = self.hub.send(&self.peer, &nack).await;
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
        let count = self.manifest.chunk_count(f);
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
        TransferStats::add(&self.hub.stats.bytes_received, len);
        self.tracker.add_chunk(len);
        self.dirty = true;
        if count == 1 {
            self.ack(fi, c).await;
            return self.file_verified(f).await;
        }
        // A chunk of a larger file is acknowledged once it is hashed too: so the sender's
        // window also bounds what waits here for hashing.
        self.start_hashing();
        self.progress(false);
        None
    }

    /// The disk is full: keep everything verified, pause (the peer stops sending), and go on
    /// after the user's `resume` once there is room.
    async fn pause_for_disk(&mut self, p: &std::path::Path) {
        if self.paused_local {
            // Already paused (another job hit the full disk too): its data is kept anyway.
            return;
        }
        warn!(path = %p.display(), "disk full: transfer paused");
        self.paused_local = true;
        let _ = self
            .hub
            .send(&self.peer, &Control::Pause { id: self.id })
            .await;
        self.save().await;
        self.paused_event(false, Some(format!("disk full writing {}", p.display())));
    }

    /// Hashes the next run of verified chunks that continues a file's prefix, if any and if
    /// no hashing job is running.
    fn start_hashing(&mut self) {
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
    async fn on_hashed(&mut self, done: Hashed) -> Option<Result<(), TransferError>> {
        let rf = self.files.get_mut(done.file)?;
        rf.hasher = Some(done.hasher);
        let first = rf.prefix;
        rf.prefix += done.chunks;
        self.dirty = true;
        let prefix = rf.prefix;
        for c in first..prefix {
            self.ack(done.file as u32, c).await;
        }
        if prefix >= self.manifest.chunk_count(done.file)
            && let Some(end) = self.file_verified(done.file).await
        {
            return Some(end);
        }
        self.start_hashing();
        self.progress(false);
        None
    }

    /// Every chunk of file `f` is verified and hashed: finish it, and the transfer if it was
    /// the last.
    async fn file_verified(&mut self, f: usize) -> Option<Result<(), TransferError>> {
        self.start_finalize(f);
        self.progress(false);
        None
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

    async fn ack(&self, file: u32, chunk: u64) {
        let ack = Control::Ack {
            id: self.id,
            file,
            chunk,
        };
        let _ = self.hub.send(&self.peer, &ack).await;
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
        let m = self.manifest.files[f].clone();
        let kind = self.manifest.kind;
        let dest = self.dest.clone();
        let part = state::part_path(self.hub.temp(), self.id, f);
        self.finalizing.spawn_blocking(move || Finalized {
            file: f,
            digest,
            result: finalize_file(digest, &m.sha256, &part, kind, &dest, &m.rel, m.mtime),
        });
    }

    /// A file was checked and moved (or not).
    async fn on_finalized(&mut self, done: Finalized) -> Option<Result<(), TransferError>> {
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
        rf.received = Vec::new();
        self.done_count += 1;
        self.tracker.file_done();
        self.dirty = true;
        let rel = self.manifest.files[f].rel.to_string();
        let _ = self
            .hub
            .send(
                &self.peer,
                &Control::FileDone {
                    id: self.id,
                    file: f as u32,
                },
            )
            .await;
        if self.manifest.kind == Kind::Directory {
            self.hub.emit(TransferEvent::FileCompleted {
                id: self.id,
                path: rel,
            });
        }
        if self.done_count == self.files.len() {
            return Some(Ok(()));
        }
        self.progress(false);
        None
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
        self.progress(true);
        for f in &mut self.files {
            f.part = None;
        }
        self.chunk_log = None;
        self.hub
            .finish_transfer(self.id, self.peer, &self.info, outcome)
            .await;
    }
}
