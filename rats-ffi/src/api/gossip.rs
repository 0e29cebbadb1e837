//! GossipSub: topics, publishing, topic callbacks and statistics (librats' names), on
//! `RatsClient::gossip()`.

use std::ffi::{c_char, c_int, c_void};

use super::{
    RATS_ERROR_INVALID_HANDLE, RATS_ERROR_INVALID_PARAMETER, RATS_ERROR_JSON_PARSE,
    RATS_ERROR_NOT_RUNNING, RATS_ERROR_OPERATION_FAILED, RATS_SUCCESS, rats_client_t, rats_error_t,
    with_client,
};
use crate::client::Client;
use crate::dispatch::{Callbacks, Slot};
use crate::engine;
use crate::engine::gossip::{self as g, GossipFail};
use crate::util::{Code, c_string, c_string_array, guard, str_arg};

/// Called for a message on a topic (`peer_id`: its origin; `message`: its payload as text).
pub type rats_topic_message_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        peer_id: *const c_char,
        topic: *const c_char,
        message: *const c_char,
    ),
>;
/// Called for a message on a topic whose payload is JSON (`json_str`: compact JSON).
pub type rats_topic_json_message_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        peer_id: *const c_char,
        topic: *const c_char,
        json_str: *const c_char,
    ),
>;
/// Called when a connected peer subscribes to a topic.
pub type rats_topic_peer_joined_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, peer_id: *const c_char, topic: *const c_char),
>;
/// Called when a peer leaves a topic (unsubscribes or disconnects).
pub type rats_topic_peer_left_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, peer_id: *const c_char, topic: *const c_char),
>;

fn gossip_code(r: Result<(), GossipFail>) -> Code {
    match r {
        Ok(()) => RATS_SUCCESS,
        Err(GossipFail::BadTopic) => RATS_ERROR_INVALID_PARAMETER,
        Err(GossipFail::Unavailable | GossipFail::Failed) => RATS_ERROR_OPERATION_FAILED,
    }
}

/// Runs `f` with the running rats client and the topic argument, mapping the usual
/// failures to librats' codes.
fn with_topic(
    client: rats_client_t,
    topic: *const c_char,
    f: impl FnOnce(&rats_engine::RatsClient, &str) -> Code,
) -> Code {
    with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
        // SAFETY: the callers' contract: `topic` is NULL or NUL-terminated.
        let Some(topic) = (unsafe { str_arg(topic) }) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        let Ok(rc) = c.rc() else {
            return RATS_ERROR_NOT_RUNNING;
        };
        f(&rc, topic)
    })
}

/// 1 when the client has GossipSub: the plugin is linked and not switched off
/// (`disabled_plugins`). Before `rats_start` it says whether it will have it.
#[unsafe(no_mangle)]
pub extern "C" fn rats_is_gossipsub_available(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| match c.rc() {
            Ok(rc) => c_int::from(g::is_running(&rc)),
            Err(_) => c_int::from(engine::plugin_enabled(&c.settings.lock(), "gossipsub")),
        })
    })
}

/// 1 when the client is started and its GossipSub service runs.
#[unsafe(no_mangle)]
pub extern "C" fn rats_is_gossipsub_running(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| {
            c_int::from(c.rc().is_ok_and(|rc| g::is_running(&rc)))
        })
    })
}

/// Subscribes to `topic` (announced to every peer, now and later). `RATS_SUCCESS` also when
/// already subscribed; `RATS_ERROR_NOT_RUNNING` before `rats_start`;
/// `RATS_ERROR_INVALID_PARAMETER` for an empty topic or one over 256 bytes.
///
/// # Safety
/// `topic` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_subscribe_to_topic(
    client: rats_client_t,
    topic: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_topic(client, topic, |rc, t| gossip_code(g::subscribe(rc, t)))
    })
}

/// Leaves `topic` (peers are told). `RATS_SUCCESS` also when not subscribed.
///
/// # Safety
/// `topic` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_unsubscribe_from_topic(
    client: rats_client_t,
    topic: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_topic(client, topic, |rc, t| gossip_code(g::unsubscribe(rc, t)))
    })
}

/// 1 when subscribed to `topic`.
///
/// # Safety
/// `topic` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_is_subscribed_to_topic(
    client: rats_client_t,
    topic: *const c_char,
) -> c_int {
    guard(0, || {
        c_int::from(with_topic(client, topic, |rc, t| c_int::from(g::is_subscribed(rc, t))) == 1)
    })
}

/// Our topics, sorted; free each string and the array. NULL with count 0 when none.
///
/// # Safety
/// `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_get_subscribed_topics(
    client: rats_client_t,
    count: *mut c_int,
) -> *mut *mut c_char {
    guard(std::ptr::null_mut(), || {
        let topics = Client::get(client)
            .and_then(|c| c.rc().ok())
            .map(|rc| g::subscribed_topics(&rc))
            .unwrap_or_default();
        // SAFETY: the contract above.
        unsafe { c_string_array(&topics, count) }
    })
}

/// Publishes `message` (its bytes, without the NUL) on `topic`, signed with our identity.
/// Subscribers get it once each; publishing with no subscribers is not an error.
///
/// # Safety
/// `topic` and `message` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_publish_to_topic(
    client: rats_client_t,
    topic: *const c_char,
    message: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        // SAFETY: the contract above.
        let msg = unsafe { str_arg(message) };
        with_topic(client, topic, |rc, t| match msg {
            None => RATS_ERROR_INVALID_PARAMETER,
            Some(m) => gossip_code(g::publish(rc, t, m.as_bytes().to_vec())),
        })
    })
}

/// Publishes a JSON document on `topic`. `RATS_ERROR_JSON_PARSE` if it is not JSON.
///
/// # Safety
/// `topic` and `json_str` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_publish_json_to_topic(
    client: rats_client_t,
    topic: *const c_char,
    json_str: *const c_char,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        // SAFETY: the contract above.
        let text = unsafe { str_arg(json_str) };
        with_topic(client, topic, |rc, t| {
            let Some(text) = text else {
                return RATS_ERROR_INVALID_PARAMETER;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
                return RATS_ERROR_JSON_PARSE;
            };
            gossip_code(g::publish_json(rc, t, &v))
        })
    })
}

fn topic_list(
    client: rats_client_t,
    topic: *const c_char,
    count: *mut c_int,
    f: impl FnOnce(&rats_engine::RatsClient, &str) -> Vec<String>,
) -> *mut *mut c_char {
    let mut out = Vec::new();
    with_topic(client, topic, |rc, t| {
        out = f(rc, t);
        RATS_SUCCESS
    });
    // SAFETY: the callers' contract: `count` is NULL or writable.
    unsafe { c_string_array(&out, count) }
}

/// Connected peers subscribed to `topic`; free each string and the array.
///
/// # Safety
/// `topic` is NULL or a NUL-terminated string; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_get_topic_peers(
    client: rats_client_t,
    topic: *const c_char,
    count: *mut c_int,
) -> *mut *mut c_char {
    guard(std::ptr::null_mut(), || {
        topic_list(client, topic, count, g::topic_peers)
    })
}

/// Our mesh peers for `topic` (those we forward its messages to); free each string and the
/// array.
///
/// # Safety
/// `topic` is NULL or a NUL-terminated string; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_get_topic_mesh_peers(
    client: rats_client_t,
    topic: *const c_char,
    count: *mut c_int,
) -> *mut *mut c_char {
    guard(std::ptr::null_mut(), || {
        topic_list(client, topic, count, g::topic_mesh_peers)
    })
}

/// rats' GossipSub statistics as JSON (`running`, `subscribed_topics`, `topics` with peers
/// and mesh peers per topic, `messages_published`, `messages_delivered`,
/// `messages_forwarded`, `duplicates`, `rejected`, `ignored`, `dropped`, `copies_sent`,
/// `graylisted`, `cached_messages`, `mesh_sizes`); `{"running":false}` when not running.
/// Free it. NULL for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_gossipsub_statistics_json(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            let json = c
                .rc()
                .ok()
                .and_then(|rc| g::statistics_json(&rc))
                .unwrap_or_else(|| "{\"running\":false}".to_string());
            c_string(&json)
        })
    })
}

/// Sets (or with NULL removes) a per-topic callback.
fn set_topic_cb<F: Copy>(
    client: rats_client_t,
    topic: *const c_char,
    cb: Option<F>,
    user_data: *mut c_void,
    map: impl FnOnce(&mut Callbacks) -> &mut std::collections::HashMap<String, Slot<Option<F>>>,
) {
    let Some(c) = Client::get(client) else { return };
    // SAFETY: the callers' contract: `topic` is NULL or NUL-terminated.
    let Some(topic) = (unsafe { str_arg(topic) }) else {
        return;
    };
    let mut cbs = c.shared.callbacks.lock();
    let m = map(&mut cbs);
    match cb {
        Some(f) => {
            m.insert(
                topic.to_string(),
                Slot {
                    f: Some(f),
                    ud: user_data.expose_provenance(),
                },
            );
        }
        None => {
            m.remove(topic);
        }
    }
}

/// Calls `cb(user_data, peer_id, topic, message)` for every message on `topic` (`peer_id`:
/// the message's origin); NULL removes it. Replaces an earlier callback for the topic. Set it
/// before or after `rats_start`; it runs on the client's callback thread.
///
/// # Safety
/// `topic` is NULL or a NUL-terminated string; `cb` is NULL or a function of this type,
/// callable from another thread with `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_topic_message_callback(
    client: rats_client_t,
    topic: *const c_char,
    cb: rats_topic_message_cb,
    user_data: *mut c_void,
) {
    guard((), || {
        set_topic_cb(client, topic, cb, user_data, |c| &mut c.topic_message)
    })
}

/// Calls `cb(user_data, peer_id, topic, json_str)` for every message on `topic` whose
/// payload is JSON; NULL removes it.
///
/// # Safety
/// As `rats_set_topic_message_callback`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_topic_json_message_callback(
    client: rats_client_t,
    topic: *const c_char,
    cb: rats_topic_json_message_cb,
    user_data: *mut c_void,
) {
    guard((), || {
        set_topic_cb(client, topic, cb, user_data, |c| &mut c.topic_json)
    })
}

/// Calls `cb(user_data, peer_id, topic)` when a connected peer subscribes to `topic`; NULL
/// removes it.
///
/// # Safety
/// As `rats_set_topic_message_callback`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_topic_peer_joined_callback(
    client: rats_client_t,
    topic: *const c_char,
    cb: rats_topic_peer_joined_cb,
    user_data: *mut c_void,
) {
    guard((), || {
        set_topic_cb(client, topic, cb, user_data, |c| &mut c.topic_joined)
    })
}

/// Calls `cb(user_data, peer_id, topic)` when a peer leaves `topic` (unsubscribes or
/// disconnects); NULL removes it.
///
/// # Safety
/// As `rats_set_topic_message_callback`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_set_topic_peer_left_callback(
    client: rats_client_t,
    topic: *const c_char,
    cb: rats_topic_peer_left_cb,
    user_data: *mut c_void,
) {
    guard((), || {
        set_topic_cb(client, topic, cb, user_data, |c| &mut c.topic_left)
    })
}

/// Removes the four callbacks of `topic` (the subscription stays).
///
/// # Safety
/// `topic` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_clear_topic_callbacks(client: rats_client_t, topic: *const c_char) {
    guard((), || {
        let Some(c) = Client::get(client) else { return };
        // SAFETY: the contract above.
        let Some(topic) = (unsafe { str_arg(topic) }) else {
            return;
        };
        let mut cbs = c.shared.callbacks.lock();
        cbs.topic_message.remove(topic);
        cbs.topic_json.remove(topic);
        cbs.topic_joined.remove(topic);
        cbs.topic_left.remove(topic);
    })
}
