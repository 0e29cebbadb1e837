//! Logging, keys, the data directory with its configuration and historical peers, and the
//! connection statistics (librats' names).

use std::ffi::{c_char, c_int};
use std::path::PathBuf;

use super::{
    RATS_ERROR_INVALID_HANDLE, RATS_ERROR_INVALID_PARAMETER, RATS_ERROR_OPERATION_FAILED,
    RATS_SUCCESS, count, rats_client_t, rats_error_t, with_client,
};
use crate::client::Client;
use crate::engine::{logging as log, persist as p};
use crate::util::{block_on, c_string, c_string_array, guard, str_arg};

// ---------------------------------------------------------------- statistics

/// Connection statistics as JSON (librats' keys `total_peers`, `validated_peers`,
/// `max_peers`, `running`, `listen_port`, `our_peer_id`, `encryption_enabled`,
/// `dht_running`, `dht_routing_table_size`, `mdns_running`, plus rats'
/// `gossipsub_running`, `transfers_active`, `peers_by_method`); free it. NULL for a bad
/// handle.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_connection_statistics_json(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            let rc = c.rc().ok();
            let settings = c.settings.lock().clone();
            c_string(&p::connection_statistics(
                rc.as_deref(),
                &settings,
                &c.peer_id(),
            ))
        })
    })
}

// ---------------------------------------------------------------- logging

/// Logging on (not 0) or off, process-wide (rats-log, like librats' logger, is one per
/// process). The first logging call installs rats-log (stderr, level INFO, timestamps).
#[unsafe(no_mangle)]
pub extern "C" fn rats_set_logging_enabled(enabled: c_int) {
    guard((), || {
        log::change(|c| c.enabled = enabled != 0);
    })
}

/// The process-wide log level: `TRACE`, `DEBUG`, `INFO`, `WARN`/`WARNING`, `ERROR` (any
/// case); anything else is ignored (librats falls back to INFO).
///
/// # Safety
/// `level_str` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_log_level(level_str: *const c_char) {
    guard((), || {
        // SAFETY: the contract above.
        if let Some(level) = unsafe { str_arg(level_str) }.and_then(log::parse_level) {
            log::change(|c| c.level = level);
        }
    })
}

/// Runs `f` for a valid handle (the logging functions take a client, as librats', though
/// rats' logger is process-wide).
fn for_client(client: rats_client_t, f: impl FnOnce()) {
    if Client::get(client).is_some() {
        f();
    }
}

/// Also writes the log to `file_path` (parent directories created; "" stops writing to a
/// file). Process-wide.
///
/// # Safety
/// `file_path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_log_file_path(client: rats_client_t, file_path: *const c_char) {
    guard((), || {
        // SAFETY: the contract above.
        let Some(path) = (unsafe { str_arg(file_path) }) else {
            return;
        };
        for_client(client, || {
            log::change(|c| c.file = (!path.is_empty()).then(|| PathBuf::from(path)));
        })
    })
}

/// The log file ("" when none); free it. NULL for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_log_file_path(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |_| {
            let f = log::file(&log::config());
            c_string(
                &f.map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        })
    })
}

/// Colours on stderr on or off (process-wide; the file never gets colours).
#[unsafe(no_mangle)]
pub extern "C" fn rats_set_log_colors_enabled(client: rats_client_t, enabled: c_int) {
    guard((), || {
        for_client(client, || {
            log::change(|c| c.colors = Some(enabled != 0));
        })
    })
}

/// 1 when lines on stderr get colours (unset: when stderr is a terminal and `NO_COLOR` is
/// unset).
#[unsafe(no_mangle)]
pub extern "C" fn rats_is_log_colors_enabled(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |_| c_int::from(log::colors_on(&log::config())))
    })
}

/// Timestamps at the start of each line on or off (process-wide).
#[unsafe(no_mangle)]
pub extern "C" fn rats_set_log_timestamps_enabled(client: rats_client_t, enabled: c_int) {
    guard((), || {
        for_client(client, || {
            log::change(|c| c.timestamps = enabled != 0);
        })
    })
}

/// 1 when lines start with a timestamp (the default).
#[unsafe(no_mangle)]
pub extern "C" fn rats_is_log_timestamps_enabled(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |_| c_int::from(log::config().timestamps))
    })
}

/// Rotates the log file before it grows past `max_size_bytes` (0: never). Process-wide.
#[unsafe(no_mangle)]
pub extern "C" fn rats_set_log_rotation_size(client: rats_client_t, max_size_bytes: usize) {
    guard((), || {
        for_client(client, || {
            let size = u64::try_from(max_size_bytes).unwrap_or(u64::MAX);
            log::change(|c| c.rotation_size = size);
        })
    })
}

/// How many rotated files are kept (negative: ignored). Process-wide.
#[unsafe(no_mangle)]
pub extern "C" fn rats_set_log_retention_count(client: rats_client_t, count: c_int) {
    guard((), || {
        let Ok(n) = usize::try_from(count) else {
            return;
        };
        for_client(client, || {
            log::change(|c| c.retention_count = n);
        })
    })
}

/// Empties the log file (rotated files are kept).
#[unsafe(no_mangle)]
pub extern "C" fn rats_clear_log_file(client: rats_client_t) {
    guard((), || {
        for_client(client, || {
            log::flush();
            let _ = log::clear_file();
        })
    })
}

// ---------------------------------------------------------------- keys

/// The node's static key: the secret key of its Ed25519 identity (32 bytes, 64 hex
/// characters; Noise's static key and the peer id derive from it). Secret: free it
/// promptly. NULL for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_encryption_key(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            c_string(&p::secret_hex(&c.identity()))
        })
    })
}

/// Replaces the node's identity with the one of this secret key (64 hex characters); the
/// peer id changes with it. Before `rats_start` only (`RATS_ERROR_OPERATION_FAILED` while
/// running). `RATS_ERROR_INVALID_PARAMETER` for malformed hex.
///
/// # Safety
/// `key_hex` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_encryption_key(
    client: rats_client_t,
    key_hex: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            // SAFETY: the contract above.
            let Some(id) = (unsafe { str_arg(key_hex) }).and_then(p::identity_from_hex) else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            match c.set_identity(id) {
                Ok(()) => RATS_SUCCESS,
                Err(_) => RATS_ERROR_OPERATION_FAILED,
            }
        })
    })
}

/// Makes a fresh identity the node's (new peer id) and returns its secret key (64 hex
/// characters; free it). Before `rats_start` only: NULL while running.
#[unsafe(no_mangle)]
pub extern "C" fn rats_generate_encryption_key(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            let id = p::generate();
            let hex = p::secret_hex(&id);
            match c.set_identity(id) {
                Ok(()) => c_string(&hex),
                Err(_) => std::ptr::null_mut(),
            }
        })
    })
}

// ---------------------------------------------------------------- data directory

/// The data directory: from `rats_start` on, rats keeps the identity (`identity.key`), the
/// configuration (`config.json`, read at start) and the peer store (`peers.rats`,
/// `peers_ever.rats`) there, and locks it (one process, one client). Setting it takes its
/// identity (created if missing): the peer id changes to the directory's. Before
/// `rats_start` only; `RATS_ERROR_OPERATION_FAILED` while running or when the directory
/// cannot be created or is in use.
///
/// # Safety
/// `directory_path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_data_directory(
    client: rats_client_t,
    directory_path: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            // SAFETY: the contract above.
            let Some(dir) = (unsafe { str_arg(directory_path) }).filter(|d| !d.is_empty()) else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            if c.is_running() {
                return RATS_ERROR_OPERATION_FAILED;
            }
            let dir = PathBuf::from(dir);
            let Ok(id) = p::data_dir_identity(&dir) else {
                return RATS_ERROR_OPERATION_FAILED;
            };
            if c.set_identity(id).is_err() {
                return RATS_ERROR_OPERATION_FAILED;
            }
            c.settings.lock().data_dir = Some(dir);
            RATS_SUCCESS
        })
    })
}

/// The data directory ("" when none is set); free it. NULL for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_data_directory(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            let dir = c.settings.lock().data_dir.clone();
            c_string(
                &dir.map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        })
    })
}

fn data_dir(c: &Client) -> Option<PathBuf> {
    c.settings.lock().data_dir.clone()
}

/// Reads and checks the data directory's `config.json` (created with the defaults when
/// missing); rats applies it at `rats_start` (the setters' values win).
/// `RATS_ERROR_OPERATION_FAILED` without a data directory or for a file rats refuses.
#[unsafe(no_mangle)]
pub extern "C" fn rats_load_configuration(client: rats_client_t) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            let Some(dir) = data_dir(c) else {
                return RATS_ERROR_OPERATION_FAILED;
            };
            let settings = c.settings.lock().clone();
            match p::load_configuration(&dir, &settings) {
                Ok(()) => RATS_SUCCESS,
                Err(_) => RATS_ERROR_OPERATION_FAILED,
            }
        })
    })
}

/// Writes the setters' values (protocol name and version, max peers, `rats_set_config_json`
/// keys) into the data directory's `config.json`, keeping its other keys.
/// `RATS_ERROR_OPERATION_FAILED` without a data directory.
#[unsafe(no_mangle)]
pub extern "C" fn rats_save_configuration(client: rats_client_t) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            let Some(dir) = data_dir(c) else {
                return RATS_ERROR_OPERATION_FAILED;
            };
            let settings = c.settings.lock().clone();
            match p::save_configuration(&dir, &settings) {
                Ok(()) => RATS_SUCCESS,
                Err(_) => RATS_ERROR_OPERATION_FAILED,
            }
        })
    })
}

/// Dials the peers of the last session (and the best known ones while there are few peers)
/// in the background, with backoff; returns how many it tries (0 when not running). rats
/// also does this by itself at start.
#[unsafe(no_mangle)]
pub extern "C" fn rats_load_and_reconnect_peers(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            c.rc().map_or(0, |rc| count(p::reconnect(&rc)))
        })
    })
}

/// 1 when the data directory has a readable `peers.rats` (rats loads it at start), 0
/// otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn rats_load_historical_peers(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            c_int::from(data_dir(c).is_some_and(|d| p::peers_file_ok(&d)))
        })
    })
}

/// Saves the connected peers to `peers.rats` now (rats also saves periodically and at stop);
/// 1 on success, 0 when not running, without a data directory, or on a write error.
#[unsafe(no_mangle)]
pub extern "C" fn rats_save_historical_peers(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            let Ok(rc) = c.rc() else { return 0 };
            if !p::has_store(&rc) {
                return 0;
            }
            c_int::from(block_on(async { p::save_peers(&rc).await }) == Some(true))
        })
    })
}

/// Forgets the historical peers: stopped, `peers.rats` and `peers_ever.rats` are removed;
/// running, `peers.rats` is written empty (the running peer store keeps its table of every
/// peer seen and saves the connected peers again at its next save).
#[unsafe(no_mangle)]
pub extern "C" fn rats_clear_historical_peers(client: rats_client_t) {
    guard((), || {
        with_client(client, (), |c| {
            let Some(dir) = data_dir(c) else { return };
            let rc = c.rc().ok();
            let _ = block_on(async { p::clear_peers(rc.as_deref(), &dir).await });
        })
    })
}

/// The peers of the data directory's `peers.rats` (connected when last saved); free each
/// string and the array. NULL with count 0 when none.
///
/// # Safety
/// `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_get_historical_peer_ids(
    client: rats_client_t,
    count: *mut c_int,
) -> *mut *mut c_char {
    guard(std::ptr::null_mut(), || {
        let ids = Client::get(client)
            .and_then(|c| data_dir(&c))
            .map(|d| p::historical_peers(&d))
            .unwrap_or_default();
        // SAFETY: the contract above.
        unsafe { c_string_array(&ids, count) }
    })
}
