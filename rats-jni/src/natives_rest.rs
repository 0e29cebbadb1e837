//! The rest of `io.rats.jni.NativeRats`: the C API functions librats' Java API reaches
//! beyond messaging (peer limits, logging, DHT and automatic discovery, m_d_n_s, GossipSub
//! queries, NAT and STUN, ICE, configuration and the data directory, historical peers), each
//! a guarded call of the C function of the same name, as in `natives`.

use std::ffi::c_int;
use std::ptr::null_mut;

use jni::JNIEnv;
use jni::objects::{JClass, JString};
use jni::sys::{jboolean, jint, jlong, jobjectArray, jstring};
use rats_ffi::*;

use crate::args::{c_arg, guard, handle, ptr, take_string, take_string_array};

/// The error value of methods that return a librats error code.
const ERR: jint = RATS_ERROR_OPERATION_FAILED;

/// `NativeRats.isPeerLimitReached` (`rats_is_peer_limit_reached`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isPeerLimitReached<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_is_peer_limit_reached(handle(h)) != 0)
    })
}

/// `NativeRats.getProtocolName` (`rats_get_protocol_name`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getProtocolName<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_protocol_name(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.getProtocolVersion` (`rats_get_protocol_version`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getProtocolVersion<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_protocol_version(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.getValidatedPeerIds` (`rats_get_validated_peer_ids`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getValidatedPeerIds<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jobjectArray {
    guard(null_mut(), move || {
        let mut n: c_int = 0;
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        let list = unsafe { rats_get_validated_peer_ids(handle(h), &mut n) };
        take_string_array(&mut env, list, n)
    })
}

/// `NativeRats.isPeerEncrypted` (`rats_is_peer_encrypted`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isPeerEncrypted<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer_id: JString<'l>,
) -> jboolean {
    guard(0, move || {
        let a0 = c_arg(&mut env, &peer_id);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        jboolean::from(unsafe { rats_is_peer_encrypted(handle(h), ptr(&a0)) } != 0)
    })
}

/// `NativeRats.setLogFilePath` (`rats_set_log_file_path`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setLogFilePath<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    file_path: JString<'l>,
) {
    guard((), move || {
        let a0 = c_arg(&mut env, &file_path);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        unsafe { rats_set_log_file_path(handle(h), ptr(&a0)) }
    })
}

/// `NativeRats.getLogFilePath` (`rats_get_log_file_path`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getLogFilePath<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_log_file_path(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.setLogColorsEnabled` (`rats_set_log_colors_enabled`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setLogColorsEnabled<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    enabled: jboolean,
) {
    guard((), move || {
        rats_set_log_colors_enabled(handle(h), c_int::from(enabled))
    })
}

/// `NativeRats.isLogColorsEnabled` (`rats_is_log_colors_enabled`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isLogColorsEnabled<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_is_log_colors_enabled(handle(h)) != 0)
    })
}

/// `NativeRats.setLogTimestampsEnabled` (`rats_set_log_timestamps_enabled`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setLogTimestampsEnabled<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    enabled: jboolean,
) {
    guard((), move || {
        rats_set_log_timestamps_enabled(handle(h), c_int::from(enabled))
    })
}

/// `NativeRats.isLogTimestampsEnabled` (`rats_is_log_timestamps_enabled`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isLogTimestampsEnabled<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_is_log_timestamps_enabled(handle(h)) != 0)
    })
}

/// `NativeRats.setLogRotationSize` (`rats_set_log_rotation_size`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setLogRotationSize<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    max_size_bytes: jlong,
) {
    guard((), move || {
        rats_set_log_rotation_size(handle(h), usize::try_from(max_size_bytes).unwrap_or(0))
    })
}

/// `NativeRats.setLogRetentionCount` (`rats_set_log_retention_count`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setLogRetentionCount<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    count: jint,
) {
    guard((), move || rats_set_log_retention_count(handle(h), count))
}

/// `NativeRats.clearLogFile` (`rats_clear_log_file`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_clearLogFile<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    guard((), move || rats_clear_log_file(handle(h)))
}

/// `NativeRats.announceForHash` (`rats_announce_for_hash`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_announceForHash<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    content_hash: JString<'l>,
    port: jint,
) -> jint {
    guard(ERR, move || {
        let a0 = c_arg(&mut env, &content_hash);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        unsafe { rats_announce_for_hash(handle(h), ptr(&a0), port) }
    })
}

/// `NativeRats.getDhtRoutingTableSize` (`rats_get_dht_routing_table_size`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getDhtRoutingTableSize<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jlong {
    guard(0, move || {
        jlong::try_from(rats_get_dht_routing_table_size(handle(h))).unwrap_or(jlong::MAX)
    })
}

/// `NativeRats.findPeersForHash` (`rats_find_peers_for_hash`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_findPeersForHash<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    content_hash: JString<'l>,
) -> jobjectArray {
    guard(null_mut(), move || {
        let a0 = c_arg(&mut env, &content_hash);
        let mut n: c_int = 0;
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        let list = unsafe { rats_find_peers_for_hash(handle(h), ptr(&a0), &mut n) };
        take_string_array(&mut env, list, n)
    })
}

/// `NativeRats.startAutomaticPeerDiscovery` (`rats_start_automatic_peer_discovery`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_startAutomaticPeerDiscovery<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    guard((), move || rats_start_automatic_peer_discovery(handle(h)))
}

/// `NativeRats.stopAutomaticPeerDiscovery` (`rats_stop_automatic_peer_discovery`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_stopAutomaticPeerDiscovery<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    guard((), move || rats_stop_automatic_peer_discovery(handle(h)))
}

/// `NativeRats.isAutomaticDiscoveryRunning` (`rats_is_automatic_discovery_running`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isAutomaticDiscoveryRunning<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_is_automatic_discovery_running(handle(h)) != 0)
    })
}

/// `NativeRats.getDiscoveryHash` (`rats_get_discovery_hash`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getDiscoveryHash<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_discovery_hash(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.getRatsPeerDiscoveryHash` (`rats_get_rats_peer_discovery_hash`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getRatsPeerDiscoveryHash<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_rats_peer_discovery_hash();
        take_string(&mut env, p)
    })
}

/// `NativeRats.queryMdnsServices` (`rats_query_mdns_services`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_queryMdnsServices<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    guard(ERR, move || rats_query_mdns_services(handle(h)))
}

/// `NativeRats.requestDirectory` (`rats_request_directory`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_requestDirectory<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer_id: JString<'l>,
    remote_path: JString<'l>,
    local_path: JString<'l>,
    recursive: jboolean,
) -> jstring {
    guard(null_mut(), move || {
        let a0 = c_arg(&mut env, &peer_id);
        let a1 = c_arg(&mut env, &remote_path);
        let a2 = c_arg(&mut env, &local_path);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        let p = unsafe {
            rats_request_directory(
                handle(h),
                ptr(&a0),
                ptr(&a1),
                ptr(&a2),
                c_int::from(recursive),
            )
        };
        take_string(&mut env, p)
    })
}

/// `NativeRats.getFileTransferStatisticsJson` (`rats_get_file_transfer_statistics_json`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getFileTransferStatisticsJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_file_transfer_statistics_json(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.isGossipsubAvailable` (`rats_is_gossipsub_available`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isGossipsubAvailable<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_is_gossipsub_available(handle(h)) != 0)
    })
}

/// `NativeRats.isGossipsubRunning` (`rats_is_gossipsub_running`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isGossipsubRunning<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_is_gossipsub_running(handle(h)) != 0)
    })
}

/// `NativeRats.isSubscribedToTopic` (`rats_is_subscribed_to_topic`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_isSubscribedToTopic<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
) -> jboolean {
    guard(0, move || {
        let a0 = c_arg(&mut env, &topic);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        jboolean::from(unsafe { rats_is_subscribed_to_topic(handle(h), ptr(&a0)) } != 0)
    })
}

/// `NativeRats.getSubscribedTopics` (`rats_get_subscribed_topics`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getSubscribedTopics<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jobjectArray {
    guard(null_mut(), move || {
        let mut n: c_int = 0;
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        let list = unsafe { rats_get_subscribed_topics(handle(h), &mut n) };
        take_string_array(&mut env, list, n)
    })
}

/// `NativeRats.getTopicMeshPeers` (`rats_get_topic_mesh_peers`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getTopicMeshPeers<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
) -> jobjectArray {
    guard(null_mut(), move || {
        let a0 = c_arg(&mut env, &topic);
        let mut n: c_int = 0;
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        let list = unsafe { rats_get_topic_mesh_peers(handle(h), ptr(&a0), &mut n) };
        take_string_array(&mut env, list, n)
    })
}

/// `NativeRats.getGossipsubStatisticsJson` (`rats_get_gossipsub_statistics_json`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getGossipsubStatisticsJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_gossipsub_statistics_json(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.discoverAndIgnorePublicIp` (`rats_discover_and_ignore_public_ip`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_discoverAndIgnorePublicIp<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    stun_server: JString<'l>,
    stun_port: jint,
) -> jint {
    guard(ERR, move || {
        let a0 = c_arg(&mut env, &stun_server);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        unsafe { rats_discover_and_ignore_public_ip(handle(h), ptr(&a0), stun_port) }
    })
}

/// `NativeRats.getPublicIp` (`rats_get_public_ip`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getPublicIp<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_public_ip(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.detectNatType` (`rats_detect_nat_type`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_detectNatType<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    guard(ERR, move || rats_detect_nat_type(handle(h)))
}

/// `NativeRats.getNatCharacteristicsJson` (`rats_get_nat_characteristics_json`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getNatCharacteristicsJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_nat_characteristics_json(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.addIgnoredAddress` (`rats_add_ignored_address`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_addIgnoredAddress<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    ip_address: JString<'l>,
) {
    guard((), move || {
        let a0 = c_arg(&mut env, &ip_address);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        unsafe { rats_add_ignored_address(handle(h), ptr(&a0)) }
    })
}

/// `NativeRats.getNatTraversalStatisticsJson` (`rats_get_nat_traversal_statistics_json`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getNatTraversalStatisticsJson<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_nat_traversal_statistics_json(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.createIceOffer` (`rats_create_ice_offer`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_createIceOffer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer_id: JString<'l>,
) -> jstring {
    guard(null_mut(), move || {
        let a0 = c_arg(&mut env, &peer_id);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        let p = unsafe { rats_create_ice_offer(handle(h), ptr(&a0)) };
        take_string(&mut env, p)
    })
}

/// `NativeRats.connectWithIce` (`rats_connect_with_ice`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_connectWithIce<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer_id: JString<'l>,
    ice_offer_json: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a0 = c_arg(&mut env, &peer_id);
        let a1 = c_arg(&mut env, &ice_offer_json);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        unsafe { rats_connect_with_ice(handle(h), ptr(&a0), ptr(&a1)) }
    })
}

/// `NativeRats.handleIceAnswer` (`rats_handle_ice_answer`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_handleIceAnswer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    peer_id: JString<'l>,
    ice_answer_json: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a0 = c_arg(&mut env, &peer_id);
        let a1 = c_arg(&mut env, &ice_answer_json);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        unsafe { rats_handle_ice_answer(handle(h), ptr(&a0), ptr(&a1)) }
    })
}

/// `NativeRats.loadConfiguration` (`rats_load_configuration`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_loadConfiguration<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    guard(ERR, move || rats_load_configuration(handle(h)))
}

/// `NativeRats.saveConfiguration` (`rats_save_configuration`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_saveConfiguration<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    guard(ERR, move || rats_save_configuration(handle(h)))
}

/// `NativeRats.setDataDirectory` (`rats_set_data_directory`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_setDataDirectory<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    directory_path: JString<'l>,
) -> jint {
    guard(ERR, move || {
        let a0 = c_arg(&mut env, &directory_path);
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        unsafe { rats_set_data_directory(handle(h), ptr(&a0)) }
    })
}

/// `NativeRats.getDataDirectory` (`rats_get_data_directory`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getDataDirectory<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(null_mut(), move || {
        let p = rats_get_data_directory(handle(h));
        take_string(&mut env, p)
    })
}

/// `NativeRats.loadAndReconnectPeers` (`rats_load_and_reconnect_peers`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_loadAndReconnectPeers<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    guard(ERR, move || rats_load_and_reconnect_peers(handle(h)))
}

/// `NativeRats.loadHistoricalPeers` (`rats_load_historical_peers`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_loadHistoricalPeers<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_load_historical_peers(handle(h)) != 0)
    })
}

/// `NativeRats.saveHistoricalPeers` (`rats_save_historical_peers`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_saveHistoricalPeers<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(0, move || {
        jboolean::from(rats_save_historical_peers(handle(h)) != 0)
    })
}

/// `NativeRats.clearHistoricalPeers` (`rats_clear_historical_peers`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_clearHistoricalPeers<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    guard((), move || rats_clear_historical_peers(handle(h)))
}

/// `NativeRats.getHistoricalPeerIds` (`rats_get_historical_peer_ids`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_rats_jni_NativeRats_getHistoricalPeerIds<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jobjectArray {
    guard(null_mut(), move || {
        let mut n: c_int = 0;
        // SAFETY: NULL or C strings outliving the call, and a writable count.
        let list = unsafe { rats_get_historical_peer_ids(handle(h), &mut n) };
        take_string_array(&mut env, list, n)
    })
}
