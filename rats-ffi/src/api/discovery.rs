//! DHT, automatic discovery, mDNS and the discovered-peer callback (librats' names).
//!
//! rats starts these plugins with the node from its configuration. Before `rats_start` the
//! start/stop functions therefore switch the plugin on or off for the start (and set its
//! port or name); while running they start or stop the running plugin.

use std::ffi::{c_char, c_int, c_void};

use super::{
    RATS_ERROR_INVALID_HANDLE, RATS_ERROR_INVALID_PARAMETER, RATS_ERROR_NOT_RUNNING,
    RATS_ERROR_OPERATION_FAILED, RATS_SUCCESS, rats_client_t, rats_error_t, with_client,
};
use crate::client::Client;
use crate::dispatch::Slot;
use crate::engine::discovery as d;
use crate::util::{block_on, c_string, c_string_array, guard, set_out, str_arg};

/// Called when a discovery mechanism finds a peer: its address and the mechanism (`dht`,
/// `mdns`, `exchange`, ...).
pub type rats_peer_discovered_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        host: *const c_char,
        port: c_int,
        service_name: *const c_char,
    ),
>;

// ---------------------------------------------------------------- DHT

/// Starts the BitTorrent DHT. Before `rats_start`: switches the `dht` plugin on for the start
/// and sets its UDP port (`dht.port`; 0: any free port). While running: starts the DHT again
/// if it was stopped (its port is the one it started with). `RATS_ERROR_OPERATION_FAILED`
/// while running when the plugin is switched off.
#[unsafe(no_mangle)]
pub extern "C" fn rats_start_dht_discovery(client: rats_client_t, dht_port: c_int) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            let Ok(port) = u16::try_from(dht_port) else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            match c.rc() {
                Ok(rc) => {
                    if d::has_dht(&rc) && block_on(async { d::start_dht(&rc).await }) == Some(true)
                    {
                        RATS_SUCCESS
                    } else {
                        RATS_ERROR_OPERATION_FAILED
                    }
                }
                Err(_) => {
                    let mut s = c.settings.lock();
                    d::set_plugin_enabled(&mut s, "dht", true);
                    d::set_section_key(&mut s, "dht", "port", serde_json::json!(port));
                    RATS_SUCCESS
                }
            }
        })
    })
}

/// Stops the DHT (its routing table is saved in the data directory, if any). Before
/// `rats_start`: switches the `dht` plugin off for the start.
#[unsafe(no_mangle)]
pub extern "C" fn rats_stop_dht_discovery(client: rats_client_t) {
    guard((), || {
        with_client(client, (), |c| match c.rc() {
            Ok(rc) => {
                let _ = block_on(async { d::stop_dht(&rc).await });
            }
            Err(_) => d::set_plugin_enabled(&mut c.settings.lock(), "dht", false),
        })
    })
}

/// 1 when the DHT runs.
#[unsafe(no_mangle)]
pub extern "C" fn rats_is_dht_running(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            c_int::from(c.rc().is_ok_and(|rc| d::dht_running(&rc)))
        })
    })
}

/// Announces a peer under `content_hash` (40 hex characters) in the DHT: `port` > 0
/// announces that port, `port` <= 0 our TCP listen port (the address is the one the DHT
/// nodes see). Waits for the announce; `RATS_ERROR_OPERATION_FAILED` when no DHT node took
/// it (or the DHT is not running).
///
/// # Safety
/// `content_hash` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_announce_for_hash(
    client: rats_client_t,
    content_hash: *const c_char,
    port: c_int,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            // SAFETY: the contract above.
            let Some(hash) = (unsafe { str_arg(content_hash) })
                .filter(|h| h.len() == 40)
                .and_then(d::parse_hash)
            else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            let port = if port <= 0 {
                None
            } else {
                match u16::try_from(port) {
                    Ok(p) => Some(p),
                    Err(_) => return RATS_ERROR_INVALID_PARAMETER,
                }
            };
            let Ok(rc) = c.rc() else {
                return RATS_ERROR_NOT_RUNNING;
            };
            match block_on(async { d::announce(&rc, hash, port).await }) {
                Some(Some(n)) if n > 0 => RATS_SUCCESS,
                _ => RATS_ERROR_OPERATION_FAILED,
            }
        })
    })
}

/// Nodes in the DHT routing tables (0 when not running).
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_dht_routing_table_size(client: rats_client_t) -> usize {
    guard(0, || {
        with_client(client, 0, |c| {
            c.rc().map_or(0, |rc| d::routing_table_size(&rc))
        })
    })
}

/// Looks `content_hash` (40 hex characters) up in the DHT and returns the peers found as
/// `ip:port` strings (`[v6]:port` for IPv6); free each string and the array. NULL with
/// count 0 when none were found, the DHT is not running, or for bad arguments. **rats
/// extension** (librats finds peers only inside its automatic discovery).
///
/// # Safety
/// `content_hash` is NULL or a NUL-terminated string; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_find_peers_for_hash(
    client: rats_client_t,
    content_hash: *const c_char,
    count: *mut c_int,
) -> *mut *mut c_char {
    guard(std::ptr::null_mut(), || {
        // SAFETY: the contract above.
        unsafe { set_out(count, 0) };
        // SAFETY: the contract above.
        let hash = unsafe { str_arg(content_hash) }
            .filter(|h| h.len() == 40)
            .and_then(d::parse_hash);
        let found = Client::get(client)
            .and_then(|c| c.rc().ok())
            .zip(hash)
            .and_then(|(rc, hash)| block_on(async move { d::find_peers(&rc, hash).await }))
            .flatten()
            .unwrap_or_default();
        // SAFETY: the contract above.
        unsafe { c_string_array(&found, count) }
    })
}

// ---------------------------------------------------------------- automatic discovery

/// Automatic discovery is the DHT's discovery loop: it announces our discovery hash and
/// looks it up, connecting to the peers found. Before `rats_start`: switches the DHT and its
/// loop (`dht.discover`) on for the start. While running: starts the DHT if it is stopped.
#[unsafe(no_mangle)]
pub extern "C" fn rats_start_automatic_peer_discovery(client: rats_client_t) {
    guard((), || {
        with_client(client, (), |c| match c.rc() {
            Ok(rc) => {
                let _ = block_on(async { d::start_dht(&rc).await });
            }
            Err(_) => {
                let mut s = c.settings.lock();
                d::set_plugin_enabled(&mut s, "dht", true);
                d::set_section_key(&mut s, "dht", "discover", serde_json::json!(true));
            }
        })
    })
}

/// Stops automatic discovery. Before `rats_start`: the DHT will run without its discovery
/// loop (`dht.discover` off). While running: stops the DHT (the loop runs with it).
#[unsafe(no_mangle)]
pub extern "C" fn rats_stop_automatic_peer_discovery(client: rats_client_t) {
    guard((), || {
        with_client(client, (), |c| match c.rc() {
            Ok(rc) => {
                let _ = block_on(async { d::stop_dht(&rc).await });
            }
            Err(_) => d::set_section_key(
                &mut c.settings.lock(),
                "dht",
                "discover",
                serde_json::json!(false),
            ),
        })
    })
}

/// 1 when the DHT runs with its discovery loop.
#[unsafe(no_mangle)]
pub extern "C" fn rats_is_automatic_discovery_running(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            let on = d::discover_configured(&c.settings.lock());
            c_int::from(on && c.rc().is_ok_and(|rc| d::dht_running(&rc)))
        })
    })
}

/// Our discovery hash: `SHA-1(protocol_name + "_peer_discovery_v" + protocol_version)` in
/// hex (librats' formula), from the protocol setters before start. Free it.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_discovery_hash(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            let hash = match c.rc() {
                Ok(rc) => d::client_discovery_hash(&rc),
                Err(_) => {
                    let s = c.settings.lock();
                    d::discovery_hash_of(&s.protocol_name, &s.protocol_version)
                }
            };
            c_string(&hash)
        })
    })
}

/// The discovery hash of rats' default protocol (`rats`, version `1.0`); free it.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_rats_peer_discovery_hash() -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        c_string(&d::default_discovery_hash())
    })
}

// ---------------------------------------------------------------- mDNS

/// Starts mDNS (advertising and browsing on the local network) as instance `service_name`
/// (NULL or empty: rats' default `rats-` + the start of the peer id). Before `rats_start`:
/// switches the `mdns` plugin on for the start (it does not run on a loopback-only node).
/// While running: (re)starts it; `RATS_ERROR_OPERATION_FAILED` when the plugin is off.
///
/// # Safety
/// `service_name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_start_mdns_discovery(
    client: rats_client_t,
    service_name: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            // SAFETY: the contract above.
            let name = unsafe { str_arg(service_name) }
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            match c.rc() {
                Ok(rc) => {
                    if d::has_mdns(&rc)
                        && block_on(async move { d::start_mdns(&rc, name).await }) == Some(true)
                    {
                        RATS_SUCCESS
                    } else {
                        RATS_ERROR_OPERATION_FAILED
                    }
                }
                Err(_) => {
                    let mut s = c.settings.lock();
                    d::set_plugin_enabled(&mut s, "mdns", true);
                    if let Some(n) = name {
                        d::set_section_key(&mut s, "mdns", "instance_name", serde_json::json!(n));
                    }
                    RATS_SUCCESS
                }
            }
        })
    })
}

/// Stops mDNS (goodbye records sent). Before `rats_start`: switches the `mdns` plugin off.
#[unsafe(no_mangle)]
pub extern "C" fn rats_stop_mdns_discovery(client: rats_client_t) {
    guard((), || {
        with_client(client, (), |c| match c.rc() {
            Ok(rc) => {
                let _ = block_on(async { d::stop_mdns(&rc).await });
            }
            Err(_) => d::set_plugin_enabled(&mut c.settings.lock(), "mdns", false),
        })
    })
}

/// 1 when mDNS runs.
#[unsafe(no_mangle)]
pub extern "C" fn rats_is_mdns_running(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            c_int::from(c.rc().is_ok_and(|rc| d::mdns_running(&rc)))
        })
    })
}

/// Asks the local network for peers now; answers come to the discovered-peer callback.
/// `RATS_ERROR_NOT_RUNNING` before start, `RATS_ERROR_OPERATION_FAILED` when mDNS does not
/// run.
#[unsafe(no_mangle)]
pub extern "C" fn rats_query_mdns_services(client: rats_client_t) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| match c.rc() {
            Err(_) => RATS_ERROR_NOT_RUNNING,
            Ok(rc) if d::query_mdns(&rc) => RATS_SUCCESS,
            Ok(_) => RATS_ERROR_OPERATION_FAILED,
        })
    })
}

/// Calls `cb(user_data, host, port, source)` when a peer is discovered (`source`: `mdns`,
/// `dht`, `exchange`, ...), on the client's callback thread; NULL removes it.
///
/// # Safety
/// `cb` is NULL or a function of this type that may be called from another thread with
/// `user_data` until it is replaced or the client is stopped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_peer_discovered_callback(
    client: rats_client_t,
    cb: rats_peer_discovered_cb,
    user_data: *mut c_void,
) {
    guard((), || {
        if let Some(c) = Client::get(client) {
            c.shared.callbacks.lock().peer_discovered = cb.map(|f| Slot {
                f: Some(f),
                ud: user_data.expose_provenance(),
            });
        }
    })
}
