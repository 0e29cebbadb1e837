//! [`TransferService`]: the public API and the [`Service`] that routes peer messages.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rats_core::PeerId;
use rats_core::event::DisconnectReason;
use rats_core::service::{Priority, Service, ServiceDescriptor, ServiceError};
use rats_core::{PeerInfo, ServiceContext};
use tracing::{debug, warn};

use crate::config::TransferConfig;
use crate::error::TransferError;
use crate::event::{
    Direction, IncomingOffer, OfferedFile, Progress, StatsSnapshot, TransferEvent, TransferInfo,
    TransferState, TransferStats,
};
use crate::hub::{AcceptDecision, BoxFuture, Hub, ServeDecision, ServeRequest, TaskMsg};
use crate::id::TransferId;
use crate::manifest::{self, Manifest};
use crate::path::{RelPath, resolve_for_reading};
use crate::receiver::{IncomingTransfer, Start, check_space};
use crate::sender::OutgoingTransfer;
use crate::state::{self, SavedRole, SavedTransfer};
use crate::wire::{CONTROL_CHANNEL, ChunkHeader, Control, DATA_CHANNEL, Kind, Offer};

/// File and directory transfer between peers. Get it from the node
/// (`node.service_plugin::<TransferService>()`) or from `RatsClient::transfers()`.
pub struct TransferService {
    hub: Arc<Hub>,
}

impl std::fmt::Debug for TransferService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferService").finish_non_exhaustive()
    }
}

impl TransferService {
    /// A service with `config`; partial data goes to `config.temp_dir`, else
    /// `<data_dir>/transfers`, else a per-node folder in the system temp directory.
    pub fn new(config: TransferConfig, data_dir: Option<&Path>) -> Result<Self, TransferError> {
        config.validate()?;
        let (base, shared) = match (&config.temp_dir, data_dir) {
            (Some(t), _) => (t.clone(), false),
            (None, Some(d)) => (d.join("transfers"), false),
            (None, None) => (std::env::temp_dir().join("rats-transfers"), true),
        };
        Ok(TransferService {
            hub: Arc::new(Hub::new(config, base, shared)),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &TransferConfig {
        &self.hub.config
    }

    /// Where partial data and resume state are kept.
    pub fn temp_dir(&self) -> PathBuf {
        self.hub.temp().to_path_buf()
    }

    /// Sets the callback that decides on incoming offers. Without one, every offer is
    /// rejected. It gets the offer's metadata and answers with a destination or a reason;
    /// an answer slower than `offer_timeout_ms` counts as a rejection.
    pub fn set_accept_callback<F, Fut>(&self, callback: F)
    where
        F: Fn(IncomingOffer) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = AcceptDecision> + Send + 'static,
    {
        *self.hub.accept.write() = Some(Arc::new(move |o| Box::pin(callback(o)) as BoxFuture<_>));
    }

    /// Removes the accept callback: incoming offers are rejected again.
    pub fn clear_accept_callback(&self) {
        *self.hub.accept.write() = None;
    }

    /// Sets the callback that decides what a peer may pull. It takes precedence over
    /// `shared_root`; with neither, every pull is refused.
    pub fn set_serve_callback<F, Fut>(&self, callback: F)
    where
        F: Fn(ServeRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ServeDecision> + Send + 'static,
    {
        *self.hub.serve.write() = Some(Arc::new(move |r| Box::pin(callback(r)) as BoxFuture<_>));
    }

    /// Offers one file to `peer` (under `remote_name`, else its own name). Returns once the
    /// offer is sent; follow it with [`wait`](Self::wait) or the events.
    pub async fn send_file(
        &self,
        peer: &PeerId,
        path: impl AsRef<Path>,
        remote_name: Option<&str>,
    ) -> Result<TransferId, TransferError> {
        let path = path.as_ref().to_path_buf();
        let name = remote_name.map(str::to_string);
        let chunk = self.hub.config.chunk_size;
        let p = path.clone();
        let local = blocking(move || manifest::for_file(&p, name.as_deref(), chunk)).await?;
        start_outgoing(&self.hub, *peer, TransferId::random(), local, path).await
    }

    /// Offers a directory tree to `peer` (subdirectories too when `recursive`). Symbolic
    /// links in it are skipped.
    pub async fn send_directory(
        &self,
        peer: &PeerId,
        dir: impl AsRef<Path>,
        remote_name: Option<&str>,
        recursive: bool,
    ) -> Result<TransferId, TransferError> {
        let dir = dir.as_ref().to_path_buf();
        let name = remote_name.map(str::to_string);
        let chunk = self.hub.config.chunk_size;
        let max = self.hub.config.max_files as usize;
        let d = dir.clone();
        let local =
            blocking(move || manifest::for_directory(&d, name.as_deref(), recursive, chunk, max))
                .await?;
        start_outgoing(&self.hub, *peer, TransferId::random(), local, dir).await
    }

    /// Asks `peer` for its file `remote_path` (relative to what it shares), saved to
    /// `local_path`.
    pub async fn request_file(
        &self,
        peer: &PeerId,
        remote_path: &str,
        local_path: impl AsRef<Path>,
    ) -> Result<TransferId, TransferError> {
        self.request(peer, remote_path, local_path.as_ref(), false)
            .await
    }

    /// Asks `peer` for its directory `remote_path`, saved as `local_dir`.
    pub async fn request_directory(
        &self,
        peer: &PeerId,
        remote_path: &str,
        local_dir: impl AsRef<Path>,
    ) -> Result<TransferId, TransferError> {
        self.request(peer, remote_path, local_dir.as_ref(), true)
            .await
    }

    async fn request(
        &self,
        peer: &PeerId,
        remote_path: &str,
        local: &Path,
        directory: bool,
    ) -> Result<TransferId, TransferError> {
        let hub = &self.hub;
        let ctx = hub.ctx()?;
        if ctx.peer_info(peer).is_none() {
            return Err(TransferError::NotConnected(peer.short()));
        }
        let id = TransferId::random();
        let kind = if directory {
            Kind::Directory
        } else {
            Kind::File
        };
        let name = remote_path
            .rsplit('/')
            .next()
            .unwrap_or(remote_path)
            .to_string();
        let info = new_info(
            id,
            *peer,
            Direction::Incoming,
            kind,
            name,
            local.to_path_buf(),
            0,
            0,
        );
        let (rx, info_tx) = hub.open_slot(info)?;
        let task = IncomingTransfer::new(
            hub.clone(),
            id,
            *peer,
            local.to_path_buf(),
            Start::Requested { directory },
            rx,
            info_tx,
        );
        ctx.spawn(task.run());
        let msg = Control::Request {
            id,
            path: remote_path.to_string(),
            directory,
        };
        if let Err(e) = hub.send(peer, &msg).await {
            hub.signal(id, TaskMsg::Cancel);
            return Err(e);
        }
        Ok(id)
    }

    fn command(&self, id: TransferId, msg: TaskMsg) -> Result<(), TransferError> {
        let slots = self.hub.slots.lock();
        let slot = slots.get(&id).ok_or(TransferError::UnknownTransfer(id))?;
        slot.life
            .try_send(msg)
            .map_err(|_| TransferError::WrongState {
                id,
                state: "busy".into(),
            })
    }

    /// Pauses a transfer (the peer is told and stops sending).
    pub fn pause(&self, id: TransferId) -> Result<(), TransferError> {
        self.command(id, TaskMsg::Pause)
    }

    /// Lifts our pause of a transfer. A pause the peer set is the peer's to lift.
    pub fn resume(&self, id: TransferId) -> Result<(), TransferError> {
        let state = self
            .transfer(id)
            .map(|i| i.state)
            .ok_or(TransferError::UnknownTransfer(id))?;
        if let TransferState::Paused { by_peer: true } = state {
            return Err(TransferError::WrongState {
                id,
                state: state.to_string(),
            });
        }
        self.command(id, TaskMsg::Resume)
    }

    /// Cancels a transfer on both sides; temporary data is removed.
    pub fn cancel(&self, id: TransferId) -> Result<(), TransferError> {
        self.command(id, TaskMsg::Cancel)
    }

    /// A snapshot of one transfer (live, or among the last finished ones).
    pub fn transfer(&self, id: TransferId) -> Option<TransferInfo> {
        if let Some(slot) = self.hub.slots.lock().get(&id) {
            return Some(slot.info.borrow().clone());
        }
        self.hub
            .finished
            .lock()
            .iter()
            .find(|i| i.id == id)
            .cloned()
    }

    /// Live transfers, then the last finished ones.
    pub fn transfers(&self) -> Vec<TransferInfo> {
        let mut out: Vec<TransferInfo> = self
            .hub
            .slots
            .lock()
            .values()
            .map(|s| s.info.borrow().clone())
            .collect();
        out.sort_by_key(|i| i.id);
        out.extend(self.hub.finished.lock().iter().cloned());
        out
    }

    /// Counters across transfers.
    pub fn stats(&self) -> StatsSnapshot {
        let active = self.hub.slots.lock().len() as u64;
        self.hub.stats.snapshot(active)
    }

    /// Waits until a transfer is finished (completed, failed or cancelled), at most
    /// `timeout`. On the receiving side an offered transfer gets its slot only once the
    /// accept callback said yes; until then (within `timeout`) this waits for it to appear.
    pub async fn wait(
        &self,
        id: TransferId,
        timeout: Duration,
    ) -> Result<TransferInfo, TransferError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let rx = self.hub.slots.lock().get(&id).map(|s| s.info.clone());
            if let Some(mut rx) = rx {
                let waited = tokio::time::timeout_at(deadline, async {
                    let _ = rx.wait_for(|i| i.state.is_finished()).await;
                })
                .await;
                if waited.is_err() {
                    return Err(TransferError::Timeout(format!("transfer {}", id.short())));
                }
                let last = rx.borrow().clone();
                if last.state.is_finished() {
                    return Ok(last);
                }
            }
            if let Some(info) = self.transfer(id).filter(|i| i.state.is_finished()) {
                return Ok(info);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TransferError::UnknownTransfer(id));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, TransferError> + Send + 'static,
) -> Result<T, TransferError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or(Err(TransferError::Stopped))
}

#[allow(clippy::too_many_arguments)]
fn new_info(
    id: TransferId,
    peer: PeerId,
    direction: Direction,
    kind: Kind,
    name: String,
    local_path: PathBuf,
    files: usize,
    total_bytes: u64,
) -> TransferInfo {
    TransferInfo {
        id,
        peer,
        direction,
        kind,
        name,
        local_path,
        files,
        total_bytes,
        state: TransferState::Pending,
        progress: Progress {
            total_bytes,
            ..Progress::default()
        },
    }
}

/// Registers and starts the sending side, then sends the offer.
async fn start_outgoing(
    hub: &Arc<Hub>,
    peer: PeerId,
    id: TransferId,
    local: manifest::LocalManifest,
    local_path: PathBuf,
) -> Result<TransferId, TransferError> {
    let manifest::LocalManifest {
        manifest,
        sources,
        chunk_hashes,
    } = local;
    let ctx = hub.ctx()?;
    if ctx.peer_info(&peer).is_none() {
        return Err(TransferError::NotConnected(peer.short()));
    }
    let offer = Control::Offer(manifest.to_offer(id));
    let info = new_info(
        id,
        peer,
        Direction::Outgoing,
        manifest.kind,
        manifest.name.clone(),
        local_path,
        manifest.files.len(),
        manifest.total_size(),
    );
    let (rx, info_tx) = hub.open_slot(info)?;
    let task = OutgoingTransfer::new(
        hub.clone(),
        id,
        peer,
        Arc::new(manifest),
        Arc::new(sources),
        Arc::new(chunk_hashes),
        rx,
        info_tx,
        true,
    );
    let saved = task.saved();
    let temp = hub.temp().to_path_buf();
    if let Err(e) =
        blocking(move || state::save(&temp, &saved).map_err(|e| TransferError::io(&temp, &e))).await
    {
        hub.slots.lock().remove(&id);
        return Err(e);
    }
    ctx.spawn(task.run());
    if let Err(e) = hub.send(&peer, &offer).await {
        hub.signal(id, TaskMsg::Cancel);
        return Err(e);
    }
    Ok(id)
}

/// A push offer from `peer`: checked against the limits, then put to the accept callback.
fn on_offer(hub: &Arc<Hub>, peer: PeerId, offer: Offer) {
    let id = offer.id;
    if hub.id_taken(&id) {
        // An id in use (ours, or someone else's): never let a peer step into it.
        TransferStats::add(&hub.stats.chunks_dropped, 1);
        return;
    }
    if hub.finished.lock().iter().any(|i| i.id == id) {
        // The answer to a request we gave up on (cancelled, timed out): not a new push.
        hub.refuse(&peer, id, false, "that request is over");
        return;
    }
    if !hub.config.trusts(&peer) {
        hub.refuse(&peer, id, false, NOT_TRUSTED);
        return;
    }
    let Some(callback) = hub.accept.read().clone() else {
        hub.refuse(&peer, id, false, "incoming transfers are not accepted");
        return;
    };
    let manifest = match Manifest::from_offer(&offer, &hub.config) {
        Ok(m) => m,
        Err(e) => {
            hub.refuse(&peer, id, false, &e.to_string());
            return;
        }
    };
    let hub2 = hub.clone();
    decide(hub, peer, id, false, async move {
        decide_offer(&hub2, peer, id, manifest, callback).await
    });
}

/// What a peer outside `trusted_peers` is told.
const NOT_TRUSTED: &str = "not a trusted peer here";

/// Runs the decision on a peer's offer or pull request as a task, within the per-peer limit
/// of pending ones; an `Err(reason)` is sent back as `reject`.
fn decide<F>(hub: &Arc<Hub>, peer: PeerId, id: TransferId, pull: bool, decision: F)
where
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    if !hub.begin_pending(peer, id) {
        let what = if pull { "requests" } else { "offers" };
        hub.refuse(
            &peer,
            id,
            pull,
            &format!("too many {what} waiting for an answer"),
        );
        return;
    }
    let Ok(ctx) = hub.ctx() else { return };
    let hub = hub.clone();
    ctx.spawn(async move {
        let outcome = decision.await;
        hub.end_pending(&peer, &id);
        if let Err(reason) = outcome {
            let msg = hub.refusal(&peer, id, pull, &reason);
            let _ = hub.send(&peer, &msg).await;
        }
    });
}

async fn decide_offer(
    hub: &Arc<Hub>,
    peer: PeerId,
    id: TransferId,
    manifest: Manifest,
    callback: crate::hub::AcceptFn,
) -> Result<(), String> {
    let offer = IncomingOffer {
        id,
        peer,
        kind: manifest.kind,
        name: manifest.name.clone(),
        files: manifest
            .files
            .iter()
            .map(|f| OfferedFile {
                relative_path: f.rel.to_string(),
                size: f.size,
                mtime: f.mtime,
                sha256: hex::encode(f.sha256),
            })
            .collect(),
        total_bytes: manifest.total_size(),
    };
    hub.emit(TransferEvent::Offered(offer.clone()));
    let wait = Duration::from_millis(hub.config.offer_timeout_ms);
    let cancel = hub.ctx().map_err(|e| e.to_string())?.cancellation().clone();
    let answer = tokio::select! {
        a = tokio::time::timeout(wait, callback(offer)) => a,
        _ = cancel.cancelled() => return Err("the node is stopping".into()),
    };
    let dest = match answer {
        Err(_) => return Err("the offer was not answered in time".into()),
        Ok(AcceptDecision::Reject(reason)) => return Err(reason),
        Ok(AcceptDecision::Accept(dest)) => dest,
    };
    check_space(hub, &dest, manifest.total_size())
        .await
        .map_err(|e| e.to_string())?;
    let ctx = hub.ctx().map_err(|e| e.to_string())?;
    let info = new_info(
        id,
        peer,
        Direction::Incoming,
        manifest.kind,
        manifest.name.clone(),
        dest.clone(),
        manifest.files.len(),
        manifest.total_size(),
    );
    let (rx, info_tx) = hub.open_slot(info).map_err(|e| e.to_string())?;
    let mut task = IncomingTransfer::new(
        hub.clone(),
        id,
        peer,
        dest,
        Start::Accepted(Arc::new(manifest)),
        rx,
        info_tx,
    );
    // Saved before the sender hears of the accept: killed right after, we still know the
    // transfer when we come back, and it continues. On an error the task tries again and
    // fails the transfer.
    let _ = task.prepare().await;
    // Accept first, then start: the task may answer at once (empty files are complete
    // immediately), and chunks that arrive meanwhile wait in its queue.
    let accept = Control::Accept {
        id,
        window: hub.config.window,
    };
    let sent = hub.send(&peer, &accept).await;
    ctx.spawn(task.run());
    if sent.is_err() {
        hub.signal(id, TaskMsg::PeerDown);
    }
    Ok(())
}

/// A pull request from `peer`: the serve callback or the shared root decides.
fn on_request(hub: &Arc<Hub>, peer: PeerId, id: TransferId, path: String, directory: bool) {
    if hub.id_taken(&id) {
        TransferStats::add(&hub.stats.chunks_dropped, 1);
        return;
    }
    if !hub.config.trusts(&peer) {
        hub.refuse(&peer, id, true, NOT_TRUSTED);
        return;
    }
    let hub2 = hub.clone();
    decide(hub, peer, id, true, async move {
        serve(&hub2, peer, id, path, directory).await
    });
}

async fn serve(
    hub: &Arc<Hub>,
    peer: PeerId,
    id: TransferId,
    path: String,
    directory: bool,
) -> Result<(), String> {
    let callback = hub.serve.read().clone();
    let local = if let Some(cb) = callback {
        let request = ServeRequest {
            id,
            peer,
            path: path.clone(),
            directory,
        };
        let wait = Duration::from_millis(hub.config.offer_timeout_ms);
        let cancel = hub.ctx().map_err(|e| e.to_string())?.cancellation().clone();
        let answer = tokio::select! {
            a = tokio::time::timeout(wait, cb(request)) => a,
            _ = cancel.cancelled() => return Err("the node is stopping".into()),
        };
        match answer {
            Err(_) => return Err("the request was not answered in time".into()),
            Ok(ServeDecision::Refuse(reason)) => return Err(reason),
            Ok(ServeDecision::Serve(p)) => p,
        }
    } else if let Some(root) = hub.config.shared_root.clone() {
        let rel = RelPath::parse(&path).map_err(|e| e.to_string())?;
        blocking(move || resolve_for_reading(&root, &rel).map_err(TransferError::from))
            .await
            .map_err(|e| e.peer_reason())?
    } else {
        return Err("this peer shares nothing".into());
    };
    let chunk = hub.config.chunk_size;
    let max = hub.config.max_files as usize;
    let p = local.clone();
    let built = blocking(move || {
        if directory {
            manifest::for_directory(&p, None, true, chunk, max)
        } else {
            manifest::for_file(&p, None, chunk)
        }
    })
    .await;
    // Never tell the peer where our files live: only the path it asked for appears.
    let local_manifest = built.map_err(|e| match e {
        TransferError::SourceChanged(_) => format!("cannot serve {path}: it changed while read"),
        TransferError::Refused(_) => format!("cannot serve {path}: too many entries"),
        e => format!("cannot serve {path}: {}", e.peer_reason()),
    })?;
    start_outgoing(hub, peer, id, local_manifest, local)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[async_trait]
impl Service for TransferService {
    fn descriptor(&self) -> ServiceDescriptor {
        ServiceDescriptor {
            name: crate::SERVICE_NAME,
            channel: CONTROL_CHANNEL,
            priority: Priority::Normal,
            bulk_channel: Some(DATA_CHANNEL),
        }
    }

    async fn start(&self, ctx: ServiceContext) -> Result<(), ServiceError> {
        let hub = &self.hub;
        let temp = if hub.temp_is_shared {
            hub.temp_base.join(ctx.local_peer_id().to_hex())
        } else {
            hub.temp_base.clone()
        };
        std::fs::create_dir_all(&temp)
            .map_err(|e| ServiceError::Start(format!("{}: {e}", temp.display()).into()))?;
        let _ = hub.temp.set(temp.clone());
        let _ = hub.ctx.set(ctx.clone());
        let limits = hub.config.clone();
        let saved = blocking(move || Ok(state::load_all(&temp, &limits)))
            .await
            .unwrap_or_default();
        for s in saved {
            restore(hub, &ctx, s);
        }
        Ok(())
    }

    fn on_peer_connected(&self, peer: &PeerInfo) {
        self.hub.peer_event(&peer.peer_id, true);
    }

    fn on_peer_disconnected(&self, peer: &PeerId, _reason: &DisconnectReason) {
        self.hub.peer_event(peer, false);
    }

    fn on_frame(&self, peer: &PeerId, message: Bytes) -> Result<(), ServiceError> {
        let hub = &self.hub;
        let msg = match Control::decode(&message) {
            Ok(m) => m,
            Err(e) => {
                // A newer peer's message type, or garbage: ignored (and counted), so that
                // versions can add messages without cutting older peers off.
                // As an error value, so the subscriber also shows its source (serde's detail).
                let error: &dyn std::error::Error = &e;
                debug!(peer = %peer.short(), error, "transfer message ignored");
                TransferStats::add(&hub.stats.chunks_dropped, 1);
                return Ok(());
            }
        };
        match msg {
            Control::Offer(offer) => {
                let id = offer.id;
                // A pull's answer goes to the waiting request; anything else is a push.
                if !hub.forward(peer, id, TaskMsg::Control(Control::Offer(offer.clone()))) {
                    on_offer(hub, *peer, offer);
                }
            }
            Control::Request {
                id,
                path,
                directory,
            } => on_request(hub, *peer, id, path, directory),
            other => {
                let id = other.id();
                // Only terminal messages go unanswered when the transfer is unknown; anything
                // else learns that it is over here (so the peer cleans up instead of waiting).
                let answer = !matches!(
                    other,
                    Control::Cancel { .. } | Control::Failed { .. } | Control::Reject { .. }
                );
                let is_where = matches!(other, Control::Where { .. });
                if !hub.forward(peer, id, TaskMsg::Control(other)) {
                    TransferStats::add(&hub.stats.chunks_dropped, 1);
                    if is_where && hub.completed_with(peer, id) {
                        // We finished receiving it; our last `file_done` was lost. Nothing is
                        // left to continue: the sender is done too.
                        hub.try_send(
                            peer,
                            &Control::Continue {
                                id,
                                window: hub.config.window,
                                files: Vec::new(),
                            },
                        );
                        return Ok(());
                    }
                    // An offer still being decided is not unknown.
                    if answer && !hub.id_taken(&id) {
                        hub.try_send(
                            peer,
                            &Control::Cancel {
                                id,
                                reason: "unknown transfer".into(),
                            },
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn on_bulk_frame(&self, peer: &PeerId, message: Bytes) -> Result<(), ServiceError> {
        let hub = &self.hub;
        let Ok((header, data)) = ChunkHeader::decode(message) else {
            TransferStats::add(&hub.stats.chunks_dropped, 1);
            return Ok(());
        };
        let incoming = hub
            .slots
            .lock()
            .get(&header.id)
            .is_some_and(|s| s.peer == *peer && s.direction == Direction::Incoming);
        // A chunk the peer's memory share has no room for is dropped like one that finds the
        // queue full: the sender sends it again.
        let held = || {
            hub.ctx()
                .ok()
                .and_then(|ctx| ctx.reserve_memory(peer, data.len()).ok())
        };
        let forwarded = incoming
            && match held() {
                Some(held) => hub.forward(peer, header.id, TaskMsg::Chunk(header, data, held)),
                None => false,
            };
        if !forwarded {
            TransferStats::add(&hub.stats.chunks_dropped, 1);
        }
        Ok(())
    }
}

/// Starts the task of a transfer saved before a restart; it waits for its peer.
fn restore(hub: &Arc<Hub>, ctx: &ServiceContext, s: SavedTransfer) {
    let (direction, local) = match s.role {
        SavedRole::Sender => (Direction::Outgoing, s.local_path.clone()),
        SavedRole::Receiver => (Direction::Incoming, s.local_path.clone()),
    };
    let mut info = new_info(
        s.id,
        s.peer,
        direction,
        s.manifest.kind,
        s.manifest.name.clone(),
        local,
        s.manifest.files.len(),
        s.manifest.total_size(),
    );
    info.state = TransferState::WaitingForPeer;
    let (rx, info_tx) = match hub.open_slot(info) {
        Ok(opened) => opened,
        Err(e) => {
            // Kept on disk: a later start with room restores it (until resume_ttl_secs).
            warn!(transfer = %s.id.short(), error = %e, "saved transfer not restored now");
            return;
        }
    };
    debug!(transfer = %s.id.short(), "restored a saved transfer");
    match s.role {
        SavedRole::Sender => {
            if s.sources.len() != s.manifest.files.len() {
                hub.slots.lock().remove(&s.id);
                state::remove(hub.temp(), s.id);
                return;
            }
            let paused = s.paused;
            let mut task = OutgoingTransfer::new(
                hub.clone(),
                s.id,
                s.peer,
                s.manifest,
                Arc::new(s.sources),
                Arc::new(Vec::new()),
                rx,
                info_tx,
                false,
            );
            task.set_paused(paused);
            ctx.spawn(task.run());
        }
        SavedRole::Receiver => {
            let task = IncomingTransfer::new(
                hub.clone(),
                s.id,
                s.peer,
                s.local_path.clone(),
                Start::Restored(Box::new(s)),
                rx,
                info_tx,
            );
            ctx.spawn(task.run());
        }
    }
}
