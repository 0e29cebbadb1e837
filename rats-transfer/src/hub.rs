//! The state every transfer task shares: the table of live transfers, callbacks, limits and
//! counters, and the routing of peer messages to the task that owns the transfer.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use rats_core::budget::Reservation;
use rats_core::{Event, PeerId};
use rats_core::{Outgoing, SendError, ServiceContext};
use tokio::sync::{mpsc, watch};
use tracing::{debug, trace, warn};

use crate::config::TransferConfig;
use crate::error::TransferError;
use crate::event::{Direction, TransferEvent, TransferInfo, TransferState, TransferStats};
use crate::id::TransferId;
use crate::wire::{ChunkHeader, Control, clip_reason};

/// Finished transfers kept for listing.
const FINISHED_KEPT: usize = 64;

/// What the accept callback answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcceptDecision {
    /// Accept; the file (or the directory's root) goes to this path.
    Accept(PathBuf),
    /// Refuse, with a reason the sender sees.
    Reject(String),
}

/// What the serve callback answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServeDecision {
    /// Serve this local file or directory.
    Serve(PathBuf),
    /// Refuse, with a reason the requester sees.
    Refuse(String),
}

/// A peer's request to pull something, as shown to the serve callback.
#[derive(Clone, Debug)]
pub struct ServeRequest {
    /// The transfer.
    pub id: TransferId,
    /// Who asks.
    pub peer: PeerId,
    /// The path asked for (as the peer typed it; unchecked).
    pub path: String,
    /// Whether a directory is asked for.
    pub directory: bool,
}

/// A boxed future, as callbacks return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(crate) type AcceptFn =
    Arc<dyn Fn(crate::event::IncomingOffer) -> BoxFuture<AcceptDecision> + Send + Sync>;
pub(crate) type ServeFn = Arc<dyn Fn(ServeRequest) -> BoxFuture<ServeDecision> + Send + Sync>;

/// A message for a transfer's task.
pub(crate) enum TaskMsg {
    Control(Control),
    /// A chunk, its bytes charged to the peer's memory share until the task is done with it.
    Chunk(ChunkHeader, Bytes, Reservation),
    PeerUp,
    PeerDown,
    Pause,
    Resume,
    Cancel,
}

pub(crate) struct Slot {
    pub peer: PeerId,
    pub direction: Direction,
    /// The peer's messages and chunks (bounded by the window: a full queue drops chunks).
    pub tx: mpsc::Sender<TaskMsg>,
    /// Peer up/down and the user's commands, on their own queue so that a queue full of
    /// chunks never loses them.
    pub life: mpsc::Sender<TaskMsg>,
    pub info: watch::Receiver<TransferInfo>,
}

/// Lifecycle messages queued at most per transfer.
const LIFE_QUEUE: usize = 32;

/// A transfer task's two queues; lifecycle messages are taken first.
pub(crate) struct TaskRx {
    peer: mpsc::Receiver<TaskMsg>,
    life: mpsc::Receiver<TaskMsg>,
}

impl TaskRx {
    /// The next message; `None` once the transfer's slot is gone.
    pub(crate) async fn recv(&mut self) -> Option<TaskMsg> {
        tokio::select! {
            biased;
            Some(m) = self.life.recv() => Some(m),
            m = self.peer.recv() => m,
        }
    }
}

pub(crate) struct Hub {
    pub config: TransferConfig,
    /// Where partial data lives; set at start (per node when there is no data directory).
    pub temp: OnceLock<PathBuf>,
    /// The configured or default base of `temp`.
    pub temp_base: PathBuf,
    /// Whether `temp_base` is the system-wide fallback shared by several nodes.
    pub temp_is_shared: bool,
    pub ctx: OnceLock<ServiceContext>,
    pub slots: Mutex<HashMap<TransferId, Slot>>,
    pub finished: Mutex<VecDeque<TransferInfo>>,
    /// Offers and requests of each peer waiting for a decision.
    pub pending: Mutex<HashMap<PeerId, u32>>,
    /// Ids of those offers and requests (an id is taken from the moment it is offered).
    pub deciding: Mutex<std::collections::HashSet<TransferId>>,
    pub accept: RwLock<Option<AcceptFn>>,
    pub serve: RwLock<Option<ServeFn>>,
    pub stats: TransferStats,
}

impl Hub {
    pub(crate) fn new(config: TransferConfig, temp_base: PathBuf, temp_is_shared: bool) -> Self {
        Hub {
            config,
            temp: OnceLock::new(),
            temp_base,
            temp_is_shared,
            ctx: OnceLock::new(),
            slots: Mutex::new(HashMap::new()),
            finished: Mutex::new(VecDeque::new()),
            pending: Mutex::new(HashMap::new()),
            deciding: Mutex::new(std::collections::HashSet::new()),
            accept: RwLock::new(None),
            serve: RwLock::new(None),
            stats: TransferStats::default(),
        }
    }

    pub(crate) fn ctx(&self) -> Result<&ServiceContext, TransferError> {
        self.ctx.get().ok_or(TransferError::Stopped)
    }

    pub(crate) fn temp(&self) -> &Path {
        self.temp.get().unwrap_or(&self.temp_base)
    }

    /// Registers the transfer `info` describes: its queues and its snapshot. Returns the
    /// task's ends. A receiver's peer queue holds one window of chunks plus room for control
    /// messages; a sender's gets only control messages, up to an acknowledgement and a
    /// `file_done` per chunk in flight, and some more while it is busy reading.
    pub(crate) fn open_slot(
        &self,
        info: TransferInfo,
    ) -> Result<(TaskRx, watch::Sender<TransferInfo>), TransferError> {
        let window = self.config.window as usize;
        let capacity = match info.direction {
            Direction::Incoming => window + 16,
            Direction::Outgoing => 4 * window + 64,
        };
        let (tx, peer) = mpsc::channel(capacity);
        let (life_tx, life) = mpsc::channel(LIFE_QUEUE);
        let (id, peer_id, direction) = (info.id, info.peer, info.direction);
        let (info_tx, info_rx) = watch::channel(info);
        self.register(
            id,
            Slot {
                peer: peer_id,
                direction,
                tx,
                life: life_tx,
                info: info_rx,
            },
        )?;
        Ok((TaskRx { peer, life }, info_tx))
    }

    /// Sends a lifecycle message to transfer `id`; false if it is gone or flooded.
    pub(crate) fn signal(&self, id: TransferId, msg: TaskMsg) -> bool {
        let slots = self.slots.lock();
        slots.get(&id).is_some_and(|s| s.life.try_send(msg).is_ok())
    }

    /// Publishes a transfer event.
    pub(crate) fn emit(&self, event: TransferEvent) {
        if let Some(ctx) = self.ctx.get() {
            ctx.emit(Event::Service {
                service: crate::SERVICE_NAME,
                event: Arc::new(event),
            });
        }
    }

    /// Sends a control message, waiting while the peer's queue is full.
    pub(crate) async fn send(&self, peer: &PeerId, msg: &Control) -> Result<(), TransferError> {
        let ctx = self.ctx()?;
        let bytes = msg.encode();
        ctx.send(peer, Outgoing::slice(&bytes))
            .await
            .map_err(|e| match e {
                SendError::TooLarge => TransferError::Refused(format!(
                    "a {} byte message is larger than the connection's max_message_size \
                     (offer fewer files at once)",
                    bytes.len()
                )),
                SendError::NodeStopped => TransferError::Stopped,
                _ => TransferError::NotConnected(peer.short()),
            })
    }

    /// Sends a control message if there is room now (answers from the connection task).
    pub(crate) fn try_send(&self, peer: &PeerId, msg: &Control) {
        if let Some(ctx) = self.ctx.get() {
            let bytes = msg.encode();
            if let Err(e) = ctx.try_send(peer, Outgoing::slice(&bytes)) {
                debug!(peer = %peer.short(), error = %e, "transfer message not sent");
            }
        }
    }

    /// Adds a transfer; fails when too many are alive or the id is taken.
    pub(crate) fn register(&self, id: TransferId, slot: Slot) -> Result<(), TransferError> {
        let mut slots = self.slots.lock();
        if slots.len() >= self.config.max_transfers as usize {
            return Err(TransferError::TooMany);
        }
        if slots.contains_key(&id) {
            return Err(TransferError::Refused("transfer id already in use".into()));
        }
        slots.insert(id, slot);
        Ok(())
    }

    /// Removes a finished transfer, keeping its last snapshot for listing.
    pub(crate) fn unregister(&self, id: TransferId, info: TransferInfo) {
        self.slots.lock().remove(&id);
        let mut finished = self.finished.lock();
        if finished.len() >= FINISHED_KEPT {
            finished.pop_front();
        }
        finished.push_back(info);
    }

    /// Whether we completed receiving transfer `id` from `peer` (among the last finished).
    pub(crate) fn completed_with(&self, peer: &PeerId, id: TransferId) -> bool {
        self.finished.lock().iter().any(|i| {
            i.id == id
                && i.peer == *peer
                && i.direction == Direction::Incoming
                && i.state == TransferState::Completed
        })
    }

    /// Whether `id` is in use: a live transfer, or an offer or request being decided.
    pub(crate) fn id_taken(&self, id: &TransferId) -> bool {
        self.slots.lock().contains_key(id) || self.deciding.lock().contains(id)
    }

    /// Ends a transfer whose task is done: counts it, tells the peer when it cannot know why
    /// (a local error), removes the temporary data, and publishes the last snapshot.
    pub(crate) async fn finish_transfer(
        &self,
        id: TransferId,
        peer: PeerId,
        info: &watch::Sender<TransferInfo>,
        outcome: Result<(), TransferError>,
    ) {
        let state = match &outcome {
            Ok(()) => {
                TransferStats::add(&self.stats.completed, 1);
                TransferState::Completed
            }
            Err(TransferError::Cancelled | TransferError::CancelledByPeer(_)) => {
                TransferStats::add(&self.stats.cancelled, 1);
                TransferState::Cancelled
            }
            Err(e) => {
                TransferStats::add(&self.stats.failed, 1);
                TransferState::Failed(e.clone())
            }
        };
        if let Err(e) = &outcome {
            debug!(transfer = %id.short(), error = %e, "transfer ended");
            // The peer caused these, was told already (reject), or is gone.
            let peer_knows = matches!(
                e,
                TransferError::Cancelled
                    | TransferError::CancelledByPeer(_)
                    | TransferError::Rejected(_)
                    | TransferError::Remote(_)
                    | TransferError::NotConnected(_)
                    | TransferError::Refused(_)
                    | TransferError::NoSpace { .. }
            );
            if !peer_knows {
                let msg = Control::Failed {
                    id,
                    reason: clip_reason(&e.peer_reason()),
                };
                let _ = self.send(&peer, &msg).await;
            }
        }
        let temp = self.temp().to_path_buf();
        let _ = tokio::task::spawn_blocking(move || crate::state::remove(&temp, id)).await;
        info.send_modify(|i| i.state = state);
        let last = info.borrow().clone();
        self.unregister(id, last.clone());
        self.emit(TransferEvent::Finished(last));
    }

    /// Counts a new pending offer or request `id` of `peer`; false when it has too many.
    pub(crate) fn begin_pending(&self, peer: PeerId, id: TransferId) -> bool {
        let mut pending = self.pending.lock();
        let n = pending.entry(peer).or_insert(0);
        if *n >= self.config.max_pending_per_peer {
            return false;
        }
        *n += 1;
        self.deciding.lock().insert(id);
        true
    }

    pub(crate) fn end_pending(&self, peer: &PeerId, id: &TransferId) {
        self.deciding.lock().remove(id);
        let mut pending = self.pending.lock();
        if let Some(n) = pending.get_mut(peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                pending.remove(peer);
            }
        }
    }

    /// Hands a message to the task of transfer `id` if `peer` is its peer. Returns false
    /// when there is no such transfer (or it belongs to someone else).
    pub(crate) fn forward(&self, peer: &PeerId, id: TransferId, msg: TaskMsg) -> bool {
        let slots = self.slots.lock();
        let Some(slot) = slots.get(&id) else {
            return false;
        };
        if slot.peer != *peer {
            return false;
        }
        if slot.tx.try_send(msg).is_err() {
            trace!(transfer = %id.short(), "transfer queue full, message dropped");
            TransferStats::add(&self.stats.chunks_dropped, 1);
        }
        true
    }

    /// Tells every transfer with `peer` that it came or went.
    pub(crate) fn peer_event(&self, peer: &PeerId, up: bool) {
        let slots = self.slots.lock();
        for slot in slots.values().filter(|s| s.peer == *peer) {
            let msg = if up {
                TaskMsg::PeerUp
            } else {
                TaskMsg::PeerDown
            };
            if slot.life.try_send(msg).is_err() {
                warn!(peer = %peer.short(), "transfer lifecycle queue full");
            }
        }
    }

    /// Refuses an offer or request straight from the connection task.
    pub(crate) fn refuse(&self, peer: &PeerId, id: TransferId, pull: bool, reason: &str) {
        self.try_send(peer, &self.refusal(peer, id, pull, reason));
    }

    /// Counts and reports a refused offer or request; the `reject` to send the peer.
    pub(crate) fn refusal(
        &self,
        peer: &PeerId,
        id: TransferId,
        pull: bool,
        reason: &str,
    ) -> Control {
        TransferStats::add(&self.stats.rejected, 1);
        debug!(peer = %peer.short(), transfer = %id.short(), reason, "refused");
        let reason = clip_reason(reason);
        self.emit(TransferEvent::Refused {
            id,
            peer: *peer,
            pull,
            reason: reason.clone(),
        });
        Control::Reject { id, reason }
    }
}
