//! What the sending and the receiving task of a transfer share: who and what it is, both
//! sides' pauses, progress accounting, the published snapshot and events, the saved state,
//! and the end. Each side holds one [`TransferCore`] and keeps only its own protocol.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use rats_core::PeerId;
use tokio::sync::watch;
use tracing::{Span, info_span, warn};

use crate::error::TransferError;
use crate::event::{Direction, TransferEvent, TransferInfo, TransferState, TransferStats};
use crate::hub::Hub;
use crate::id::TransferId;
use crate::manifest::Manifest;
use crate::progress::Tracker;
use crate::state::{self, SavedRole, SavedTransfer};
use crate::wire::{Control, clip_reason};

/// The state and bookkeeping both sides of a transfer share.
pub(crate) struct TransferCore {
    pub hub: Arc<Hub>,
    pub id: TransferId,
    pub peer: PeerId,
    pub manifest: Arc<Manifest>,
    /// Paused by this side's user (or a full disk); saved, and told the peer again after a
    /// reconnect.
    pub paused_local: bool,
    /// Paused by the peer; forgotten with the connection (the peer says it again).
    pub paused_remote: bool,
    pub tracker: Tracker,
    direction: Direction,
    info: watch::Sender<TransferInfo>,
}

impl TransferCore {
    pub(crate) fn new(
        hub: Arc<Hub>,
        id: TransferId,
        peer: PeerId,
        manifest: Arc<Manifest>,
        info: watch::Sender<TransferInfo>,
    ) -> Self {
        let direction = info.borrow().direction;
        let tracker = tracker_for(&hub, &manifest);
        TransferCore {
            hub,
            id,
            peer,
            manifest,
            paused_local: false,
            paused_remote: false,
            tracker,
            direction,
            info,
        }
    }

    /// Replaces the manifest (a pull's offer arrived); progress starts over with its totals.
    pub(crate) fn set_manifest(&mut self, manifest: Arc<Manifest>) {
        self.tracker = tracker_for(&self.hub, &manifest);
        self.manifest = manifest;
    }

    /// The task's span: every log line names the transfer, the peer and the direction.
    pub(crate) fn span(&self) -> Span {
        let dir = match self.direction {
            Direction::Outgoing => "out",
            Direction::Incoming => "in",
        };
        info_span!("transfer", id = %self.id.short(), peer = %self.peer.short(), dir)
    }

    /// Sends a control message to the peer.
    pub(crate) async fn send(&self, msg: &Control) -> Result<(), TransferError> {
        self.hub.send(&self.peer, msg).await
    }

    /// Sends a control message whose loss the protocol recovers from (a timeout or the next
    /// reconnect says it again).
    pub(crate) async fn tell(&self, msg: &Control) {
        let _ = self.send(msg).await;
    }

    /// Counts a message or chunk that has no place here.
    pub(crate) fn dropped(&self) {
        TransferStats::add(&self.hub.stats.chunks_dropped, 1);
    }

    /// Publishes a transfer event.
    pub(crate) fn emit(&self, event: TransferEvent) {
        self.hub.emit(event);
    }

    /// Updates the published snapshot.
    pub(crate) fn update_info(&self, f: impl FnOnce(&mut TransferInfo)) {
        self.info.send_modify(f);
    }

    pub(crate) fn set_state(&self, state: TransferState) {
        self.info.send_modify(|i| i.state = state);
    }

    /// Paused by either side.
    pub(crate) fn is_paused(&self) -> bool {
        self.paused_local || self.paused_remote
    }

    /// Active, or paused and by whom.
    fn running_state(&self) -> TransferState {
        if self.paused_local {
            TransferState::Paused { by_peer: false }
        } else if self.paused_remote {
            TransferState::Paused { by_peer: true }
        } else {
            TransferState::Active
        }
    }

    /// Shows the data phase's state (active or paused).
    pub(crate) fn show_running(&self) {
        self.set_state(self.running_state());
    }

    /// The data phase starts: shown, and `Started` published.
    pub(crate) fn started(&self) {
        self.show_running();
        self.emit(TransferEvent::Started(self.info.borrow().clone()));
    }

    /// The data phase goes on after a reconnect: shown, and `Resumed` published.
    pub(crate) fn continued(&self) {
        self.show_running();
        self.emit(TransferEvent::Resumed { id: self.id });
    }

    /// Publishes progress if the interval passed (or `force`).
    pub(crate) fn progress(&mut self, force: bool) {
        if let Some(p) = self.tracker.due(force) {
            self.info.send_modify(|i| i.progress = p.clone());
            self.emit(TransferEvent::Progress {
                id: self.id,
                peer: self.peer,
                progress: p,
            });
        }
    }

    /// Restarts progress from where each file stands: done (`None`) or continuing at chunk
    /// `Some(c)`.
    pub(crate) fn restart_progress(&mut self, files: impl Iterator<Item = Option<u64>>) {
        let (mut bytes, mut chunks, mut done) = (0, 0, 0);
        for (f, start) in files.enumerate() {
            match start {
                None => {
                    bytes += self.manifest.files.get(f).map_or(0, |m| m.size);
                    chunks += self.manifest.chunk_count(f);
                    done += 1;
                }
                Some(c) => {
                    bytes += self.manifest.chunk_span(f, c).0;
                    chunks += c;
                }
            }
        }
        self.tracker.restart(bytes, chunks, done);
    }

    /// This side pauses (the user, or a full disk): the peer is told and stops sending. The
    /// side saves its state and reports it with [`paused`](Self::paused).
    pub(crate) async fn pause_local(&mut self) {
        self.paused_local = true;
        self.tell(&Control::Pause { id: self.id }).await;
    }

    /// The user lifts this side's pause: the peer is told, and it is reported.
    pub(crate) async fn resume_local(&mut self, running: bool) {
        self.paused_local = false;
        self.tell(&Control::Resume { id: self.id }).await;
        self.resumed(running);
    }

    /// The user cancels: the peer is told; the transfer's outcome.
    pub(crate) async fn cancel(&self) -> TransferError {
        let reason = match self.direction {
            Direction::Outgoing => "cancelled by the sender",
            Direction::Incoming => "cancelled by the receiver",
        };
        let msg = Control::Cancel {
            id: self.id,
            reason: reason.into(),
        };
        self.tell(&msg).await;
        TransferError::Cancelled
    }

    /// Tells the peer again that we have paused (it forgets a pause with the connection).
    pub(crate) async fn announce_pause(&self) {
        if self.paused_local {
            self.tell(&Control::Pause { id: self.id }).await;
        }
    }

    /// The peer paused.
    pub(crate) fn peer_paused(&mut self, running: bool) {
        self.paused_remote = true;
        self.paused(running, true, None);
    }

    /// Forgets the peer's pause; whether there was one.
    pub(crate) fn lift_peer_pause(&mut self) -> bool {
        std::mem::replace(&mut self.paused_remote, false)
    }

    /// Reports a pause (shown only in the data phase: before it, `Pending` or waiting stays).
    pub(crate) fn paused(&self, running: bool, by_peer: bool, reason: Option<String>) {
        if running {
            self.show_running();
        }
        self.emit(TransferEvent::Paused {
            id: self.id,
            by_peer,
            reason,
        });
    }

    /// Reports going on after a pause; the rate is measured afresh.
    pub(crate) fn resumed(&mut self, running: bool) {
        if running {
            self.show_running();
        }
        let p = self.tracker.snapshot();
        self.tracker
            .restart(p.bytes_done, p.chunks_done, p.files_done);
        self.emit(TransferEvent::Resumed { id: self.id });
    }

    /// The saved form: the shared part (the side adds its own).
    pub(crate) fn saved(&self) -> SavedTransfer {
        SavedTransfer {
            id: self.id,
            peer: self.peer,
            role: match self.direction {
                Direction::Outgoing => SavedRole::Sender,
                Direction::Incoming => SavedRole::Receiver,
            },
            manifest: self.manifest.clone(),
            local_path: self.info.borrow().local_path.clone(),
            sources: Vec::new(),
            files_done: Vec::new(),
            prefixes: Vec::new(),
            paused: self.paused_local,
            saved_at: state::now_secs(),
        }
    }

    /// Writes `saved` (its time stamp counts for `resume_ttl_secs`), then empties `chunk_log`
    /// if given: what it held is in the saved prefixes now.
    pub(crate) async fn save(&self, saved: SavedTransfer, chunk_log: Option<Arc<File>>) {
        let temp = self.hub.temp().to_path_buf();
        let result = tokio::task::spawn_blocking(move || {
            state::save(&temp, &saved)?;
            chunk_log.map_or(Ok(()), |log| log.set_len(0))
        })
        .await;
        if let Ok(Err(e)) = result {
            warn!(error = %e, "could not save transfer state");
        }
    }

    /// Ends the transfer: last progress, then counted, the peer told if it cannot know why,
    /// temporary data removed and `Finished` published.
    pub(crate) async fn finish(&mut self, outcome: Result<(), TransferError>) {
        self.progress(true);
        self.hub
            .finish_transfer(self.id, self.peer, &self.info, outcome)
            .await;
    }
}

/// The peer's end of the transfer (`cancel` or `failed`), if `c` is one.
pub(crate) fn ended_by_peer(c: &Control) -> Option<TransferError> {
    match c {
        Control::Cancel { reason, .. } => Some(TransferError::CancelledByPeer(clip_reason(reason))),
        Control::Failed { reason, .. } => Some(TransferError::Remote(clip_reason(reason))),
        _ => None,
    }
}

fn tracker_for(hub: &Hub, manifest: &Manifest) -> Tracker {
    Tracker::new(
        manifest.total_size(),
        manifest.total_chunks(),
        Duration::from_millis(hub.config.progress_interval_ms),
    )
}
