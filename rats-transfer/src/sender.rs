//! The sending side of one transfer, as a task owning its state: waits for the accept, keeps
//! a window of chunks in flight, resends what the receiver asks for again or what times out,
//! and continues from the receiver's verified prefix after a reconnect or a restart.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rats_core::PeerId;
use rats_core::{Outgoing, PeerSender};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tracing::{Instrument, warn};

use crate::error::TransferError;
use crate::event::{TransferEvent, TransferInfo, TransferState, TransferStats};
use crate::fileio::{read_exact_at, sha256_prefix};
use crate::hub::{Hub, TaskMsg, TaskRx};
use crate::id::TransferId;
use crate::manifest::{ChunkHashes, Manifest, mtime_secs};
use crate::state::SavedTransfer;
use crate::transfer_core::{TransferCore, ended_by_peer};
use crate::wire::{CHUNK_HEADER_LEN, ChunkHeader, Control, FileProgress, FileStart, clip_reason};

/// Times a chunk is sent before the transfer fails.
const MAX_TRIES: u32 = 5;
/// Most bytes read from disk in one blocking call.
const READ_BATCH_BYTES: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Offer sent, no answer yet.
    Offered,
    /// Chunks flow (unless paused).
    Running,
    /// The peer is gone or has not yet said where to continue.
    Waiting,
}

struct InFlight {
    sent: Instant,
    len: u64,
}

/// The sending side of one transfer.
pub(crate) struct OutgoingTransfer {
    core: TransferCore,
    sources: Arc<Vec<PathBuf>>,
    /// Chunk hashes from the offer's hashing pass (not for chunks sent again after a Nack:
    /// those are hashed from what is read).
    chunk_hashes: Arc<ChunkHashes>,
    rx: TaskRx,
    phase: Phase,
    window: usize,
    /// Next chunk to send of each file (`chunk_count` when all sent).
    next: Vec<u64>,
    /// First file that may still have chunks to send.
    cursor: usize,
    resend: VecDeque<(u32, u64)>,
    in_flight: HashMap<(u32, u64), InFlight>,
    tries: HashMap<(u32, u64), u32>,
    done: Vec<bool>,
    done_count: usize,
    sender: Option<PeerSender>,
    open: Option<(usize, Arc<File>)>,
    /// Last sign of life from the receiver (an ack, a file done, a start).
    last_progress: Instant,
    /// When the receiver last made us continue from its state while running.
    last_continue: Option<Instant>,
}

impl OutgoingTransfer {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        hub: Arc<Hub>,
        id: TransferId,
        peer: PeerId,
        manifest: Arc<Manifest>,
        sources: Arc<Vec<PathBuf>>,
        chunk_hashes: Arc<ChunkHashes>,
        rx: TaskRx,
        info: watch::Sender<TransferInfo>,
        offered: bool,
    ) -> Self {
        let n = manifest.files.len();
        OutgoingTransfer {
            window: hub.config.window as usize,
            core: TransferCore::new(hub, id, peer, manifest, info),
            next: vec![0; n],
            cursor: 0,
            resend: VecDeque::new(),
            in_flight: HashMap::new(),
            tries: HashMap::new(),
            done: vec![false; n],
            done_count: 0,
            sender: None,
            open: None,
            last_progress: Instant::now(),
            last_continue: None,
            sources,
            chunk_hashes,
            rx,
            phase: if offered {
                Phase::Offered
            } else {
                Phase::Waiting
            },
        }
    }

    /// Restores this side's pause after a restart.
    pub(crate) fn set_paused(&mut self, paused: bool) {
        self.core.paused_local = paused;
    }

    /// The saved form, so a restarted node can continue.
    pub(crate) fn saved(&self) -> SavedTransfer {
        SavedTransfer {
            sources: (*self.sources).clone(),
            ..self.core.saved()
        }
    }

    /// Saves the state again (its time stamp counts for `resume_ttl_secs`).
    async fn save(&self) {
        self.core.save(self.saved(), None).await;
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
        let chunk_timeout = Duration::from_millis(self.core.hub.config.chunk_timeout_ms);
        // The receiver rejects an offer it has not answered after `offer_timeout_ms`; a peer
        // without the transfer service never answers at all.
        let answer_by = Instant::now() + self.core.hub.config.answer_timeout();
        loop {
            if self.phase == Phase::Running && self.sender.is_none() {
                // The connection we sent on was replaced (a duplicate connection lost the
                // tie-break): continue on the current one. Unacknowledged chunks time out.
                self.sender = ctx.bulk_sender(&self.core.peer).ok();
            }
            if let Err(e) = self.fill_window().await {
                return Some(Err(e));
            }
            let waiting_connected =
                self.phase == Phase::Waiting && ctx.peer_info(&self.core.peer).is_some();
            let deadline = if self.phase == Phase::Offered {
                Some(answer_by)
            } else if self.stalled_candidate() || waiting_connected {
                // Everything sent and acknowledged, yet files are not done (a lost
                // `file_done`, or a receiver that forgot the transfer), or waiting with the
                // peer connected (our `where` or its `continue` was lost): ask (again).
                Some(self.last_progress + chunk_timeout)
            } else {
                self.in_flight
                    .values()
                    .map(|f| f.sent)
                    .min()
                    .map(|t| t.max(self.last_progress) + chunk_timeout)
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return None,
                msg = self.rx.recv() => {
                    let msg = msg?;
                    if let Some(outcome) = self.handle(msg).await {
                        return Some(outcome);
                    }
                }
                _ = sleep_until(deadline) => {
                    if self.phase == Phase::Offered {
                        return Some(Err(TransferError::Timeout("no answer to the offer".into())));
                    }
                    if (self.stalled_candidate() || waiting_connected)
                        && self.last_progress.elapsed() >= chunk_timeout
                    {
                        // Ask where we are: the receiver answers with `continue` (or `cancel`
                        // if it does not know the transfer).
                        self.phase = Phase::Waiting;
                        self.last_progress = Instant::now();
                        self.core.set_state(TransferState::WaitingForPeer);
                        self.core.tell(&Control::Where { id: self.core.id }).await;
                        continue;
                    }
                    if let Err(e) = self.resend_timed_out(chunk_timeout) {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// Running with nothing in flight and nothing to send, but files not done.
    fn stalled_candidate(&self) -> bool {
        self.phase == Phase::Running
            && self.in_flight.is_empty()
            && self.resend.is_empty()
            && !self.core.is_paused()
            && self.done_count < self.done.len()
            && (self.cursor..self.next.len())
                .all(|f| self.done[f] || self.next[f] >= self.core.manifest.chunk_count(f))
    }

    fn can_send(&self) -> bool {
        self.phase == Phase::Running
            && !self.core.is_paused()
            && self.sender.is_some()
            && self.in_flight.len() < self.window
    }

    /// The next chunk to send, if any.
    fn next_chunk(&mut self) -> Option<(u32, u64)> {
        if let Some(c) = self.resend.pop_front() {
            return Some(c);
        }
        while self.cursor < self.next.len() {
            let f = self.cursor;
            if !self.done[f] && self.next[f] < self.core.manifest.chunk_count(f) {
                let c = self.next[f];
                self.next[f] += 1;
                return Some((f as u32, c));
            }
            self.cursor += 1;
        }
        None
    }

    async fn fill_window(&mut self) -> Result<(), TransferError> {
        while self.can_send() {
            let room = self.window - self.in_flight.len();
            let mut batch = Vec::new();
            let mut bytes = 0usize;
            while batch.len() < room && bytes < READ_BATCH_BYTES {
                let Some((f, c)) = self.next_chunk() else {
                    break;
                };
                bytes += self.core.manifest.chunk_span(f as usize, c).1;
                let cached = if self.tries.contains_key(&(f, c)) {
                    None
                } else {
                    self.chunk_hashes
                        .get(f as usize)
                        .and_then(|h| h.get(c as usize))
                        .copied()
                };
                batch.push((f, c, cached));
            }
            if batch.is_empty() {
                return Ok(());
            }
            let manifest = self.core.manifest.clone();
            let sources = self.sources.clone();
            let open = self.open.take();
            let id = self.core.id;
            let (read, open) = tokio::task::spawn_blocking(move || {
                read_chunks(id, &manifest, &sources, &batch, open)
            })
            .await
            .map_err(|_| TransferError::Stopped)?;
            self.open = open;
            let read = read?;
            for (f, c, msg) in read {
                let len = (msg.len() - CHUNK_HEADER_LEN) as u64;
                let Some(sender) = &self.sender else {
                    self.resend.push_back((f, c));
                    continue;
                };
                if sender.send(Outgoing::shared(msg)).await.is_err() {
                    // The connection went away; PeerDown follows and resets the window.
                    self.sender = None;
                    self.resend.push_back((f, c));
                    continue;
                }
                TransferStats::add(&self.core.hub.stats.bytes_sent, len);
                self.in_flight.insert(
                    (f, c),
                    InFlight {
                        sent: Instant::now(),
                        len,
                    },
                );
            }
        }
        Ok(())
    }

    fn resend_timed_out(&mut self, timeout: Duration) -> Result<(), TransferError> {
        let now = Instant::now();
        // On a slow link chunks wait long in the send queue: as long as acknowledgements keep
        // coming, nothing is late.
        if now.duration_since(self.last_progress) < timeout {
            return Ok(());
        }
        let late: Vec<(u32, u64)> = self
            .in_flight
            .iter()
            .filter(|(_, f)| now.duration_since(f.sent) >= timeout)
            .map(|(k, _)| *k)
            .collect();
        for key in late {
            self.in_flight.remove(&key);
            if self.count_try(key).is_err() {
                return Err(TransferError::Timeout(format!(
                    "chunk {} of {} was not acknowledged after {MAX_TRIES} tries",
                    key.1,
                    self.file_name(key.0)
                )));
            }
            self.resend.push_back(key);
        }
        Ok(())
    }

    fn count_try(&mut self, key: (u32, u64)) -> Result<(), TransferError> {
        let tries = self.tries.entry(key).or_insert(0);
        *tries += 1;
        let tries = *tries;
        if tries >= MAX_TRIES {
            return Err(TransferError::CorruptChunks {
                file: self.file_name(key.0),
                chunk: key.1,
                tries,
            });
        }
        Ok(())
    }

    fn file_name(&self, f: u32) -> String {
        self.core
            .manifest
            .files
            .get(f as usize)
            .map_or_else(|| format!("file {f}"), |m| m.rel.to_string())
    }

    fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    fn start_running(&mut self) {
        self.phase = Phase::Running;
        self.last_progress = Instant::now();
        self.sender = self
            .core
            .hub
            .ctx()
            .ok()
            .and_then(|ctx| ctx.bulk_sender(&self.core.peer).ok());
        self.core.started();
    }

    /// Handles one message; `Some` ends the transfer.
    async fn handle(&mut self, msg: TaskMsg) -> Option<Result<(), TransferError>> {
        match msg {
            TaskMsg::Chunk(..) => self.core.dropped(),
            TaskMsg::PeerUp => {
                if self.phase == Phase::Waiting {
                    self.last_progress = Instant::now();
                    // The receiver continues by itself; if it forgot the transfer, it answers
                    // this with `cancel` instead of leaving us waiting.
                    self.core.tell(&Control::Where { id: self.core.id }).await;
                }
            }
            TaskMsg::PeerDown => {
                // The peer says again after a reconnect whether it has paused.
                self.core.lift_peer_pause();
                // Also an unanswered offer waits: the receiver may still accept it (its user
                // is deciding), or says it forgot it when asked (`where`).
                self.phase = Phase::Waiting;
                self.sender = None;
                self.in_flight.clear();
                self.resend.clear();
                self.core.set_state(TransferState::WaitingForPeer);
            }
            TaskMsg::Pause => {
                self.core.pause_local().await;
                self.core.paused(self.running(), false, None);
                self.save().await;
            }
            TaskMsg::Resume => {
                self.core.resume_local(self.running()).await;
                self.last_progress = Instant::now();
                self.save().await;
            }
            TaskMsg::Cancel => return Some(Err(self.core.cancel().await)),
            TaskMsg::Control(c) => return self.handle_control(c).await,
        }
        None
    }

    async fn handle_control(&mut self, c: Control) -> Option<Result<(), TransferError>> {
        match c {
            // A sender restored after a restart does not know whether its offer was answered:
            // an accept or reject then still counts.
            Control::Accept { .. } | Control::Reject { .. }
                if self.phase == Phase::Running || self.core.tracker.bytes_done() > 0 => {}
            Control::Accept { window, .. } => {
                self.window = self.window.min(window.clamp(1, 1024) as usize);
                if let Err(e) = self.check_sources().await {
                    return Some(Err(e));
                }
                // Our pause outlives reconnects, restarts and the wait for the data phase.
                self.core.announce_pause().await;
                self.start_running();
                if self.done_count == self.done.len() {
                    // Nothing to send (an empty directory): accepted is done; no `file_done`
                    // will ever come.
                    return Some(Ok(()));
                }
            }
            Control::Reject { reason, .. } => {
                return Some(Err(TransferError::Rejected(clip_reason(&reason))));
            }
            Control::Ack { file, chunk, .. } => {
                self.last_progress = Instant::now();
                self.tries.remove(&(file, chunk));
                if let Some(f) = self.in_flight.remove(&(file, chunk)) {
                    self.core.tracker.add_chunk(f.len);
                    self.core.progress(false);
                }
            }
            Control::Nack { file, chunk, .. } => {
                if self.in_flight.remove(&(file, chunk)).is_some() {
                    if let Err(e) = self.count_try((file, chunk)) {
                        return Some(Err(e));
                    }
                    self.resend.push_back((file, chunk));
                }
            }
            Control::FileDone { file, .. } => {
                self.last_progress = Instant::now();
                let f = file as usize;
                if f < self.done.len() && !self.done[f] {
                    self.done[f] = true;
                    self.done_count += 1;
                    self.core.tracker.file_done();
                    // Nothing of a finished file is waited for any more (a lost ack must not
                    // hold a window slot).
                    self.in_flight.retain(|&(fi, _), _| fi != file);
                    self.resend.retain(|&(fi, _)| fi != file);
                    self.tries.retain(|&(fi, _), _| fi != file);
                    if self.done_count == self.done.len() {
                        return Some(Ok(()));
                    }
                }
            }
            Control::Pause { .. } => self.core.peer_paused(self.running()),
            Control::Resume { .. } => {
                if !self.core.lift_peer_pause() {
                    // Not paused by the peer: nothing to lift, nothing to send again.
                    return None;
                }
                // What was in flight when the receiver paused may not have been kept (a full
                // disk pauses it): send it again now rather than after the chunk timeout. A
                // chunk it has is only acknowledged again. (Nothing was sent during the pause.)
                let mut unacked: Vec<(u32, u64)> = self.in_flight.drain().map(|(k, _)| k).collect();
                unacked.sort_unstable();
                self.resend.extend(unacked);
                self.last_progress = Instant::now();
                self.core.resumed(self.running());
            }
            c @ (Control::Cancel { .. } | Control::Failed { .. }) => {
                return ended_by_peer(&c).map(Err);
            }
            Control::Continue { window, files, .. } => {
                // After the peers met again, or when the receiver found the transfer stalled;
                // while running at most once per chunk timeout (each one makes us read our
                // sources' prefixes again).
                let timeout = Duration::from_millis(self.core.hub.config.chunk_timeout_ms);
                let may = match self.phase {
                    Phase::Waiting => true,
                    Phase::Running => self.last_continue.is_none_or(|t| t.elapsed() >= timeout),
                    Phase::Offered => false,
                };
                if !may {
                    self.core.dropped();
                    return None;
                }
                self.window =
                    (self.core.hub.config.window as usize).min(window.clamp(1, 1024) as usize);
                // The receiver says again after `continue_from` whether it has paused; a
                // stale pause must not outlive the reconnect.
                self.core.lift_peer_pause();
                self.last_progress = Instant::now();
                let continued = self.continue_from(files).await;
                // Stamped after hashing the prefixes, so `continue`s that queued up meanwhile
                // are dropped instead of hashing everything again.
                self.last_continue = Some(Instant::now());
                match continued {
                    Ok(starts) => {
                        let msg = Control::ContinueFrom {
                            id: self.core.id,
                            files: starts,
                        };
                        if self.done_count == self.done.len() {
                            // The receiver has everything (it lists no unfinished file).
                            return Some(Ok(()));
                        }
                        if self.core.send(&msg).await.is_ok() {
                            // Our pause outlives reconnects, restarts and the wait for the data phase.
                            self.core.announce_pause().await;
                            self.start_running();
                            self.core.emit(TransferEvent::Resumed { id: self.core.id });
                            self.save().await;
                        }
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
            Control::Offer(_)
            | Control::Request { .. }
            | Control::ContinueFrom { .. }
            | Control::Where { .. } => self.core.dropped(),
        }
        None
    }

    /// Checks that the sources are still what the manifest says.
    async fn check_sources(&self) -> Result<(), TransferError> {
        let manifest = self.core.manifest.clone();
        let sources = self.sources.clone();
        tokio::task::spawn_blocking(move || {
            for (f, src) in manifest.files.iter().zip(sources.iter()) {
                let meta = std::fs::metadata(src).map_err(|e| TransferError::io(src, &e))?;
                if meta.len() != f.size || mtime_secs(&meta) != f.mtime {
                    return Err(TransferError::SourceChanged(f.rel.to_string()));
                }
            }
            Ok(())
        })
        .await
        .map_err(|_| TransferError::Stopped)?
    }

    /// Where each unfinished file starts again: at the receiver's verified prefix when our
    /// source's bytes hash to the same value, else at zero.
    async fn continue_from(
        &mut self,
        files: Vec<FileProgress>,
    ) -> Result<Vec<FileStart>, TransferError> {
        if !files.is_empty() {
            // Nothing to read when the receiver has everything.
            self.check_sources().await?;
        }
        let manifest = self.core.manifest.clone();
        let sources = self.sources.clone();
        let n = manifest.files.len();
        let mut seen = vec![false; n];
        let listed: Vec<FileProgress> = files
            .into_iter()
            .filter(|p| {
                let f = p.file as usize;
                // Each file once, whatever the peer sends.
                f < n && !std::mem::replace(&mut seen[f], true)
            })
            .collect();
        let starts = tokio::task::spawn_blocking(move || {
            listed
                .iter()
                .map(|p| {
                    let f = p.file as usize;
                    let m = &manifest.files[f];
                    let chunks = p.chunks.min(manifest.chunk_count(f));
                    let same = p.size == m.size
                        && p.mtime == m.mtime
                        && sha256_prefix(&sources[f], chunks * u64::from(manifest.chunk_size))
                            .is_ok_and(|h| hex::encode(h.finalize()) == p.prefix_sha256);
                    FileStart {
                        file: p.file,
                        chunk: if same { chunks } else { 0 },
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| TransferError::Stopped)?;
        // Files the receiver does not list are done.
        let mut listed = vec![false; n];
        for s in &starts {
            listed[s.file as usize] = true;
            self.next[s.file as usize] = s.chunk;
        }
        for (f, listed) in listed.iter().enumerate() {
            self.done[f] = !listed;
        }
        self.done_count = self.done.iter().filter(|d| **d).count();
        let next = &self.next;
        self.core.restart_progress(
            self.done
                .iter()
                .enumerate()
                .map(|(f, done)| (!done).then(|| next[f])),
        );
        self.cursor = 0;
        self.in_flight.clear();
        self.resend.clear();
        Ok(starts)
    }

    async fn finish(mut self, outcome: Option<Result<(), TransferError>>) {
        let Some(outcome) = outcome else {
            // The node stops: keep the saved state so a restart continues.
            return;
        };
        self.core.finish(outcome).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Reads and hashes a batch of chunks into ready-to-send messages.
#[allow(clippy::type_complexity)]
fn read_chunks(
    id: TransferId,
    manifest: &Manifest,
    sources: &[PathBuf],
    batch: &[(u32, u64, Option<[u8; 32]>)],
    mut open: Option<(usize, Arc<File>)>,
) -> (
    Result<Vec<(u32, u64, Bytes)>, TransferError>,
    Option<(usize, Arc<File>)>,
) {
    let mut out = Vec::with_capacity(batch.len());
    for &(f, c, cached) in batch {
        let fi = f as usize;
        let Some(src) = sources.get(fi) else {
            return (Err(TransferError::Stopped), open);
        };
        let file = match &open {
            Some((i, file)) if *i == fi => file.clone(),
            _ => match File::open(src) {
                Ok(file) => {
                    let file = Arc::new(file);
                    open = Some((fi, file.clone()));
                    file
                }
                Err(e) => return (Err(TransferError::io(src, &e)), open),
            },
        };
        let (offset, len) = manifest.chunk_span(fi, c);
        let mut buf = BytesMut::zeroed(CHUNK_HEADER_LEN + len);
        if let Err(e) = read_exact_at(&file, &mut buf[CHUNK_HEADER_LEN..], offset) {
            warn!(file = %src.display(), error = %e, "reading a chunk failed");
            return (Err(TransferError::io(src, &e)), open);
        }
        let header = ChunkHeader {
            id,
            file: f,
            chunk: c,
            sha256: cached.unwrap_or_else(|| Sha256::digest(&buf[CHUNK_HEADER_LEN..]).into()),
        };
        buf[..CHUNK_HEADER_LEN].copy_from_slice(&header.encode());
        out.push((f, c, buf.freeze()));
    }
    (Ok(out), open)
}
