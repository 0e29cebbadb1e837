//! What the service reports: transfer snapshots, events on the node's bus, statistics.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rats_core::PeerId;

use crate::error::TransferError;
use crate::id::TransferId;
use crate::wire::Kind;

/// Which way the data goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// We send.
    Outgoing,
    /// We receive.
    Incoming,
}

/// Where a transfer is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferState {
    /// Offered or requested; waiting for the other side to decide.
    Pending,
    /// Data is moving.
    Active,
    /// Paused (by us when `by_peer` is false).
    Paused {
        /// Whether the peer paused it.
        by_peer: bool,
    },
    /// The peer is gone; the transfer continues when it is back.
    WaitingForPeer,
    /// Every file arrived and was verified.
    Completed,
    /// It failed.
    Failed(TransferError),
    /// It was cancelled and its temporary data removed.
    Cancelled,
}

impl TransferState {
    /// Completed, failed or cancelled.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            TransferState::Completed | TransferState::Failed(_) | TransferState::Cancelled
        )
    }
}

impl std::fmt::Display for TransferState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferState::Pending => f.write_str("pending"),
            TransferState::Active => f.write_str("active"),
            TransferState::Paused { by_peer: false } => f.write_str("paused"),
            TransferState::Paused { by_peer: true } => f.write_str("paused by peer"),
            TransferState::WaitingForPeer => f.write_str("waiting for peer"),
            TransferState::Completed => f.write_str("completed"),
            TransferState::Failed(e) => write!(f, "failed: {e}"),
            TransferState::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// A snapshot of one transfer.
#[derive(Clone, Debug)]
pub struct TransferInfo {
    /// Its id.
    pub id: TransferId,
    /// The other side.
    pub peer: PeerId,
    /// Which way.
    pub direction: Direction,
    /// File or directory.
    pub kind: Kind,
    /// The name it travels under.
    pub name: String,
    /// Our side's path: the source, or the destination.
    pub local_path: PathBuf,
    /// Files in it.
    pub files: usize,
    /// Bytes in it.
    pub total_bytes: u64,
    /// Where it is.
    pub state: TransferState,
    /// Progress.
    pub progress: Progress,
}

/// How far a transfer got.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Bytes verified (received and checked, or acknowledged by the receiver).
    pub bytes_done: u64,
    /// Bytes in the transfer.
    pub total_bytes: u64,
    /// Chunks verified.
    pub chunks_done: u64,
    /// Chunks in the transfer.
    pub total_chunks: u64,
    /// Files finished.
    pub files_done: usize,
    /// Bytes per second over the last interval.
    pub current_rate: f64,
    /// Bytes per second since the transfer (re)started.
    pub average_rate: f64,
    /// Estimated time left at the average rate (`None` before anything moved).
    pub eta: Option<Duration>,
}

/// An incoming offer as shown to the accept callback.
#[derive(Clone, Debug)]
pub struct IncomingOffer {
    /// The transfer.
    pub id: TransferId,
    /// Who offers it.
    pub peer: PeerId,
    /// File or directory.
    pub kind: Kind,
    /// Name of the file or directory.
    pub name: String,
    /// Its files: relative path, size, modification time, SHA-256.
    pub files: Vec<OfferedFile>,
    /// Bytes in it.
    pub total_bytes: u64,
}

/// One file of an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedFile {
    /// Path relative to the transfer's root (the name, for a single file).
    pub relative_path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// A transfer event, published on the node's bus as `Event::Service { service: "transfer",
/// .. }` (downcast the payload to `TransferEvent`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TransferEvent {
    /// A peer offers something; the accept callback decides.
    Offered(IncomingOffer),
    /// Data started (or started again) to move.
    Started(TransferInfo),
    /// Progress, at most every `progress_interval_ms` per transfer.
    Progress {
        /// The transfer.
        id: TransferId,
        /// The other side.
        peer: PeerId,
        /// How far.
        progress: Progress,
    },
    /// Paused.
    Paused {
        /// The transfer.
        id: TransferId,
        /// Whether the peer paused it.
        by_peer: bool,
        /// Why, when not a plain request (for example a full disk).
        reason: Option<String>,
    },
    /// Going on after a pause or a reconnect.
    Resumed {
        /// The transfer.
        id: TransferId,
    },
    /// One file of a directory arrived, verified and in place.
    FileCompleted {
        /// The transfer.
        id: TransferId,
        /// Its relative path.
        path: String,
    },
    /// Finished: completed, failed or cancelled (see `info.state`).
    Finished(TransferInfo),
    /// A peer's offer (`pull: false`) or pull request (`pull: true`) was refused before it
    /// became a transfer, with the reason the peer was given: a limit, `trusted_peers`, the
    /// accept or serve callback, or a path the share does not serve.
    Refused {
        /// The refused offer or request.
        id: TransferId,
        /// Who asked.
        peer: PeerId,
        /// A pull request (else an offer).
        pull: bool,
        /// What the peer was told.
        reason: String,
    },
}

/// Counters across all transfers since start.
#[derive(Debug, Default)]
pub struct TransferStats {
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) chunks_dropped: AtomicU64,
    pub(crate) chunks_corrupt: AtomicU64,
}

/// A copy of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Chunk bytes sent (including resends).
    pub bytes_sent: u64,
    /// Chunk bytes received and verified.
    pub bytes_received: u64,
    /// Transfers alive now.
    pub active: u64,
    /// Transfers completed.
    pub completed: u64,
    /// Transfers failed.
    pub failed: u64,
    /// Transfers cancelled.
    pub cancelled: u64,
    /// Offers and requests refused (by us or by limits).
    pub rejected: u64,
    /// Chunks dropped (unknown transfer, wrong peer, or not expected), counted together with
    /// control messages dropped for the same reasons, offers and requests reusing an id in
    /// use, and messages that found a transfer's queue full.
    pub chunks_dropped: u64,
    /// Chunks whose SHA-256 did not match.
    pub chunks_corrupt: u64,
}

impl TransferStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, active: u64) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            bytes_sent: g(&self.bytes_sent),
            bytes_received: g(&self.bytes_received),
            active,
            completed: g(&self.completed),
            failed: g(&self.failed),
            cancelled: g(&self.cancelled),
            rejected: g(&self.rejected),
            chunks_dropped: g(&self.chunks_dropped),
            chunks_corrupt: g(&self.chunks_corrupt),
        }
    }
}
