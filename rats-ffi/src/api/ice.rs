//! ICE offers (librats' names), on `RatsClient::create_ice_offer` / `connect_with_ice`.
//!
//! rats' flow: each side calls `rats_create_ice_offer` for the other's peer id and sends the
//! offer over the application's signalling; then each side passes the other's offer to
//! `rats_connect_with_ice` (or, the same, `rats_handle_ice_answer`), which waits until the
//! connection runs over QUIC on the nominated pair. The side with the smaller peer id
//! controls (nominates).

use std::ffi::c_char;

use super::{
    RATS_ERROR_INVALID_HANDLE, RATS_ERROR_INVALID_PARAMETER, RATS_ERROR_JSON_PARSE,
    RATS_ERROR_NOT_RUNNING, RATS_ERROR_OPERATION_FAILED, RATS_SUCCESS, peer_arg, rats_client_t,
    rats_error_t, with_client,
};
use crate::client::Client;
use crate::engine::{self, ice};
use crate::util::{block_on, c_string, guard, str_arg};

/// Gathers our ICE candidates for a connection with `peer_id` (host candidates, server-
/// reflexive ones from the `stun` section's servers when the `stun` plugin is on, a relay one
/// from the `turn` section) and returns the offer as JSON (`ufrag`, `pwd`, `candidates` in
/// SDP form); free it. A new offer for the same peer replaces the previous one. NULL for bad
/// arguments or a client not running.
///
/// # Safety
/// `peer_id` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_create_ice_offer(
    client: rats_client_t,
    peer_id: *const c_char,
) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        let Some(c) = Client::get(client) else {
            return std::ptr::null_mut();
        };
        let Ok(peer) = peer_arg(peer_id) else {
            return std::ptr::null_mut();
        };
        let Ok(rc) = c.rc() else {
            return std::ptr::null_mut();
        };
        let peer = peer.to_string();
        let me = c.peer_id();
        if peer == me {
            return std::ptr::null_mut();
        }
        let stun = engine::plugin_enabled(&c.settings.lock(), "stun");
        let controlling = me < peer;
        let Some(Some((session, json))) =
            block_on(async move { ice::create_offer(&rc, stun, controlling).await })
        else {
            return std::ptr::null_mut();
        };
        if let Some(old) = c.ice.lock().insert(peer, session) {
            let _ = block_on(async move { ice::close(&old).await });
        }
        c_string(&json)
    })
}

fn connect_impl(
    client: rats_client_t,
    peer_id: *const c_char,
    offer: *const c_char,
) -> rats_error_t {
    with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
        let peer = match peer_arg(peer_id) {
            Ok(p) => p.to_string(),
            Err(e) => return e,
        };
        // SAFETY: the callers' contract: `offer` is NULL or NUL-terminated.
        let Some(text) = (unsafe { str_arg(offer) }) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return RATS_ERROR_JSON_PARSE;
        };
        let Some(remote) = ice::parse_offer(v) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        let Ok(rc) = c.rc() else {
            return RATS_ERROR_NOT_RUNNING;
        };
        // Our offer for this peer (rats_create_ice_offer) must come first.
        let Some(session) = c.ice.lock().get(&peer).cloned() else {
            return RATS_ERROR_OPERATION_FAILED;
        };
        let connected = block_on(async { ice::connect(&rc, &session, &remote).await }).flatten();
        match connected {
            Some(p) if p == peer => RATS_SUCCESS,
            _ => {
                // A failed session is of no more use.
                let removed = {
                    let mut map = c.ice.lock();
                    match map.get(&peer) {
                        Some(s) if std::sync::Arc::ptr_eq(s, &session) => map.remove(&peer),
                        _ => None,
                    }
                };
                if let Some(s) = removed {
                    let _ = block_on(async move { ice::close(&s).await });
                }
                RATS_ERROR_OPERATION_FAILED
            }
        }
    })
}

/// Connects to `peer_id` with ICE using its offer (JSON from its `rats_create_ice_offer`)
/// and our own offer for it, made before with `rats_create_ice_offer`
/// (`RATS_ERROR_OPERATION_FAILED` without one). Waits until the rats connection runs over
/// the nominated pair (method `ice`, transport QUIC) or the checks failed.
/// `RATS_ERROR_JSON_PARSE` for text that is not JSON, `RATS_ERROR_INVALID_PARAMETER` for
/// JSON that is not an ICE offer.
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_connect_with_ice(
    client: rats_client_t,
    peer_id: *const c_char,
    ice_offer_json: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        connect_impl(client, peer_id, ice_offer_json)
    })
}

/// The same as `rats_connect_with_ice`, for the side that made the first offer and got the
/// other side's in answer.
///
/// # Safety
/// The string arguments are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_handle_ice_answer(
    client: rats_client_t,
    peer_id: *const c_char,
    ice_answer_json: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        connect_impl(client, peer_id, ice_answer_json)
    })
}
