//! The exported C functions, types and constants (librats' `librats_c.h`). Each function
//! catches panics (returning its failure value), checks NULL, then does the work through
//! `client` and `engine`. See the crate docs for the safety rules and the README for what
//! each function does in rats.
// The C names are librats' own.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

mod discovery;
mod gossip;
mod ice;
mod nat;
mod settings;
mod transfer;
pub use discovery::*;
pub use gossip::*;
pub use ice::*;
pub use nat::*;
pub use settings::*;
pub use transfer::*;

use crate::client::{Client, Fail, JSON_KIND};
use crate::dispatch::Slot;
use crate::engine::{self, SenderOutcome};
use crate::send_cache;
use crate::util::{Code, block_on, c_string, c_string_array, guard, set_out, str_arg};

/// Opaque handle to a client (`rats_client_t`).
pub type rats_client_t = *mut c_void;
/// librats' error codes.
pub type rats_error_t = c_int;
/// librats' connection strategies (`rats_connect_with_strategy`).
pub type rats_connection_strategy_t = c_int;

/// Success.
pub const RATS_SUCCESS: rats_error_t = 0;
/// NULL, destroyed or unknown client handle.
pub const RATS_ERROR_INVALID_HANDLE: rats_error_t = -1;
/// A NULL or malformed argument.
pub const RATS_ERROR_INVALID_PARAMETER: rats_error_t = -2;
/// The client is not started.
pub const RATS_ERROR_NOT_RUNNING: rats_error_t = -3;
/// The operation failed.
pub const RATS_ERROR_OPERATION_FAILED: rats_error_t = -4;
/// No connected peer with that id.
pub const RATS_ERROR_PEER_NOT_FOUND: rats_error_t = -5;
/// Out of memory.
pub const RATS_ERROR_MEMORY_ALLOCATION: rats_error_t = -6;
/// The argument is not valid JSON.
pub const RATS_ERROR_JSON_PARSE: rats_error_t = -7;

/// One direct dial to the address (no relay, no NAT strategies).
pub const RATS_STRATEGY_DIRECT_ONLY: rats_connection_strategy_t = 0;
/// The node's connect strategy (rats' STUN-based NAT strategies included).
pub const RATS_STRATEGY_STUN_ASSISTED: rats_connection_strategy_t = 1;
/// The node's connect strategy (rats' NAT strategies included).
pub const RATS_STRATEGY_ICE_FULL: rats_connection_strategy_t = 2;
/// The node's connect strategy (relays as configured).
pub const RATS_STRATEGY_TURN_RELAY: rats_connection_strategy_t = 3;
/// The node's connect strategy (`AUTO`: direct, relayed, then NAT strategies).
pub const RATS_STRATEGY_AUTO_ADAPTIVE: rats_connection_strategy_t = 4;

/// Called when a peer connects (`peer_id`: 64 hex characters).
pub type rats_connection_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, peer_id: *const c_char)>;
/// Called for a text message.
pub type rats_string_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, peer_id: *const c_char, message: *const c_char),
>;
/// Called for a binary message.
pub type rats_binary_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        peer_id: *const c_char,
        data: *const c_void,
        size: usize,
    ),
>;
/// Called for a JSON message (`rats_send_json`).
pub type rats_json_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, peer_id: *const c_char, json_str: *const c_char),
>;
/// Called when a peer disconnects.
pub type rats_disconnect_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, peer_id: *const c_char)>;
/// Called for a typed message (`rats_on_message`); `message_data` is its JSON.
pub type rats_message_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        peer_id: *const c_char,
        message_data: *const c_char,
    ),
>;

/// The major.minor.patch of this library (librats' numbering is its own).
const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(s) => s,
    Err(_) => c"0.0.0",
};
const GIT_DESCRIBE: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!("v", env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(s) => s,
    Err(_) => c"v0.0.0",
};
/// The C ABI's version: raised when a function's signature or meaning changes.
const ABI: u32 = 1;

pub(crate) fn with_client<R>(
    client: rats_client_t,
    none: R,
    f: impl FnOnce(&Arc<Client>) -> R,
) -> R {
    match Client::get(client) {
        Some(c) => f(&c),
        None => none,
    }
}

fn code(r: Result<(), Fail>) -> Code {
    match r {
        Ok(()) => RATS_SUCCESS,
        Err(Fail::NotRunning) => RATS_ERROR_NOT_RUNNING,
        Err(Fail::Failed) => RATS_ERROR_OPERATION_FAILED,
    }
}

pub(crate) fn count(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

/// Parses a JSON argument as librats' message exchange does: text that is not JSON is sent
/// as a JSON string.
fn json_or_string(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.to_string()))
}

// ---------------------------------------------------------------- memory and version

/// Frees a string (or array) returned by this library; NULL is ignored.
///
/// # Safety
/// `str` is NULL or a pointer returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_string_free(str: *const c_char) {
    // SAFETY: by the contract above it came from malloc (free(NULL) is a no-op).
    guard((), || unsafe { libc::free(str.cast_mut().cast()) })
}

/// The library version (a static string).
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_version_string() -> *const c_char {
    VERSION.as_ptr()
}

/// The version's parts; `build` is 0. NULL pointers are skipped.
///
/// # Safety
/// Each pointer is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_get_version(
    major: *mut c_int,
    minor: *mut c_int,
    patch: *mut c_int,
    build: *mut c_int,
) {
    guard((), || {
        let part = |s: &str| s.parse::<c_int>().unwrap_or(0);
        // SAFETY: each is NULL or writable by the contract above.
        unsafe {
            set_out(major, part(env!("CARGO_PKG_VERSION_MAJOR")));
            set_out(minor, part(env!("CARGO_PKG_VERSION_MINOR")));
            set_out(patch, part(env!("CARGO_PKG_VERSION_PATCH")));
            set_out(build, 0);
        }
    })
}

/// `v` and the version (a static string).
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_git_describe() -> *const c_char {
    GIT_DESCRIBE.as_ptr()
}

/// The C ABI version of this library (1).
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_abi() -> u32 {
    ABI
}

// ---------------------------------------------------------------- lifecycle

/// Creates a client that will listen on TCP `listen_port` (0: any free port) on IPv6 and
/// IPv4. Its peer id exists from now on; setters work before `rats_start`. NULL when the
/// port is out of range.
#[unsafe(no_mangle)]
pub extern "C" fn rats_create(listen_port: c_int) -> rats_client_t {
    guard(std::ptr::null_mut(), || {
        let Ok(port) = u16::try_from(listen_port) else {
            return std::ptr::null_mut();
        };
        Client::create(port).unwrap_or(std::ptr::null_mut())
    })
}

/// Stops the client (if running) and frees it. Safe from any thread, also from the client's
/// own callback; later calls with this handle give `RATS_ERROR_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn rats_destroy(client: rats_client_t) {
    guard((), || Client::destroy(client))
}

/// Starts the client (listening, plugins); `RATS_SUCCESS` also when already running.
#[unsafe(no_mangle)]
pub extern "C" fn rats_start(client: rats_client_t) -> c_int {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| code(c.start()))
    })
}

/// Stops the client and waits for its tasks; no callback runs after this returns. It can be
/// started again (same peer id).
#[unsafe(no_mangle)]
pub extern "C" fn rats_stop(client: rats_client_t) {
    guard((), || with_client(client, (), |c| c.stop()))
}

/// Sets rats node configuration keys before `rats_start` from a JSON object, as in rats'
/// `config.json` (for example `{"disabled_plugins": ["dht", "mdns"]}`); later calls add to
/// and override earlier ones. **rats extension.** `RATS_ERROR_JSON_PARSE` for text that is
/// not JSON, `RATS_ERROR_INVALID_PARAMETER` for a non-object or an invalid setting,
/// `RATS_ERROR_OPERATION_FAILED` while running.
///
/// # Safety
/// `json` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_config_json(client: rats_client_t, json: *const c_char) -> c_int {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            // SAFETY: the contract above.
            let Some(text) = (unsafe { str_arg(json) }) else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
                return RATS_ERROR_JSON_PARSE;
            };
            let serde_json::Value::Object(keys) = v else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            if c.is_running() {
                return RATS_ERROR_OPERATION_FAILED;
            }
            let mut settings = c.settings.lock();
            let mut all = settings.config.clone();
            all.extend(keys);
            if engine::merge_config(&Default::default(), &all).is_err() {
                return RATS_ERROR_INVALID_PARAMETER;
            }
            settings.config = all;
            RATS_SUCCESS
        })
    })
}

// ---------------------------------------------------------------- connections and info

fn connect_impl(client: rats_client_t, host: *const c_char, port: c_int, direct: bool) -> Code {
    with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
        // SAFETY: the callers' contract: `host` is NULL or NUL-terminated.
        let Some(host) = (unsafe { str_arg(host) }) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        let Ok(port) = u16::try_from(port) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        if host.is_empty() || port == 0 {
            return RATS_ERROR_INVALID_PARAMETER;
        }
        if c.ignored
            .lock()
            .iter()
            .any(|a| a == host.trim_matches(['[', ']']))
        {
            // An address of ours (rats_add_ignored_address).
            return RATS_ERROR_OPERATION_FAILED;
        }
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let Ok(rc) = c.rc() else {
            return RATS_ERROR_NOT_RUNNING;
        };
        match block_on(async move { engine::connect(&rc, &addr, direct).await }) {
            Some(Ok(_)) => RATS_SUCCESS,
            _ => RATS_ERROR_OPERATION_FAILED,
        }
    })
}

/// Connects to `host:port` and waits until the peer is connected (handshake done) or the
/// attempt failed. Returns 1 on success, 0 on failure (as librats).
///
/// # Safety
/// `host` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_connect(
    client: rats_client_t,
    host: *const c_char,
    port: c_int,
) -> c_int {
    guard(0, || {
        c_int::from(connect_impl(client, host, port, false) == RATS_SUCCESS)
    })
}

/// Connects with a librats strategy: `RATS_STRATEGY_DIRECT_ONLY` dials the address once,
/// directly; the others use the node's connect strategy (`connect_strategy` setting).
///
/// # Safety
/// `host` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_connect_with_strategy(
    client: rats_client_t,
    host: *const c_char,
    port: c_int,
    strategy: rats_connection_strategy_t,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        if !(RATS_STRATEGY_DIRECT_ONLY..=RATS_STRATEGY_AUTO_ADAPTIVE).contains(&strategy) {
            return if Client::get(client).is_none() {
                RATS_ERROR_INVALID_HANDLE
            } else {
                RATS_ERROR_INVALID_PARAMETER
            };
        }
        connect_impl(client, host, port, strategy == RATS_STRATEGY_DIRECT_ONLY)
    })
}

/// The TCP port the client listens on: the real one after starting on port 0; before start
/// the port given to `rats_create`. 0 for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_listen_port(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| match c.rc() {
            Ok(rc) => engine::listen_port(&rc).map_or(0, c_int::from),
            Err(_) => c_int::from(c.settings.lock().port),
        })
    })
}

pub(crate) fn peer_arg(p: *const c_char) -> Result<rats_engine::PeerId, Code> {
    // SAFETY: the callers' contract: `p` is NULL or NUL-terminated.
    let s = unsafe { str_arg(p) }.ok_or(RATS_ERROR_INVALID_PARAMETER)?;
    engine::parse_peer(s).ok_or(RATS_ERROR_INVALID_PARAMETER)
}

/// Disconnects a peer. `RATS_ERROR_PEER_NOT_FOUND` if it is not connected.
///
/// # Safety
/// `peer_id` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_disconnect_peer_by_id(
    client: rats_client_t,
    peer_id: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            let peer = match peer_arg(peer_id) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let Ok(rc) = c.rc() else {
                return RATS_ERROR_NOT_RUNNING;
            };
            if engine::disconnect(&rc, &peer) {
                RATS_SUCCESS
            } else {
                RATS_ERROR_PEER_NOT_FOUND
            }
        })
    })
}

/// Number of connected peers (0 when not running or for a bad handle).
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_peer_count(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            c.rc().map_or(0, |rc| count(engine::peer_count(&rc)))
        })
    })
}

/// Our peer id (64 hex characters, from `rats_create` on); free it. NULL for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_our_peer_id(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| c_string(&c.peer_id()))
    })
}

fn peer_list(client: rats_client_t, out: *mut c_int) -> *mut *mut c_char {
    let ids = Client::get(client)
        .and_then(|c| c.rc().ok())
        .map(|rc| engine::peer_ids(&rc))
        .unwrap_or_default();
    // SAFETY: the callers' contract: `out` is NULL or writable.
    unsafe { c_string_array(&ids, out) }
}

/// Connected peers' ids; `*count` gets their number. Free each string and the array. NULL
/// with count 0 when there are none.
///
/// # Safety
/// `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_get_peer_ids(
    client: rats_client_t,
    count: *mut c_int,
) -> *mut *mut c_char {
    guard(std::ptr::null_mut(), || peer_list(client, count))
}

/// Same as `rats_get_peer_ids`: every rats peer is authenticated (Noise) before it counts
/// as connected.
///
/// # Safety
/// `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_get_validated_peer_ids(
    client: rats_client_t,
    count: *mut c_int,
) -> *mut *mut c_char {
    guard(std::ptr::null_mut(), || peer_list(client, count))
}

/// A connected peer as JSON (librats' keys `peer_id`, `ip`, `port`, `is_outgoing`,
/// `handshake_completed`, `version`, `encryption_enabled`, and rats' `connection_method`,
/// `transport`, `address`, `rtt_ms`); free it. NULL if not connected.
///
/// # Safety
/// `peer_id` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_get_peer_info_json(
    client: rats_client_t,
    peer_id: *const c_char,
) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        let info = Client::get(client)
            .and_then(|c| c.rc().ok())
            .zip(peer_arg(peer_id).ok())
            .and_then(|(rc, peer)| engine::peer_info_json(&rc, &peer));
        info.map_or(std::ptr::null_mut(), |s| c_string(&s))
    })
}

/// 1 if the connection to the peer is encrypted (Noise), 0 if not or not connected.
///
/// # Safety
/// `peer_id` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_is_peer_encrypted(
    client: rats_client_t,
    peer_id: *const c_char,
) -> c_int {
    guard(0, || {
        let enc = Client::get(client)
            .and_then(|c| c.rc().ok())
            .zip(peer_arg(peer_id).ok())
            .and_then(|(rc, peer)| engine::is_peer_encrypted(&rc, &peer));
        c_int::from(enc == Some(true))
    })
}

// ---------------------------------------------------------------- settings

/// Most peers (pending handshakes count too). Before `rats_start` only: while running,
/// `RATS_ERROR_OPERATION_FAILED` (rats fixes the limit at start).
#[unsafe(no_mangle)]
pub extern "C" fn rats_set_max_peers(client: rats_client_t, max_peers: c_int) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            let Ok(n) = usize::try_from(max_peers) else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            if n == 0 {
                return RATS_ERROR_INVALID_PARAMETER;
            }
            if c.is_running() {
                return RATS_ERROR_OPERATION_FAILED;
            }
            c.settings.lock().max_peers = Some(n);
            RATS_SUCCESS
        })
    })
}

/// The max-peers setting (rats' default 128 unless set). 0 for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_max_peers(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            count(c.settings.lock().effective_max_peers())
        })
    })
}

/// 1 when the number of connected peers has reached the max-peers setting.
#[unsafe(no_mangle)]
pub extern "C" fn rats_is_peer_limit_reached(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            let max = c.settings.lock().effective_max_peers();
            let n = c.rc().map_or(0, |rc| engine::peer_count(&rc));
            c_int::from(c.is_running() && n >= max)
        })
    })
}

fn set_protocol(client: rats_client_t, value: *const c_char, version: bool) -> rats_error_t {
    with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
        // SAFETY: the callers' contract: `value` is NULL or NUL-terminated.
        let Some(v) = (unsafe { str_arg(value) }) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        if v.trim().is_empty() {
            return RATS_ERROR_INVALID_PARAMETER;
        }
        if c.is_running() {
            return RATS_ERROR_OPERATION_FAILED;
        }
        let mut s = c.settings.lock();
        if version {
            s.protocol_version = v.to_string();
        } else {
            s.protocol_name = v.to_string();
        }
        RATS_SUCCESS
    })
}

/// The application protocol name (peers connect only when name and version match; bound
/// into the Noise handshake). Before `rats_start` only.
///
/// # Safety
/// `protocol_name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_protocol_name(
    client: rats_client_t,
    protocol_name: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        set_protocol(client, protocol_name, false)
    })
}

/// The application protocol version. Before `rats_start` only.
///
/// # Safety
/// `protocol_version` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_protocol_version(
    client: rats_client_t,
    protocol_version: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        set_protocol(client, protocol_version, true)
    })
}

/// The application protocol name; free it.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_protocol_name(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            c_string(&c.settings.lock().protocol_name)
        })
    })
}

/// The application protocol version; free it.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_protocol_version(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            c_string(&c.settings.lock().protocol_version)
        })
    })
}

/// Noise encryption on (default) or off (`0`: plaintext, debugging only; both peers must
/// agree). Before `rats_start` only.
#[unsafe(no_mangle)]
pub extern "C" fn rats_set_encryption_enabled(
    client: rats_client_t,
    enabled: c_int,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            if c.is_running() {
                return RATS_ERROR_OPERATION_FAILED;
            }
            c.settings.lock().plaintext = enabled == 0;
            RATS_SUCCESS
        })
    })
}

/// 1 when connections are encrypted (Noise XX; the default).
#[unsafe(no_mangle)]
pub extern "C" fn rats_is_encryption_enabled(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| c_int::from(!c.settings.lock().plaintext))
    })
}

// ---------------------------------------------------------------- messages

fn send_to(
    client: rats_client_t,
    peer_id: *const c_char,
    f: impl FnOnce(Arc<rats_engine::RatsClient>, rats_engine::PeerId) -> Option<bool>,
) -> Code {
    with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
        let peer = match peer_arg(peer_id) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let Ok(rc) = c.rc() else {
            return RATS_ERROR_NOT_RUNNING;
        };
        if !engine::is_connected(&rc, &peer) {
            return RATS_ERROR_PEER_NOT_FOUND;
        }
        match f(rc, peer) {
            Some(true) => RATS_SUCCESS,
            _ => RATS_ERROR_OPERATION_FAILED,
        }
    })
}

/// Sends a text message to a peer (waits while its send queue is full).
///
/// # Safety
/// `peer_id` and `message` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_send_string(
    client: rats_client_t,
    peer_id: *const c_char,
    message: *const c_char,
) -> c_int {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        // SAFETY: the contract above.
        let msg = unsafe { str_arg(message) };
        if Client::get(client).is_some() && msg.is_none() {
            return RATS_ERROR_INVALID_PARAMETER;
        }
        let msg = msg.unwrap_or_default().to_string();
        send_to(client, peer_id, move |rc, peer| {
            block_on(async move { engine::send_string(&rc, &peer, &msg).await })
        })
    })
}

/// Sends a text message to every connected peer; returns how many (0 on error).
///
/// # Safety
/// `message` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_broadcast_string(
    client: rats_client_t,
    message: *const c_char,
) -> c_int {
    guard(0, || {
        // SAFETY: the contract above.
        let Some(msg) = (unsafe { str_arg(message) }) else {
            return 0;
        };
        with_client(client, 0, |c| {
            c.rc()
                .ok()
                .and_then(|rc| engine::broadcast_string(&rc, msg))
                .map_or(0, count)
        })
    })
}

/// Sends `size` bytes to a peer. `RATS_ERROR_INVALID_PARAMETER` for NULL data or size 0.
///
/// # Safety
/// `peer_id` is NULL or a NUL-terminated string; `data` is NULL or valid for `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_send_binary(
    client: rats_client_t,
    peer_id: *const c_char,
    data: *const c_void,
    size: usize,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        if !data.is_null() && size > 0 && !peer_id.is_null() {
            // SAFETY: non-NULL and valid for `size` bytes by the contract; only read during
            // this call. `peer_id` is non-NULL and NUL-terminated.
            let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) };
            if unsafe { send_cache::try_send(client.addr(), peer_id, bytes) } {
                return RATS_SUCCESS;
            }
        }
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            if data.is_null() || size == 0 {
                return RATS_ERROR_INVALID_PARAMETER;
            }
            let peer = match peer_arg(peer_id) {
                Ok(p) => p,
                Err(e) => return e,
            };
            // SAFETY: as above.
            let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) };
            // The cached sender may belong to a connection that was replaced: one retry
            // with a fresh one.
            for _ in 0..2 {
                let (tx, epoch) = match c.binary_sender(&peer) {
                    Ok(Some(found)) => found,
                    Ok(None) => return RATS_ERROR_PEER_NOT_FOUND,
                    Err(e) => return code(Err(e)),
                };
                match engine::send_with(&tx, bytes) {
                    SenderOutcome::Sent => {
                        // SAFETY: `peer_id` parsed above: non-NULL and NUL-terminated.
                        unsafe {
                            send_cache::remember(
                                client.addr(),
                                peer_id,
                                c.shared.clone(),
                                epoch,
                                tx,
                            )
                        };
                        return RATS_SUCCESS;
                    }
                    SenderOutcome::Failed => return RATS_ERROR_OPERATION_FAILED,
                    SenderOutcome::Stale => c.forget_sender(&peer),
                }
            }
            RATS_ERROR_PEER_NOT_FOUND
        })
    })
}

/// Sends `size` bytes to every connected peer; returns how many (0 on error).
///
/// # Safety
/// `data` is NULL or valid for `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_broadcast_binary(
    client: rats_client_t,
    data: *const c_void,
    size: usize,
) -> c_int {
    guard(0, || {
        if data.is_null() || size == 0 {
            return 0;
        }
        with_client(client, 0, |c| {
            let Ok(rc) = c.rc() else { return 0 };
            // SAFETY: non-NULL and valid for `size` bytes by the contract above.
            let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) };
            engine::broadcast_binary(&rc, bytes).map_or(0, count)
        })
    })
}

/// Sends a JSON document to a peer (a rats typed message of type `json`; the peer's JSON
/// callback gets it). `RATS_ERROR_JSON_PARSE` if `json_str` is not JSON.
///
/// # Safety
/// `peer_id` and `json_str` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_send_json(
    client: rats_client_t,
    peer_id: *const c_char,
    json_str: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        if Client::get(client).is_none() {
            return RATS_ERROR_INVALID_HANDLE;
        }
        // SAFETY: the contract above.
        let Some(text) = (unsafe { str_arg(json_str) }) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return RATS_ERROR_JSON_PARSE;
        };
        send_to(client, peer_id, move |rc, peer| {
            block_on(async move { engine::send_typed(&rc, &peer, JSON_KIND, &v).await })
        })
    })
}

/// Sends a JSON document to every connected peer; returns how many (0 on error or for text
/// that is not JSON).
///
/// # Safety
/// `json_str` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_broadcast_json(
    client: rats_client_t,
    json_str: *const c_char,
) -> c_int {
    guard(0, || {
        // SAFETY: the contract above.
        let Some(text) = (unsafe { str_arg(json_str) }) else {
            return 0;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return 0;
        };
        with_client(client, 0, |c| {
            c.rc()
                .ok()
                .and_then(|rc| engine::broadcast_typed(&rc, JSON_KIND, &v))
                .map_or(0, count)
        })
    })
}

/// Calls `callback` for every message of `message_type` (`message_data`: its JSON). Replaces
/// an earlier callback for the type. Works before and after `rats_start`.
///
/// # Safety
/// `message_type` is NULL or a NUL-terminated string; `callback` is NULL or a function of
/// this type, callable from another thread with `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_on_message(
    client: rats_client_t,
    message_type: *const c_char,
    callback: rats_message_cb,
    user_data: *mut c_void,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            // SAFETY: the contract above.
            let Some(kind) = (unsafe { str_arg(message_type) }) else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            if callback.is_none() || kind.is_empty() || kind.len() > 255 {
                return RATS_ERROR_INVALID_PARAMETER;
            }
            let slot = Slot {
                f: callback,
                ud: user_data.expose_provenance(),
            };
            c.shared
                .callbacks
                .lock()
                .messages
                .insert(kind.to_string(), slot);
            c.ensure_typed(kind);
            RATS_SUCCESS
        })
    })
}

/// Sends a typed message to a peer; `data` is JSON (text that is not JSON is sent as a JSON
/// string, as librats does).
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_send_message(
    client: rats_client_t,
    peer_id: *const c_char,
    message_type: *const c_char,
    data: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        if Client::get(client).is_none() {
            return RATS_ERROR_INVALID_HANDLE;
        }
        // SAFETY: the contract above.
        let (Some(kind), Some(data)) = (unsafe { str_arg(message_type) }, unsafe { str_arg(data) })
        else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        if kind.is_empty() || kind.len() > 255 {
            return RATS_ERROR_INVALID_PARAMETER;
        }
        let v = json_or_string(data);
        let kind = kind.to_string();
        send_to(client, peer_id, move |rc, peer| {
            block_on(async move { engine::send_typed(&rc, &peer, &kind, &v).await })
        })
    })
}

/// Sends a typed message to every connected peer (`RATS_SUCCESS` also with no peers).
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_broadcast_message(
    client: rats_client_t,
    message_type: *const c_char,
    data: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            // SAFETY: the contract above.
            let (Some(kind), Some(data)) =
                (unsafe { str_arg(message_type) }, unsafe { str_arg(data) })
            else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            if kind.is_empty() || kind.len() > 255 {
                return RATS_ERROR_INVALID_PARAMETER;
            }
            let Ok(rc) = c.rc() else {
                return RATS_ERROR_NOT_RUNNING;
            };
            match engine::broadcast_typed(&rc, kind, &json_or_string(data)) {
                Some(_) => RATS_SUCCESS,
                None => RATS_ERROR_OPERATION_FAILED,
            }
        })
    })
}

// ---------------------------------------------------------------- callbacks

macro_rules! setter {
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
                with_client(client, (), |c| {
                    c.shared.callbacks.lock().$field = cb.map(|f| Slot {
                        f: Some(f),
                        ud: user_data.expose_provenance(),
                    });
                })
            })
        }
    };
}

setter!(
    /// Calls `cb(user_data, peer_id)` when a peer connects.
    rats_set_connection_callback,
    rats_connection_cb,
    connection
);
setter!(
    /// Calls `cb(user_data, peer_id, message)` for every text message.
    rats_set_string_callback,
    rats_string_cb,
    string
);
setter!(
    /// Calls `cb(user_data, peer_id, data, size)` for every binary message.
    rats_set_binary_callback,
    rats_binary_cb,
    binary
);
setter!(
    /// Calls `cb(user_data, peer_id, json_str)` for every JSON message (`rats_send_json`).
    rats_set_json_callback,
    rats_json_cb,
    json
);
setter!(
    /// Calls `cb(user_data, peer_id)` when a peer disconnects.
    rats_set_disconnect_callback,
    rats_disconnect_cb,
    disconnect
);
