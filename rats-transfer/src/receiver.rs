//! The receiving side of one transfer, as a task owning its state: checks each chunk's
//! SHA-256 before writing it at its offset in a `.part` file, hashes each file as its verified
//! prefix grows, checks the whole-file SHA-256 before moving the file into place, and saves
//! how far it got so a reconnect or a restart continues from the verified prefix.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rats_core::PeerId;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, info_span, warn};

use crate::error::TransferError;
use crate::event::{TransferEvent, TransferInfo, TransferState, TransferStats};
use crate::fileio::{read_exact_at, write_all_at};
use crate::hub::{Hub, TaskMsg};
use crate::id::TransferId;
use crate::manifest::{Manifest, system_time};
use crate::path::{RelPath, create_dirs_under, resolve_under};
use crate::progress::Tracker;
use crate::state::{self, SavedRole, SavedTransfer};
use crate::wire::{ChunkHeader, Control, FileProgress, FileStart, Kind, Offer, clip_reason};

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
    /// SHA-256 state over the prefix; `None` until rebuilt from disk after a restart.
    hasher: Option<Sha256>,
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
    rx: mpsc::Receiver<TaskMsg>,
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
}

impl IncomingTransfer {
    pub(crate) fn new(
        hub: Arc<Hub>,
        id: TransferId,
        peer: PeerId,
        dest: PathBuf,
        start: Start,
        rx: mpsc::Receiver<TaskMsg>,
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
            Start::Restored(s) => (Arc::new(s.manifest.clone()), Phase::Waiting, Some(*s)),
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
        };
        t.set_manifest(manifest);
        if let Some(s) = saved {
            for (i, f) in t.files.iter_mut().enumerate() {
                f.done = s.files_done.get(i).copied().unwrap_or(false);
                f.prefix = s.prefixes.get(i).copied().unwrap_or(0);
                f.received_count = f.prefix;
            }
            t.done_count = t.files.iter().filter(|f| f.done).count();
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
        let Ok(ctx) = self.hub.ctx() else {
            return None;
        };
        let cancel = ctx.cancellation().clone();
        if self.phase == Phase::Running {
            if let Some(end) = self.begin().await {
                return Some(end);
            }
        } else if self.phase == Phase::Waiting
            && ctx.peer_info(&self.peer).is_some()
            && let Err(e) = self.ask_to_continue().await
        {
            return Some(Err(e));
        }
        let save_every = Duration::from_millis(self.hub.config.save_interval_ms);
        // A server without the transfer service never answers a request.
        let answer_by = tokio::time::Instant::now() + self.hub.config.answer_timeout();
        loop {
            let awaiting = matches!(self.phase, Phase::AwaitingOffer { .. });
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep_until(answer_by), if awaiting => {
                    return Some(Err(TransferError::Timeout("no answer to the request".into())));
                }
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
            manifest: (*self.manifest).clone(),
            local_path: self.dest.clone(),
            sources: Vec::new(),
            files_done: self.files.iter().map(|f| f.done).collect(),
            prefixes: self.files.iter().map(|f| f.prefix).collect(),
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
            // Everything logged is now in the saved prefixes (or beyond a gap, and sent again).
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
            if !self.files[f].done
                && self.files[f].prefix >= self.manifest.chunk_count(f)
                && let Some(end) = self.complete_file(f).await
            {
                return Some(end);
            }
        }
        if self.done_count == self.files.len() {
            return Some(Ok(()));
        }
        None
    }

    async fn handle(&mut self, msg: TaskMsg) -> Option<Result<(), TransferError>> {
        match msg {
            TaskMsg::Chunk(header, data) => return self.on_chunk(header, data).await,
            TaskMsg::PeerUp => {
                if self.phase == Phase::Waiting
                    && let Err(e) = self.ask_to_continue().await
                {
                    return Some(Err(e));
                }
            }
            TaskMsg::PeerDown => {
                if matches!(self.phase, Phase::AwaitingOffer { .. }) {
                    return Some(Err(TransferError::NotConnected(self.peer.short())));
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
            }
            TaskMsg::Resume => {
                self.paused_local = false;
                let _ = self
                    .hub
                    .send(&self.peer, &Control::Resume { id: self.id })
                    .await;
                self.resumed_event();
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
        if self.phase == Phase::Running {
            self.set_state(self.running_state());
        }
        let p = self.tracker.snapshot();
        self.tracker
            .restart(p.bytes_done, p.chunks_done, p.files_done);
        self.hub.emit(TransferEvent::Resumed { id: self.id });
    }

    async fn on_control(&mut self, c: Control) -> Option<Result<(), TransferError>> {
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
                    self.continue_from(files);
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
            // We continue by ourselves when the peer comes back.
            Control::Where { .. } => {}
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

    /// After a reconnect or a restart: tell the sender what we have.
    async fn ask_to_continue(&mut self) -> Result<(), TransferError> {
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
        self.hub.send(&self.peer, &msg).await
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
            let chunks = prefix.min(have / chunk).min(size.div_ceil(chunk));
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

    fn continue_from(&mut self, starts: Vec<FileStart>) {
        for s in starts {
            let Some(rf) = self.files.get_mut(s.file as usize) else {
                continue;
            };
            if s.chunk < rf.prefix {
                // The sender's source does not match what we have: start the file over.
                rf.prefix = 0;
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
    }

    async fn on_chunk(
        &mut self,
        header: ChunkHeader,
        data: Bytes,
    ) -> Option<Result<(), TransferError>> {
        let f = header.file as usize;
        let c = header.chunk;
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
            // A resend of something we have: acknowledge again.
            self.ack(header.file, c).await;
            return None;
        }
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
        let rf = &mut self.files[f];
        // The whole-file hash grows with the verified prefix. It is computed beside the
        // chunk's own check and write (two blocking threads), and kept only if the chunk
        // verifies.
        let prefix_hash = match (&rf.hasher, c == rf.prefix) {
            (Some(h), true) => {
                let (mut h, d) = (h.clone(), data.clone());
                Some(tokio::task::spawn_blocking(move || {
                    h.update(&d);
                    h
                }))
            }
            _ => None,
        };
        let feed = prefix_hash.is_some();
        let job = StoreJob {
            log: self.chunk_log.clone(),
            file_index: header.file,
            chunk: c,
            path: state::part_path(self.hub.temp(), self.id, f),
            part: rf.part.take(),
            offset,
            data,
            sha256: header.sha256,
        };
        let result = tokio::task::spawn_blocking(move || job.run()).await;
        let hashed = match prefix_hash {
            Some(j) => j.await.ok(),
            None => None,
        };
        let Ok(stored) = result else {
            return Some(Err(TransferError::Stopped));
        };
        let rf = &mut self.files[f];
        rf.part = stored.part;
        match stored.outcome {
            StoreOutcome::Stored => {
                if feed {
                    let Some(h) = hashed else {
                        return Some(Err(TransferError::Stopped));
                    };
                    rf.hasher = Some(h);
                }
            }
            StoreOutcome::Corrupt => {
                TransferStats::add(&self.hub.stats.chunks_corrupt, 1);
                let nack = Control::Nack {
                    id: self.id,
                    file: header.file,
                    chunk: c,
                };
                let _ = self.hub.send(&self.peer, &nack).await;
                return None;
            }
            StoreOutcome::Failed(TransferError::DiskFull(p)) => {
                // Keep what is verified; continue after `resume` once there is room.
                warn!(path = %p.display(), "disk full: transfer paused");
                self.paused_local = true;
                let _ = self
                    .hub
                    .send(&self.peer, &Control::Pause { id: self.id })
                    .await;
                self.save().await;
                self.paused_event(false, Some(format!("disk full writing {}", p.display())));
                return None;
            }
            StoreOutcome::Failed(e) => return Some(Err(e)),
        }
        rf.mark(c, count);
        if feed {
            rf.prefix += 1;
        }
        TransferStats::add(&self.hub.stats.bytes_received, len as u64);
        self.tracker.add_chunk(len as u64);
        self.dirty = true;
        self.ack(header.file, c).await;
        if let Err(e) = self.catch_up(f).await {
            return Some(Err(e));
        }
        if self.files[f].received_count >= count {
            if let Some(end) = self.complete_file(f).await {
                return Some(end);
            }
            if self.done_count == self.files.len() {
                return Some(Ok(()));
            }
        }
        self.progress(false);
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

    /// Chunks that arrived ahead of the prefix are hashed (read back) once the gap closes.
    async fn catch_up(&mut self, f: usize) -> Result<(), TransferError> {
        let rf = &self.files[f];
        let start = rf.prefix;
        let mut end = start;
        while rf.has(end) {
            end += 1;
        }
        if end == start {
            return Ok(());
        }
        let Some(mut hasher) = self.files[f].hasher.take() else {
            return Ok(());
        };
        let path = state::part_path(self.hub.temp(), self.id, f);
        let (from, _) = self.manifest.chunk_span(f, start);
        let (last, last_len) = self.manifest.chunk_span(f, end - 1);
        let to = last + last_len as u64;
        let result = tokio::task::spawn_blocking(move || {
            let file = File::open(&path).map_err(|e| TransferError::io(&path, &e))?;
            let mut buf = vec![0u8; 1 << 20];
            let mut off = from;
            while off < to {
                let n = (to - off).min(buf.len() as u64) as usize;
                read_exact_at(&file, &mut buf[..n], off)
                    .map_err(|e| TransferError::io(&path, &e))?;
                hasher.update(&buf[..n]);
                off += n as u64;
            }
            Ok::<_, TransferError>(hasher)
        })
        .await
        .unwrap_or(Err(TransferError::Stopped))?;
        let rf = &mut self.files[f];
        rf.hasher = Some(result);
        rf.prefix = end;
        Ok(())
    }

    /// Checks the whole file's SHA-256 and moves it into place.
    async fn complete_file(&mut self, f: usize) -> Option<Result<(), TransferError>> {
        let rf = &mut self.files[f];
        let hasher = rf.hasher.take().unwrap_or_default();
        rf.part = None;
        let m = self.manifest.files[f].clone();
        let kind = self.manifest.kind;
        let dest = self.dest.clone();
        let part = state::part_path(self.hub.temp(), self.id, f);
        let done = tokio::task::spawn_blocking(move || {
            finalize_file(hasher, &m.sha256, &part, kind, &dest, &m.rel, m.mtime)
        })
        .await
        .unwrap_or(Err(TransferError::Stopped));
        if let Err(e) = done {
            return Some(Err(e));
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
        None
    }

    async fn finish(mut self, outcome: Option<Result<(), TransferError>>) {
        let Some(outcome) = outcome else {
            // The node stops: keep the state so a restart continues.
            if self.dirty {
                self.save().await;
            }
            return;
        };
        let state = match &outcome {
            Ok(()) => {
                TransferStats::add(&self.hub.stats.completed, 1);
                TransferState::Completed
            }
            Err(TransferError::Cancelled | TransferError::CancelledByPeer(_)) => {
                TransferStats::add(&self.hub.stats.cancelled, 1);
                TransferState::Cancelled
            }
            Err(e) => {
                TransferStats::add(&self.hub.stats.failed, 1);
                TransferState::Failed(e.clone())
            }
        };
        if let Err(e) = &outcome {
            debug!(error = %e, "incoming transfer ended");
            let remote_knows = matches!(
                e,
                TransferError::Cancelled
                    | TransferError::CancelledByPeer(_)
                    | TransferError::Rejected(_)
                    | TransferError::Remote(_)
                    | TransferError::NotConnected(_)
                    | TransferError::Refused(_)
                    | TransferError::NoSpace { .. }
            );
            if !remote_knows {
                let msg = Control::Failed {
                    id: self.id,
                    reason: clip_reason(&e.to_string()),
                };
                let _ = self.hub.send(&self.peer, &msg).await;
            }
        }
        for f in &mut self.files {
            f.part = None;
        }
        self.chunk_log = None;
        let temp = self.hub.temp().to_path_buf();
        let id = self.id;
        let _ = tokio::task::spawn_blocking(move || state::remove(&temp, id)).await;
        self.progress(true);
        self.set_state(state);
        let info = self.info.borrow().clone();
        self.hub.unregister(self.id, info.clone());
        self.hub.emit(TransferEvent::Finished(info));
    }
}

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

enum StoreOutcome {
    Stored,
    Corrupt,
    Failed(TransferError),
}

/// One chunk to verify and write, run on a blocking thread.
struct StoreJob {
    log: Option<Arc<File>>,
    file_index: u32,
    chunk: u64,
    path: PathBuf,
    part: Option<Arc<File>>,
    offset: u64,
    data: Bytes,
    sha256: [u8; 32],
}

struct Stored {
    outcome: StoreOutcome,
    part: Option<Arc<File>>,
}

impl StoreJob {
    fn run(mut self) -> Stored {
        let outcome = self.store();
        Stored {
            outcome,
            part: self.part,
        }
    }

    fn store(&mut self) -> StoreOutcome {
        let digest: [u8; 32] = Sha256::digest(&self.data).into();
        if digest != self.sha256 {
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
fn finalize_file(
    hasher: Sha256,
    expected: &[u8; 32],
    part: &Path,
    kind: Kind,
    dest: &Path,
    rel: &RelPath,
    mtime: u64,
) -> Result<(), TransferError> {
    let digest: [u8; 32] = hasher.finalize().into();
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

fn parent_of(rel: &RelPath) -> Option<RelPath> {
    let s = rel.as_str();
    let (parent, _) = s.rsplit_once('/')?;
    RelPath::parse(parent).ok()
}
