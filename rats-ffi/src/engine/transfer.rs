//! File and directory transfer through `RatsClient::transfers()`
//! (`rats_transfer::TransferService`).

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

use rats_engine::rats_transfer::{
    AcceptDecision, Direction, Kind, SERVICE_NAME, TransferError, TransferEvent, TransferId,
    TransferInfo, TransferService, TransferState,
};
use rats_engine::{PeerId, RatsClient};

/// An incoming offer, as shown to the C request callbacks.
pub(crate) struct Offer {
    pub id: String,
    pub peer: String,
    pub name: String,
    pub directory: bool,
}

/// The C side's answer to an offer.
pub(crate) enum Decision {
    Accept(PathBuf),
    Reject(String),
}

/// A progress report for the C progress callbacks.
pub(crate) struct TransferEv {
    pub id: String,
    /// 0..=100.
    pub percent: i32,
    /// librats' status string.
    pub status: &'static str,
    /// For a directory: files done, files in it, and the file just finished ("" if none).
    pub directory: Option<(usize, usize, String)>,
}

/// librats' status names, in the order of its `FileTransferStatus` (the progress JSON's
/// `status` number is the index).
const STATUSES: [&str; 8] = [
    "PENDING",
    "STARTING",
    "IN_PROGRESS",
    "PAUSED",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "RESUMING",
];

fn status_of(state: &TransferState) -> &'static str {
    match state {
        TransferState::Pending => "PENDING",
        TransferState::Active | TransferState::WaitingForPeer => "IN_PROGRESS",
        TransferState::Paused { .. } => "PAUSED",
        TransferState::Completed => "COMPLETED",
        TransferState::Failed(_) => "FAILED",
        _ => "CANCELLED",
    }
}

fn percent(done: u64, total: u64, finished_ok: bool) -> i32 {
    if finished_ok {
        return 100;
    }
    if total == 0 {
        return 0;
    }
    i32::try_from(done.saturating_mul(100) / total)
        .unwrap_or(100)
        .min(100)
}

fn service(rc: &RatsClient) -> Option<Arc<TransferService>> {
    rc.transfers()
}

/// The transfer service of a running client, for the event task.
pub(crate) fn service_of(rc: &RatsClient) -> Option<Arc<TransferService>> {
    service(rc)
}

fn dir_part(info: &TransferInfo, current: String) -> Option<(usize, usize, String)> {
    (info.kind == Kind::Directory).then_some((info.progress.files_done, info.files, current))
}

fn report(info: &TransferInfo, status: &'static str, current: String) -> TransferEv {
    TransferEv {
        id: info.id.to_hex(),
        percent: percent(
            info.progress.bytes_done,
            info.total_bytes,
            info.state == TransferState::Completed,
        ),
        status,
        directory: dir_part(info, current),
    }
}

/// The progress report in a service event, if it is one of the transfer service's.
pub(crate) fn from_event(
    svc: Option<&Arc<TransferService>>,
    service_name: &str,
    event: &Arc<dyn Any + Send + Sync>,
) -> Option<TransferEv> {
    if service_name != SERVICE_NAME {
        return None;
    }
    let svc = svc?;
    let lookup = |id: &TransferId| svc.transfer(*id);
    Some(match event.downcast_ref::<TransferEvent>()? {
        TransferEvent::Started(info) => report(info, "STARTING", String::new()),
        TransferEvent::Progress { id, .. } => report(&lookup(id)?, "IN_PROGRESS", String::new()),
        TransferEvent::Paused { id, .. } => report(&lookup(id)?, "PAUSED", String::new()),
        TransferEvent::Resumed { id } => report(&lookup(id)?, "RESUMING", String::new()),
        TransferEvent::FileCompleted { id, path } => {
            report(&lookup(id)?, "IN_PROGRESS", path.clone())
        }
        TransferEvent::Finished(info) => report(info, status_of(&info.state), String::new()),
        _ => return None,
    })
}

/// Sets the transfer service's accept callback: `ask` shows the offer to the C side and
/// gives the receiver of its answer (`None`: no C callback, the offer is rejected).
pub(crate) fn set_accept(
    rc: &RatsClient,
    ask: impl Fn(Offer) -> Option<tokio::sync::oneshot::Receiver<Decision>> + Send + Sync + 'static,
) {
    let Some(svc) = service(rc) else { return };
    svc.set_accept_callback(move |offer| {
        let rx = ask(Offer {
            id: offer.id.to_hex(),
            peer: offer.peer.to_string(),
            name: offer.name.clone(),
            directory: offer.kind == Kind::Directory,
        });
        async move {
            let Some(rx) = rx else {
                return AcceptDecision::Reject("no request callback".into());
            };
            match rx.await {
                Ok(Decision::Accept(p)) => AcceptDecision::Accept(p),
                Ok(Decision::Reject(r)) => AcceptDecision::Reject(r),
                Err(_) => AcceptDecision::Reject("stopped".into()),
            }
        }
    });
}

/// Why a transfer call failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransferFail {
    /// No such transfer.
    Unknown,
    /// The transfer plugin is disabled, or the operation failed.
    Failed,
}

fn fail(e: &TransferError) -> TransferFail {
    match e {
        TransferError::UnknownTransfer(_) => TransferFail::Unknown,
        _ => TransferFail::Failed,
    }
}

/// Parses a transfer id (32 hex characters).
pub(crate) fn parse_id(s: &str) -> Option<TransferId> {
    TransferId::from_hex(s)
}

/// Waits until the transfer service knows transfer `id` (an accepted offer gets its transfer
/// when the service reads the answer), at most two seconds; whether it does.
pub(crate) async fn wait_known(rc: &RatsClient, id: TransferId) -> bool {
    let Some(svc) = service(rc) else {
        return false;
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    // Polled: the service has no notification for "opened"; it takes a task switch or two.
    while svc.transfer(id).is_none() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    true
}

/// Offers a file or a directory to `peer`; the transfer id.
pub(crate) async fn send(
    rc: &RatsClient,
    peer: &PeerId,
    path: PathBuf,
    remote_name: Option<String>,
    directory: Option<bool>,
) -> Result<String, TransferFail> {
    let svc = service(rc).ok_or(TransferFail::Failed)?;
    let r = match directory {
        None => svc.send_file(peer, path, remote_name.as_deref()).await,
        Some(recursive) => {
            svc.send_directory(peer, path, remote_name.as_deref(), recursive)
                .await
        }
    };
    r.map(|id| id.to_hex()).map_err(|e| fail(&e))
}

/// Asks `peer` for its file or directory `remote`, saved to `local`; the transfer id.
pub(crate) async fn request(
    rc: &RatsClient,
    peer: &PeerId,
    remote: String,
    local: PathBuf,
    directory: bool,
) -> Result<String, TransferFail> {
    let svc = service(rc).ok_or(TransferFail::Failed)?;
    let r = if directory {
        svc.request_directory(peer, &remote, local).await
    } else {
        svc.request_file(peer, &remote, local).await
    };
    r.map(|id| id.to_hex()).map_err(|e| fail(&e))
}

/// What to do with a transfer.
pub(crate) enum Control {
    Pause,
    Resume,
    Cancel,
}

/// Pauses, resumes or cancels a transfer.
pub(crate) fn control(rc: &RatsClient, id: TransferId, what: Control) -> Result<(), TransferFail> {
    let svc = service(rc).ok_or(TransferFail::Failed)?;
    let r = match what {
        Control::Pause => svc.pause(id),
        Control::Resume => svc.resume(id),
        Control::Cancel => svc.cancel(id),
    };
    r.map_err(|e| fail(&e))
}

/// librats' progress JSON (`transfer_id`, `filename`, `local_path`, `peer_id`,
/// `bytes_transferred`, `total_bytes`, `completion_percentage`, `status` as librats'
/// number, `direction` 0 sending / 1 receiving) plus rats' `status_text`, `state`, `kind`,
/// `files`, `files_completed`, `rate_bytes_per_sec`, `eta_secs`.
pub(crate) fn progress_json(rc: &RatsClient, id: TransferId) -> Option<String> {
    let info = service(rc)?.transfer(id)?;
    let status = status_of(&info.state);
    let code = STATUSES.iter().position(|s| *s == status).unwrap_or(0);
    let p = &info.progress;
    let v = serde_json::json!({
        "transfer_id": info.id.to_hex(),
        "filename": info.name,
        "local_path": info.local_path.to_string_lossy(),
        "peer_id": info.peer.to_string(),
        "bytes_transferred": p.bytes_done,
        "total_bytes": info.total_bytes,
        "completion_percentage": f64::from(percent(p.bytes_done, info.total_bytes, info.state == TransferState::Completed)),
        "status": code,
        "direction": match info.direction { Direction::Outgoing => 0, Direction::Incoming => 1 },
        "status_text": status,
        "state": info.state.to_string(),
        "kind": if info.kind == Kind::Directory { "directory" } else { "file" },
        "files": info.files,
        "files_completed": p.files_done,
        "rate_bytes_per_sec": p.average_rate,
        "eta_secs": p.eta.map(|d| d.as_secs_f64()),
    });
    Some(v.to_string())
}

/// rats' transfer counters as JSON.
pub(crate) fn statistics_json(rc: &RatsClient) -> Option<String> {
    let svc = service(rc)?;
    let s = svc.stats();
    let v = serde_json::json!({
        "active_transfers": s.active,
        "completed_transfers": s.completed,
        "failed_transfers": s.failed,
        "cancelled_transfers": s.cancelled,
        "rejected_transfers": s.rejected,
        "total_bytes_sent": s.bytes_sent,
        "total_bytes_received": s.bytes_received,
        "chunks_dropped": s.chunks_dropped,
        "chunks_corrupt": s.chunks_corrupt,
        "transfers": svc.transfers().iter().map(|i| i.id.to_hex()).collect::<Vec<_>>(),
    });
    Some(v.to_string())
}
