//! The JNI functions of `io.rats.jni.NativeRats`: each calls the C API function of the
//! same name (rats-ffi, linked in as a Rust library), converting Java strings and arrays in
//! and C strings out. Every function is guarded: a panic returns the method's error value.

use std::ffi::c_int;
use std::ptr::null_mut;

use jni::JNIEnv;
use jni::objects::{JByteArray, JClass, JObject, JString};
use jni::sys::{jboolean, jint, jintArray, jlong, jobjectArray, jstring};
use rats_ffi::*;

use crate::args::{c_arg, guard, handle, ptr, take_string, take_string_array};
use crate::listener::{self, Listener};

/// The error value of methods that return a librats error code.
const ERR: jint = RATS_ERROR_OPERATION_FAILED;

/// A Java string from a static C string (the version strings; not freed).
fn take_static(env: &mut JNIEnv, p: *const std::ffi::c_char) -> jstring {
    crate::args::java_str(env, p).map_or(null_mut(), JObject::into_raw)
}

/// A Java `int[]` with `v`.
fn int_array(env: &mut JNIEnv, v: &[c_int]) -> jintArray {
    let Ok(arr) = env.new_int_array(i32::try_from(v.len()).unwrap_or(0)) else {
        return null_mut();
    };
    if env.set_int_array_region(&arr, 0, v).is_err() {
        return null_mut();
    }
    arr.into_raw()
}

/// The bytes of a Java `byte[]` (copied); `None` for null.
fn bytes_arg(env: &mut JNIEnv, a: &JByteArray) -> Option<Vec<u8>> {
    if a.is_null() {
        return None;
    }
    env.convert_byte_array(a).ok()
}

/// `NativeRats.getVersionString`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getVersionString<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jstring {
    guard(null_mut(), move || {
        take_static(&mut env, rats_get_version_string())
    })
}

/// `NativeRats.getGitDescribe`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getGitDescribe<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jstring {
    guard(null_mut(), move || {
        take_static(&mut env, rats_get_git_describe())
    })
}

/// `NativeRats.getAbi`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getAbi<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jint {
    guard(0, move || rats_get_abi() as jint)
}

/// `NativeRats.getVersion`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getVersion<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jintArray {
    guard(null_mut(), move || {
        let mut v = [0 as c_int; 4];
        // SAFETY: four writable ints.
        unsafe { rats_get_version(&mut v[0], &mut v[1], &mut v[2], &mut v[3]) };
        int_array(&mut env, &v)
    })
}

/// `NativeRats.setLoggingEnabled`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setLoggingEnabled<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    enabled: jboolean,
) {
    guard((), move || rats_set_logging_enabled(c_int::from(enabled)))
}

/// `NativeRats.setLogLevel`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setLogLevel<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    level: JString<'l>,
) {
    guard((), move || {
        let l = c_arg(&mut env, &level);
        // SAFETY: NULL or a C string that outlives the call.
        unsafe { rats_set_log_level(ptr(&l)) }
    })
}

/// `NativeRats.create`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_create<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    port: jint,
) -> jlong {
    guard(0, move || {
        let c = rats_create(port);
        if c.is_null() {
            return 0;
        }
        let h = c.addr() as jlong;
        listener::register(h);
        h
    })
}

/// `NativeRats.destroy`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_destroy<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    guard((), move || {
        rats_destroy(handle(h));
        listener::unregister(h)
    })
}

/// `NativeRats.start`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_start<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    guard(ERR, move || rats_start(handle(h)))
}

/// `NativeRats.stop`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_stop<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    guard((), move || rats_stop(handle(h)))
}

/// `NativeRats.setConfigJson`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setConfigJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    json: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &json);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_set_config_json(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.setProtocolName`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setProtocolName<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    name: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &name);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_set_protocol_name(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.setProtocolVersion`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setProtocolVersion<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    version: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &version);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_set_protocol_version(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.setMaxPeers`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setMaxPeers<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    n: jint,
) -> jint {
    guard(ERR, move || rats_set_max_peers(handle(h), n))
}

/// `NativeRats.getMaxPeers`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getMaxPeers<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    guard(0, move || rats_get_max_peers(handle(h)))
}

/// `NativeRats.connect`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_connect<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    host: JString<'l>,
    port: jint,
) -> jint {
    guard(0, move || {
        let a = c_arg(&mut env, &host);
        // SAFETY: NULL or a C string that outlives the call.
        unsafe { rats_connect(handle(h), ptr(&a), port) }
    })
}

/// `NativeRats.connectWithStrategy`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_connectWithStrategy<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    host: JString<'l>,
    port: jint,
    strategy: jint,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &host);
        // SAFETY: NULL or a C string that outlives the call.
        unsafe { rats_connect_with_strategy(handle(h), ptr(&a), port, strategy) }
    })
}

/// `NativeRats.getListenPort`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getListenPort<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    guard(0, move || rats_get_listen_port(handle(h)))
}

/// `NativeRats.disconnect`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_disconnect<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &peer);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_disconnect_peer_by_id(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.getPeerCount`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getPeerCount<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    guard(0, move || rats_get_peer_count(handle(h)))
}

/// `NativeRats.getOurPeerId`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getOurPeerId<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_our_peer_id(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.getPeerIds`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getPeerIds<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jobjectArray {
    guard(null_mut(), move || {
        let mut n: c_int = 0;
        // SAFETY: a writable count.
        let list = unsafe { rats_get_peer_ids(handle(h), &mut n) };
        take_string_array(&mut env, list, n)
    })
}

/// `NativeRats.getPeerInfoJson`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getPeerInfoJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer: JString<'l>,
) -> jstring {
    guard(null_mut(), move || {
        let a = c_arg(&mut env, &peer);
        // SAFETY: NULL or a C string that outlives the call.
        let p = unsafe { rats_get_peer_info_json(handle(h), ptr(&a)) };
        take_string(&mut env, p)
    })
}

/// `NativeRats.getConnectionStatisticsJson`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getConnectionStatisticsJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_connection_statistics_json(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.sendString`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_sendString<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer: JString<'l>,
    msg: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let (a, b) = (c_arg(&mut env, &peer), c_arg(&mut env, &msg));
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_send_string(handle(h), ptr(&a), ptr(&b)) }
    })
}

/// `NativeRats.broadcastString`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_broadcastString<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    msg: JString<'l>,
) -> jint {
    guard(0, move || {
        let a = c_arg(&mut env, &msg);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_broadcast_string(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.sendBinary`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_sendBinary<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer: JString<'l>,
    data: JByteArray<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &peer);
        let Some(bytes) = bytes_arg(&mut env, &data) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        // SAFETY: NULL or a C string, and a buffer of bytes.len() bytes, outliving the call.
        unsafe { rats_send_binary(handle(h), ptr(&a), bytes.as_ptr().cast(), bytes.len()) }
    })
}

/// `NativeRats.broadcastBinary`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_broadcastBinary<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    data: JByteArray<'l>,
) -> jint {
    guard(0, move || {
        let Some(bytes) = bytes_arg(&mut env, &data) else {
            return 0;
        };
        // SAFETY: a buffer of bytes.len() bytes outliving the call.
        unsafe { rats_broadcast_binary(handle(h), bytes.as_ptr().cast(), bytes.len()) }
    })
}

/// `NativeRats.sendJson`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_sendJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer: JString<'l>,
    json: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let (a, b) = (c_arg(&mut env, &peer), c_arg(&mut env, &json));
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_send_json(handle(h), ptr(&a), ptr(&b)) }
    })
}

/// `NativeRats.broadcastJson`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_broadcastJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    json: JString<'l>,
) -> jint {
    guard(0, move || {
        let a = c_arg(&mut env, &json);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_broadcast_json(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.sendMessage`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_sendMessage<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer: JString<'l>,
    kind: JString<'l>,
    json: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let (a, b, c) = (
            c_arg(&mut env, &peer),
            c_arg(&mut env, &kind),
            c_arg(&mut env, &json),
        );
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_send_message(handle(h), ptr(&a), ptr(&b), ptr(&c)) }
    })
}

/// `NativeRats.broadcastMessage`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_broadcastMessage<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    kind: JString<'l>,
    json: JString<'l>,
) -> jint {
    guard(0, move || {
        let (a, b) = (c_arg(&mut env, &kind), c_arg(&mut env, &json));
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_broadcast_message(handle(h), ptr(&a), ptr(&b)) }
    })
}

/// `NativeRats.onMessage`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_onMessage<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    kind: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let Some(k) = c_arg(&mut env, &kind) else {
            return RATS_ERROR_INVALID_PARAMETER;
        };
        let kp = k.as_ptr();
        let ud = listener::typed_ctx(h, k.clone());
        if ud.is_null() {
            return RATS_ERROR_INVALID_HANDLE;
        }
        // SAFETY: a C string outliving the call; `ud` lives until the client is destroyed.
        unsafe { rats_on_message(handle(h), kp, Some(listener::on_message), ud) }
    })
}

/// `NativeRats.setEncryptionEnabled`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setEncryptionEnabled<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    on: jboolean,
) -> jint {
    guard(ERR, move || {
        rats_set_encryption_enabled(handle(h), c_int::from(on))
    })
}

/// `NativeRats.isEncryptionEnabled`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isEncryptionEnabled<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_is_encryption_enabled(handle(h)) != 0)
    })
}

/// `NativeRats.generateEncryptionKey`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_generateEncryptionKey<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_generate_encryption_key(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.setEncryptionKey`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setEncryptionKey<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    key: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &key);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_set_encryption_key(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.getEncryptionKey`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getEncryptionKey<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_encryption_key(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.startDhtDiscovery`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_startDhtDiscovery<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    port: jint,
) -> jint {
    guard(ERR, move || rats_start_dht_discovery(handle(h), port))
}

/// `NativeRats.stopDhtDiscovery`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_stopDhtDiscovery<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    guard((), move || rats_stop_dht_discovery(handle(h)))
}

/// `NativeRats.isDhtRunning`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isDhtRunning<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_is_dht_running(handle(h)) != 0)
    })
}

/// `NativeRats.startMdnsDiscovery`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_startMdnsDiscovery<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    name: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &name);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_start_mdns_discovery(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.stopMdnsDiscovery`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_stopMdnsDiscovery<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    guard((), move || rats_stop_mdns_discovery(handle(h)))
}

/// `NativeRats.isMdnsRunning`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isMdnsRunning<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_is_mdns_running(handle(h)) != 0)
    })
}

/// `NativeRats.sendFile`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_sendFile<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer: JString<'l>,
    path: JString<'l>,
    remote: JString<'l>,
) -> jstring {
    guard(null_mut(), move || {
        let (a, b, c) = (
            c_arg(&mut env, &peer),
            c_arg(&mut env, &path),
            c_arg(&mut env, &remote),
        );
        // SAFETY: NULL or C strings that outlive the call.
        let p = unsafe { rats_send_file(handle(h), ptr(&a), ptr(&b), ptr(&c)) };
        take_string(&mut env, p)
    })
}

/// `NativeRats.sendDirectory`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_sendDirectory<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer: JString<'l>,
    path: JString<'l>,
    remote: JString<'l>,
    recursive: jboolean,
) -> jstring {
    guard(null_mut(), move || {
        let (a, b, c) = (
            c_arg(&mut env, &peer),
            c_arg(&mut env, &path),
            c_arg(&mut env, &remote),
        );
        // SAFETY: NULL or C strings that outlive the call.
        let p = unsafe {
            rats_send_directory(handle(h), ptr(&a), ptr(&b), ptr(&c), c_int::from(recursive))
        };
        take_string(&mut env, p)
    })
}

/// `NativeRats.requestFile`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_requestFile<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer: JString<'l>,
    remote: JString<'l>,
    local: JString<'l>,
) -> jstring {
    guard(null_mut(), move || {
        let (a, b, c) = (
            c_arg(&mut env, &peer),
            c_arg(&mut env, &remote),
            c_arg(&mut env, &local),
        );
        // SAFETY: NULL or C strings that outlive the call.
        let p = unsafe { rats_request_file(handle(h), ptr(&a), ptr(&b), ptr(&c)) };
        take_string(&mut env, p)
    })
}

/// `NativeRats.acceptFileTransfer`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_acceptFileTransfer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    id: JString<'l>,
    arg: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let (a, b) = (c_arg(&mut env, &id), c_arg(&mut env, &arg));
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_accept_file_transfer(handle(h), ptr(&a), ptr(&b)) }
    })
}

/// `NativeRats.rejectFileTransfer`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_rejectFileTransfer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    id: JString<'l>,
    arg: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let (a, b) = (c_arg(&mut env, &id), c_arg(&mut env, &arg));
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_reject_file_transfer(handle(h), ptr(&a), ptr(&b)) }
    })
}

/// `NativeRats.acceptDirectoryTransfer`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_acceptDirectoryTransfer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    id: JString<'l>,
    arg: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let (a, b) = (c_arg(&mut env, &id), c_arg(&mut env, &arg));
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_accept_directory_transfer(handle(h), ptr(&a), ptr(&b)) }
    })
}

/// `NativeRats.rejectDirectoryTransfer`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_rejectDirectoryTransfer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    id: JString<'l>,
    arg: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let (a, b) = (c_arg(&mut env, &id), c_arg(&mut env, &arg));
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_reject_directory_transfer(handle(h), ptr(&a), ptr(&b)) }
    })
}

/// `NativeRats.cancelFileTransfer`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_cancelFileTransfer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    id: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &id);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_cancel_file_transfer(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.pauseFileTransfer`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_pauseFileTransfer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    id: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &id);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_pause_file_transfer(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.resumeFileTransfer`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_resumeFileTransfer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    id: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &id);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_resume_file_transfer(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.getFileTransferProgressJson`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getFileTransferProgressJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    id: JString<'l>,
) -> jstring {
    guard(null_mut(), move || {
        let a = c_arg(&mut env, &id);
        // SAFETY: NULL or a C string that outlives the call.
        let p = unsafe { rats_get_file_transfer_progress_json(handle(h), ptr(&a)) };
        take_string(&mut env, p)
    })
}

/// `NativeRats.subscribeToTopic`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_subscribeToTopic<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &topic);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_subscribe_to_topic(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.unsubscribeFromTopic`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_unsubscribeFromTopic<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a = c_arg(&mut env, &topic);
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_unsubscribe_from_topic(handle(h), ptr(&a)) }
    })
}

/// `NativeRats.publishToTopic`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_publishToTopic<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    msg: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let (a, b) = (c_arg(&mut env, &topic), c_arg(&mut env, &msg));
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_publish_to_topic(handle(h), ptr(&a), ptr(&b)) }
    })
}

/// `NativeRats.publishJsonToTopic`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_publishJsonToTopic<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    json: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let (a, b) = (c_arg(&mut env, &topic), c_arg(&mut env, &json));
        // SAFETY: NULL or C strings that outlive the call.
        unsafe { rats_publish_json_to_topic(handle(h), ptr(&a), ptr(&b)) }
    })
}

/// `NativeRats.getTopicPeers`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getTopicPeers<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
) -> jobjectArray {
    guard(null_mut(), move || {
        let a = c_arg(&mut env, &topic);
        let mut n: c_int = 0;
        // SAFETY: NULL or a C string that outlives the call, and a writable count.
        let list = unsafe { rats_get_topic_peers(handle(h), ptr(&a), &mut n) };
        take_string_array(&mut env, list, n)
    })
}

/// `NativeRats.listenTopic`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_listenTopic<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
) {
    guard((), move || {
        let a = c_arg(&mut env, &topic);
        let ud = listener::slot_ptr(h);
        if ud.is_null() {
            return;
        }
        // SAFETY: NULL or a C string outliving the call; `ud` lives until the client is
        // destroyed.
        unsafe {
            rats_set_topic_message_callback(
                handle(h),
                ptr(&a),
                Some(listener::on_topic_message),
                ud,
            )
        }
    })
}

/// `NativeRats.setListener`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setListener<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    obj: JObject<'l>,
) {
    guard((), move || {
        let l = if obj.is_null() {
            None
        } else {
            match Listener::new(&mut env, &obj) {
                Ok(l) => Some(l),
                Err(_) => return,
            }
        };
        let on = l.is_some();
        if !listener::set_listener(h, l) {
            return;
        }
        let c = handle(h);
        let ud = if on {
            listener::slot_ptr(h)
        } else {
            null_mut()
        };
        // Without a listener the callbacks are unset (offers are then refused, not left
        // waiting for an answer nobody gives).
        macro_rules! set {
            ($setter:ident, $cb:path) => {
                // SAFETY: a callback of the right type; `ud` lives until the client is
                // destroyed.
                unsafe { $setter(c, if on { Some($cb) } else { None }, ud) }
            };
        }
        set!(rats_set_connection_callback, listener::on_connected);
        set!(rats_set_disconnect_callback, listener::on_disconnected);
        set!(rats_set_string_callback, listener::on_string);
        set!(rats_set_binary_callback, listener::on_binary);
        set!(rats_set_json_callback, listener::on_json);
        set!(rats_set_file_request_callback, listener::on_file_request);
        set!(
            rats_set_directory_request_callback,
            listener::on_directory_request
        );
        set!(rats_set_file_progress_callback, listener::on_file_progress);
        set!(
            rats_set_peer_discovered_callback,
            listener::on_peer_discovered
        );
    })
}
