//! File and directory transfer (librats' names), on `RatsClient::transfers()`.

use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;

use super::{
    RATS_ERROR_INVALID_HANDLE, RATS_ERROR_INVALID_PARAMETER, RATS_ERROR_NOT_RUNNING,
    RATS_ERROR_OPERATION_FAILED, RATS_SUCCESS, peer_arg, rats_client_t, rats_error_t, with_client,
};
use crate::client::Client;
use crate::dispatch::Slot;
use crate::engine;
use crate::engine::transfer::{self as t, Control, Decision, TransferFail};
use crate::util::{block_on, c_string, guard, str_arg};

/// Called when a peer offers a file: answer with `rats_accept_file_transfer` or
/// `rats_reject_file_transfer` (`remote_path` and `filename`: the offered name).
pub type rats_file_request_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        peer_id: *const c_char,
        transfer_id: *const c_char,
        remote_path: *const c_char,
        filename: *const c_char,
    ),
>;
/// Called when a peer offers a directory: answer with `rats_accept_directory_transfer` or
/// `rats_reject_directory_transfer`.
pub type rats_directory_request_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        peer_id: *const c_char,
        transfer_id: *const c_char,
        remote_path: *const c_char,
        directory_name: *const c_char,
    ),
>;
/// Progress of a directory transfer: files done of all, and the file just finished.
pub type rats_directory_progress_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        transfer_id: *const c_char,
        files_completed: c_int,
        total_files: c_int,
        current_file: *const c_char,
    ),
>;
/// Progress of any transfer: percent and librats' status string.
pub type rats_file_progress_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        transfer_id: *const c_char,
        progress_percent: c_int,
        status: *const c_char,
    ),
>;

/// Starts an outgoing transfer or a pull; the id or NULL.
fn start_transfer(
    client: rats_client_t,
    peer_id: *const c_char,
    f: impl FnOnce(std::sync::Arc<rats_engine::RatsClient>, rats_engine::PeerId) -> Option<String>,
) -> *mut c_char {
    let Some(c) = Client::get(client) else {
        return std::ptr::null_mut();
    };
    let (Ok(rc), Ok(peer)) = (c.rc(), peer_arg(peer_id)) else {
        return std::ptr::null_mut();
    };
    if !engine::is_connected(&rc, &peer) {
        return std::ptr::null_mut();
    }
    f(rc, peer).map_or(std::ptr::null_mut(), |id| c_string(&id))
}

/// Offers a file to a connected peer (under `remote_filename`, or its own name when NULL or
/// empty). Returns the transfer id (32 hex characters; free it) once the offer is sent, or
/// NULL (bad arguments, not running, peer not connected, file unreadable).
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_send_file(
    client: rats_client_t,
    peer_id: *const c_char,
    file_path: *const c_char,
    remote_filename: *const c_char,
) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        // SAFETY: the contract above.
        let (Some(path), name) = (unsafe { str_arg(file_path) }, unsafe {
            str_arg(remote_filename)
        }) else {
            return std::ptr::null_mut();
        };
        let path = PathBuf::from(path);
        let name = name.filter(|n| !n.is_empty()).map(str::to_string);
        start_transfer(client, peer_id, move |rc, peer| {
            block_on(async move { t::send(&rc, &peer, path, name, None).await })?.ok()
        })
    })
}

/// Offers a directory to a connected peer (subdirectories too when `recursive` is not 0;
/// symbolic links are skipped). Returns the transfer id (free it) or NULL.
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_send_directory(
    client: rats_client_t,
    peer_id: *const c_char,
    directory_path: *const c_char,
    remote_directory_name: *const c_char,
    recursive: c_int,
) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        // SAFETY: the contract above.
        let (Some(path), name) = (unsafe { str_arg(directory_path) }, unsafe {
            str_arg(remote_directory_name)
        }) else {
            return std::ptr::null_mut();
        };
        let path = PathBuf::from(path);
        let name = name.filter(|n| !n.is_empty()).map(str::to_string);
        start_transfer(client, peer_id, move |rc, peer| {
            block_on(async move { t::send(&rc, &peer, path, name, Some(recursive != 0)).await })?
                .ok()
        })
    })
}

fn request_impl(
    client: rats_client_t,
    peer_id: *const c_char,
    remote: *const c_char,
    local: *const c_char,
    directory: bool,
) -> *mut c_char {
    // SAFETY: the callers' contract: NULL or NUL-terminated strings.
    let (Some(remote), Some(local)) = (unsafe { str_arg(remote) }, unsafe { str_arg(local) })
    else {
        return std::ptr::null_mut();
    };
    if remote.is_empty() || local.is_empty() {
        return std::ptr::null_mut();
    }
    let (remote, local) = (remote.to_string(), PathBuf::from(local));
    start_transfer(client, peer_id, move |rc, peer| {
        block_on(async move { t::request(&rc, &peer, remote, local, directory).await })?.ok()
    })
}

/// Asks a connected peer for its file `remote_file_path` (relative to what it shares: its
/// `transfer.shared_root`), saved to `local_path`. Returns the transfer id (free it) or NULL.
/// The peer may refuse; the progress callback then reports `FAILED`.
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_request_file(
    client: rats_client_t,
    peer_id: *const c_char,
    remote_file_path: *const c_char,
    local_path: *const c_char,
) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        request_impl(client, peer_id, remote_file_path, local_path, false)
    })
}

/// Asks a connected peer for its directory `remote_directory_path`, saved as
/// `local_directory_path`. rats always pulls the whole tree (`recursive` is not used).
/// Returns the transfer id (free it) or NULL.
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_request_directory(
    client: rats_client_t,
    peer_id: *const c_char,
    remote_directory_path: *const c_char,
    local_directory_path: *const c_char,
    recursive: c_int,
) -> *mut c_char {
    let _ = recursive;
    guard(std::ptr::null_mut(), || {
        request_impl(
            client,
            peer_id,
            remote_directory_path,
            local_directory_path,
            true,
        )
    })
}

/// Answers a waiting offer.
fn answer(
    client: rats_client_t,
    transfer_id: *const c_char,
    directory: bool,
    decision: impl FnOnce() -> Option<Decision>,
) -> rats_error_t {
    with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
        // SAFETY: the callers' contract: `transfer_id` is NULL or NUL-terminated.
        let Some(id) = (unsafe { str_arg(transfer_id) }) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        let Some(decision) = decision() else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        if !c.is_running() {
            return RATS_ERROR_NOT_RUNNING;
        }
        let mut pending = c.shared.pending.lock();
        match pending.get(id) {
            None => return RATS_ERROR_OPERATION_FAILED,
            Some((d, _)) if *d != directory => return RATS_ERROR_INVALID_PARAMETER,
            Some(_) => {}
        }
        let Some((_, tx)) = pending.remove(id) else {
            return RATS_ERROR_OPERATION_FAILED;
        };
        drop(pending);
        let accepted = matches!(decision, Decision::Accept(_));
        if tx.send(decision).is_err() {
            // The offer timed out meanwhile.
            return RATS_ERROR_OPERATION_FAILED;
        }
        // The service opens the transfer when it reads the answer: wait (briefly) for that,
        // so that progress, pause and cancel work on the id as soon as this returns.
        if accepted && let (Ok(rc), Some(tid)) = (c.rc(), t::parse_id(id)) {
            let _ = block_on(async move { t::wait_known(&rc, tid).await });
        }
        RATS_SUCCESS
    })
}

fn accept_path(local_path: *const c_char) -> Option<Decision> {
    // SAFETY: the callers' contract: `local_path` is NULL or NUL-terminated.
    let p = unsafe { str_arg(local_path) }?;
    (!p.is_empty()).then(|| Decision::Accept(PathBuf::from(p)))
}

fn reject_reason(reason: *const c_char) -> Option<Decision> {
    // SAFETY: the callers' contract: `reason` is NULL or NUL-terminated.
    let r = unsafe { str_arg(reason) }.unwrap_or("rejected");
    Some(Decision::Reject(r.to_string()))
}

/// Accepts a file offered to us (announced by the file request callback); the file is saved
/// as `local_path` (an existing file there is replaced). `RATS_ERROR_OPERATION_FAILED` when
/// no such offer waits (unknown, answered, or timed out after `transfer.offer_timeout_ms`).
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_accept_file_transfer(
    client: rats_client_t,
    transfer_id: *const c_char,
    local_path: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        answer(client, transfer_id, false, || accept_path(local_path))
    })
}

/// Refuses a file offered to us; the sender sees `reason` (NULL: "rejected").
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_reject_file_transfer(
    client: rats_client_t,
    transfer_id: *const c_char,
    reason: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        answer(client, transfer_id, false, || reject_reason(reason))
    })
}

/// Accepts a directory offered to us; its root is saved as `local_path`.
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_accept_directory_transfer(
    client: rats_client_t,
    transfer_id: *const c_char,
    local_path: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        answer(client, transfer_id, true, || accept_path(local_path))
    })
}

/// Refuses a directory offered to us.
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_reject_directory_transfer(
    client: rats_client_t,
    transfer_id: *const c_char,
    reason: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        answer(client, transfer_id, true, || reject_reason(reason))
    })
}

fn control(client: rats_client_t, transfer_id: *const c_char, what: Control) -> rats_error_t {
    with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
        // SAFETY: the callers' contract: `transfer_id` is NULL or NUL-terminated.
        let Some(id) = (unsafe { str_arg(transfer_id) }).and_then(t::parse_id) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        let Ok(rc) = c.rc() else {
            return RATS_ERROR_NOT_RUNNING;
        };
        match t::control(&rc, id, what) {
            Ok(()) => RATS_SUCCESS,
            Err(TransferFail::Unknown | TransferFail::Failed) => RATS_ERROR_OPERATION_FAILED,
        }
    })
}

/// Cancels a transfer on both sides (temporary data removed).
/// `RATS_ERROR_OPERATION_FAILED` for an unknown or finished transfer.
///
/// # Safety
/// `transfer_id` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_cancel_file_transfer(
    client: rats_client_t,
    transfer_id: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        control(client, transfer_id, Control::Cancel)
    })
}

/// Pauses a transfer (the peer is told and stops sending).
///
/// # Safety
/// `transfer_id` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_pause_file_transfer(
    client: rats_client_t,
    transfer_id: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        control(client, transfer_id, Control::Pause)
    })
}

/// Lifts our pause of a transfer (a pause the peer set is the peer's to lift:
/// `RATS_ERROR_OPERATION_FAILED`).
///
/// # Safety
/// `transfer_id` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_resume_file_transfer(
    client: rats_client_t,
    transfer_id: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        control(client, transfer_id, Control::Resume)
    })
}

/// A transfer's progress as JSON (librats' keys and rats' extras; see the README); free it.
/// NULL for an unknown transfer.
///
/// # Safety
/// `transfer_id` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_get_file_transfer_progress_json(
    client: rats_client_t,
    transfer_id: *const c_char,
) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        // SAFETY: the contract above.
        let id = unsafe { str_arg(transfer_id) }.and_then(t::parse_id);
        Client::get(client)
            .and_then(|c| c.rc().ok())
            .zip(id)
            .and_then(|(rc, id)| t::progress_json(&rc, id))
            .map_or(std::ptr::null_mut(), |s| c_string(&s))
    })
}

/// Counters across transfers as JSON; free it. NULL for a bad handle or a client not
/// running.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_file_transfer_statistics_json(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        Client::get(client)
            .and_then(|c| c.rc().ok())
            .and_then(|rc| t::statistics_json(&rc))
            .map_or(std::ptr::null_mut(), |s| c_string(&s))
    })
}

macro_rules! transfer_setter {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $field:ident) => {
        $(#[$doc])*
        ///
        /// Runs on the client's callback thread; NULL removes it. Works before and after
        /// `rats_start`.
        ///
        /// # Safety
        /// `cb` is NULL or a function of this type that may be called from another thread
        /// with `user_data` until it is replaced or the client is stopped.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(client: rats_client_t, cb: $ty, user_data: *mut c_void) {
            guard((), || {
                if let Some(c) = Client::get(client) {
                    c.shared.callbacks.lock().$field = cb.map(|f| Slot {
                        f: Some(f),
                        ud: user_data.expose_provenance(),
                    });
                }
            })
        }
    };
}

transfer_setter!(
    /// Calls `cb(user_data, peer_id, transfer_id, remote_path, filename)` when a peer offers
    /// a file; answer with `rats_accept_file_transfer` / `rats_reject_file_transfer`. Without
    /// this callback file offers are refused.
    rats_set_file_request_callback,
    rats_file_request_cb,
    file_request
);
transfer_setter!(
    /// Calls `cb(user_data, peer_id, transfer_id, remote_path, directory_name)` when a peer
    /// offers a directory; answer with `rats_accept_directory_transfer` /
    /// `rats_reject_directory_transfer`. Without this callback directory offers are refused.
    rats_set_directory_request_callback,
    rats_directory_request_cb,
    directory_request
);
transfer_setter!(
    /// Calls `cb(user_data, transfer_id, progress_percent, status)` as transfers (files and
    /// directories, both directions) move; `status` is librats' `STARTING`, `IN_PROGRESS`,
    /// `PAUSED`, `RESUMING`, `COMPLETED`, `FAILED` or `CANCELLED`.
    rats_set_file_progress_callback,
    rats_file_progress_cb,
    file_progress
);
transfer_setter!(
    /// Calls `cb(user_data, transfer_id, files_completed, total_files, current_file)` for
    /// directory transfers: when one starts, as each file is completed (its relative path),
    /// and on progress and the end (`current_file` "").
    rats_set_directory_progress_callback,
    rats_directory_progress_cb,
    directory_progress
);
