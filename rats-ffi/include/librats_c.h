/*
 * librats_c.h: librats' C API, implemented by rats (https://github.com/rats-p2p/rats).
 *
 * Source-compatible with librats' header of the same name for the functions declared here:
 * same names, types, constants, error codes and callback typedefs. What each function does
 * in rats, and how it differs from librats, is in rats-ffi/README.md.
 * Functions marked "rats extension" do not exist in librats.
 *
 * Memory: strings and arrays returned to the caller come from malloc(); release them with
 * free() or rats_string_free() (arrays: each string, then the array). An empty list is NULL
 * with *count == 0. Version strings are static: do not free them.
 *
 * Errors: NULL handles and NULL arguments never crash; they give RATS_ERROR_INVALID_HANDLE /
 * RATS_ERROR_INVALID_PARAMETER (functions returning a count give 0, those returning a
 * pointer give NULL). A handle that was destroyed is also answered with
 * RATS_ERROR_INVALID_HANDLE.
 *
 * Threads: every function may be called from any thread, also at once. Callbacks of a
 * client run on that client's own callback thread ("rats-cb"), one at a time. A callback may
 * call any function of this API, including rats_stop() and rats_destroy() of its own
 * client. After rats_stop() or rats_destroy() returns, no callback of that client runs.
 * Strings passed to callbacks are valid only during the call.
 */
#pragma once

#ifdef _WIN32
  #if defined(RATS_BUILDING_DLL)
    #define RATS_API __declspec(dllexport)
  #elif defined(RATS_USING_DLL)
    #define RATS_API __declspec(dllimport)
  #else
    #define RATS_API
  #endif
#else
  #if defined(__GNUC__) && __GNUC__ >= 4
    #define RATS_API __attribute__((visibility("default")))
  #else
    #define RATS_API
  #endif
#endif
/* The name librats' older headers used. */
#ifndef RATS_C_API
  #define RATS_C_API RATS_API
#endif

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque handle to a client. */
typedef void* rats_client_t;

/* Memory helpers for returned strings */
RATS_API void rats_string_free(const char* str);

/* Version / ABI (static strings) */
RATS_API const char* rats_get_version_string(void);
RATS_API void rats_get_version(int* major, int* minor, int* patch, int* build);
RATS_API const char* rats_get_git_describe(void);
RATS_API uint32_t rats_get_abi(void);

/* Client lifecycle. rats_create: listen_port 0 = any free port; the peer id exists from
 * here on and setters work before rats_start. NULL for a port outside 0..65535. */
RATS_API rats_client_t rats_create(int listen_port);
RATS_API void rats_destroy(rats_client_t client);
RATS_API int rats_start(rats_client_t client);   /* rats_error_t value */
RATS_API void rats_stop(rats_client_t client);

/* Basic operations. rats_connect waits until the peer is connected (handshake done) or the
 * attempt failed: 1 on success, 0 on failure. rats_get_listen_port gives the real port after
 * starting on port 0. Broadcasts return the number of peers reached. */
RATS_API int rats_connect(rats_client_t client, const char* host, int port);
RATS_API int rats_get_listen_port(rats_client_t client);
RATS_API int rats_broadcast_string(rats_client_t client, const char* message);
RATS_API int rats_send_string(rats_client_t client, const char* peer_id, const char* message);

/* Info */
RATS_API int rats_get_peer_count(rats_client_t client);
RATS_API char* rats_get_our_peer_id(rats_client_t client); /* caller must free */
RATS_API char** rats_get_validated_peer_ids(rats_client_t client, int* count); /* caller must free array and strings */
RATS_API char** rats_get_peer_ids(rats_client_t client, int* count); /* caller must free array and strings */
RATS_API char* rats_get_peer_info_json(rats_client_t client, const char* peer_id); /* caller must free */
/* librats' keys total_peers, validated_peers, max_peers, running, listen_port, our_peer_id,
 * encryption_enabled, dht_running, dht_routing_table_size, mdns_running, plus rats'
 * gossipsub_running, transfers_active, peers_by_method. caller must free */
RATS_API char* rats_get_connection_statistics_json(rats_client_t client);

/* Logging controls (rats-log). The logger is process-wide, as librats' is: the functions
 * taking a client need a valid handle but change logging for the whole process. The first
 * call installs rats-log (stderr, INFO, timestamps). Levels: "TRACE", "DEBUG", "INFO",
 * "WARN"/"WARNING", "ERROR" (any case; others ignored). rats_set_log_file_path: "" stops
 * the file; rats_get_log_file_path: "" when none. */
RATS_API void rats_set_logging_enabled(int enabled);
RATS_API void rats_set_log_level(const char* level_str); /* "DEBUG", "INFO", "WARN", "ERROR" */
RATS_API void rats_set_log_file_path(rats_client_t client, const char* file_path);
RATS_API char* rats_get_log_file_path(rats_client_t client); /* caller must free */
RATS_API void rats_set_log_colors_enabled(rats_client_t client, int enabled);
RATS_API int rats_is_log_colors_enabled(rats_client_t client);
RATS_API void rats_set_log_timestamps_enabled(rats_client_t client, int enabled);
RATS_API int rats_is_log_timestamps_enabled(rats_client_t client);
RATS_API void rats_set_log_rotation_size(rats_client_t client, size_t max_size_bytes); /* 0: never rotate */
RATS_API void rats_set_log_retention_count(rats_client_t client, int count);
RATS_API void rats_clear_log_file(rats_client_t client);

/* Error codes */
typedef enum {
    RATS_SUCCESS = 0,
    RATS_ERROR_INVALID_HANDLE = -1,
    RATS_ERROR_INVALID_PARAMETER = -2,
    RATS_ERROR_NOT_RUNNING = -3,
    RATS_ERROR_OPERATION_FAILED = -4,
    RATS_ERROR_PEER_NOT_FOUND = -5,
    RATS_ERROR_MEMORY_ALLOCATION = -6,
    RATS_ERROR_JSON_PARSE = -7
} rats_error_t;

/* Connection strategy (librats' earlier header; see rats_connect_with_strategy) */
typedef enum {
    RATS_STRATEGY_DIRECT_ONLY = 0,
    RATS_STRATEGY_STUN_ASSISTED = 1,
    RATS_STRATEGY_ICE_FULL = 2,
    RATS_STRATEGY_TURN_RELAY = 3,
    RATS_STRATEGY_AUTO_ADAPTIVE = 4
} rats_connection_strategy_t;

/* C callbacks (run on the client's callback thread) */
typedef void (*rats_connection_cb)(void* user_data, const char* peer_id);
typedef void (*rats_string_cb)(void* user_data, const char* peer_id, const char* message);
typedef void (*rats_binary_cb)(void* user_data, const char* peer_id, const void* data, size_t size);
typedef void (*rats_json_cb)(void* user_data, const char* peer_id, const char* json_str);
typedef void (*rats_disconnect_cb)(void* user_data, const char* peer_id);
typedef void (*rats_message_cb)(void* user_data, const char* peer_id, const char* message_data);
/* A discovered peer: its address and the mechanism that found it in service_name ("dht",
 * "mdns", "exchange", ...). */
typedef void (*rats_peer_discovered_cb)(void* user_data, const char* host, int port, const char* service_name);

/* Peer configuration (setters: before rats_start; while running they fail with
 * RATS_ERROR_OPERATION_FAILED because rats fixes them at start) */
RATS_API rats_error_t rats_set_max_peers(rats_client_t client, int max_peers);
RATS_API int rats_get_max_peers(rats_client_t client);
RATS_API int rats_is_peer_limit_reached(rats_client_t client);

/* Connection methods. DIRECT_ONLY: one direct dial; the other strategies: the node's
 * connect strategy (direct, relayed, then NAT strategies, as configured). */
RATS_API rats_error_t rats_connect_with_strategy(rats_client_t client, const char* host, int port,
                                                 rats_connection_strategy_t strategy);
RATS_API rats_error_t rats_disconnect_peer_by_id(rats_client_t client, const char* peer_id);

/* Binary data operations */
RATS_API rats_error_t rats_send_binary(rats_client_t client, const char* peer_id,
                                       const void* data, size_t size);
RATS_API int rats_broadcast_binary(rats_client_t client, const void* data, size_t size);

/* JSON operations (a rats typed message of type "json"; the JSON callback receives them) */
RATS_API rats_error_t rats_send_json(rats_client_t client, const char* peer_id, const char* json_str);
RATS_API int rats_broadcast_json(rats_client_t client, const char* json_str);

/* DHT Discovery (BitTorrent mainline DHT). rats starts its plugins with the node: before
 * rats_start, start/stop switch the "dht" plugin on/off for the start (start also sets its
 * UDP port, 0 = any); while running they start/stop the running DHT (the port stays the one
 * it started with). The DHT bootstraps from the "dht": {"bootstrap": [...]} setting (default:
 * the public routers). rats_announce_for_hash: content_hash is 40 hex characters; port <= 0
 * announces our TCP port; RATS_ERROR_OPERATION_FAILED when no DHT node took it. */
RATS_API rats_error_t rats_start_dht_discovery(rats_client_t client, int dht_port);
RATS_API void rats_stop_dht_discovery(rats_client_t client);
RATS_API int rats_is_dht_running(rats_client_t client);
RATS_API rats_error_t rats_announce_for_hash(rats_client_t client, const char* content_hash, int port);
RATS_API size_t rats_get_dht_routing_table_size(rats_client_t client);

/* Automatic discovery: the DHT's discovery loop (announces our discovery hash and looks it
 * up, connecting to the peers found). Before rats_start: switch the DHT and its loop on or
 * off for the start; while running: start/stop the DHT. The discovery hash is
 * SHA-1(protocol_name + "_peer_discovery_v" + protocol_version) in hex, as in librats. */
RATS_API void rats_start_automatic_peer_discovery(rats_client_t client);
RATS_API void rats_stop_automatic_peer_discovery(rats_client_t client);
RATS_API int rats_is_automatic_discovery_running(rats_client_t client);
RATS_API char* rats_get_discovery_hash(rats_client_t client); /* caller must free */
RATS_API char* rats_get_rats_peer_discovery_hash(void); /* rats' default protocol; caller must free */

/* mDNS Discovery (local network). service_name becomes rats' mDNS instance name (NULL or
 * "": rats' default). Before rats_start: start/stop switch the "mdns" plugin on/off for the
 * start; while running they (re)start/stop it (RATS_ERROR_OPERATION_FAILED when the plugin
 * is off). rats_query_mdns_services: RATS_ERROR_NOT_RUNNING before start,
 * RATS_ERROR_OPERATION_FAILED when mDNS does not run. */
RATS_API rats_error_t rats_start_mdns_discovery(rats_client_t client, const char* service_name);
RATS_API void rats_stop_mdns_discovery(rats_client_t client);
RATS_API int rats_is_mdns_running(rats_client_t client);
RATS_API rats_error_t rats_query_mdns_services(rats_client_t client);

/* Encryption (Noise XX, on by default; off only for debugging, before rats_start) */
RATS_API rats_error_t rats_set_encryption_enabled(rats_client_t client, int enabled);
RATS_API int rats_is_encryption_enabled(rats_client_t client);
/* The "encryption key" is the node's static key: the secret key of its Ed25519 identity, 64
 * hex characters (Noise's static key and the peer id derive from it). Setting or generating
 * one replaces the identity (new peer id); before rats_start only (set:
 * RATS_ERROR_OPERATION_FAILED, generate: NULL while running). Keep the returned strings
 * secret. caller must free */
RATS_API char* rats_get_encryption_key(rats_client_t client);
RATS_API rats_error_t rats_set_encryption_key(rats_client_t client, const char* key_hex);
RATS_API char* rats_generate_encryption_key(rats_client_t client);
RATS_API int rats_is_peer_encrypted(rats_client_t client, const char* peer_id);

/* Protocol configuration (before rats_start) */
RATS_API rats_error_t rats_set_protocol_name(rats_client_t client, const char* protocol_name);
RATS_API rats_error_t rats_set_protocol_version(rats_client_t client, const char* protocol_version);
RATS_API char* rats_get_protocol_name(rats_client_t client); /* caller must free */
RATS_API char* rats_get_protocol_version(rats_client_t client); /* caller must free */

/* Message Exchange API (typed JSON messages) */
RATS_API rats_error_t rats_on_message(rats_client_t client, const char* message_type,
                                      rats_message_cb callback, void* user_data);
RATS_API rats_error_t rats_send_message(rats_client_t client, const char* peer_id,
                                        const char* message_type, const char* data);
RATS_API rats_error_t rats_broadcast_message(rats_client_t client, const char* message_type,
                                             const char* data);

/* Callbacks (NULL removes; they work before and after rats_start) */
RATS_API void rats_set_connection_callback(rats_client_t client, rats_connection_cb cb, void* user_data);
RATS_API void rats_set_string_callback(rats_client_t client, rats_string_cb cb, void* user_data);
RATS_API void rats_set_binary_callback(rats_client_t client, rats_binary_cb cb, void* user_data);
RATS_API void rats_set_json_callback(rats_client_t client, rats_json_cb cb, void* user_data);
RATS_API void rats_set_disconnect_callback(rats_client_t client, rats_disconnect_cb cb, void* user_data);
RATS_API void rats_set_peer_discovered_callback(rats_client_t client, rats_peer_discovered_cb cb, void* user_data); /* every discovery source */

/* File Transfer (rats-transfer: chunked, SHA-256 verified, resumable). Transfer ids are
 * 32 hex characters. rats_send_* / rats_request_* return the id once the offer or request is
 * sent (NULL: bad arguments, not running, peer not connected, unreadable source); the
 * outcome comes through the progress callback. Offers to us are announced by the request
 * callbacks and answered with rats_accept_* / rats_reject_* (without a request callback they
 * are refused; unanswered ones are refused after transfer.offer_timeout_ms, 120 s). Pulls
 * from us are served only below the "transfer": {"shared_root": DIR} setting. */
RATS_API char* rats_send_file(rats_client_t client, const char* peer_id,
                              const char* file_path, const char* remote_filename); /* returns transfer_id, caller must free */
RATS_API char* rats_send_directory(rats_client_t client, const char* peer_id, const char* directory_path, const char* remote_directory_name, int recursive); /* returns transfer_id, caller must free */
RATS_API char* rats_request_file(rats_client_t client, const char* peer_id, const char* remote_file_path, const char* local_path); /* returns transfer_id, caller must free */
RATS_API char* rats_request_directory(rats_client_t client, const char* peer_id, const char* remote_directory_path, const char* local_directory_path, int recursive); /* whole tree; returns transfer_id, caller must free */
RATS_API rats_error_t rats_accept_file_transfer(rats_client_t client, const char* transfer_id,
                                                const char* local_path); /* saved as local_path */
RATS_API rats_error_t rats_reject_file_transfer(rats_client_t client, const char* transfer_id,
                                                const char* reason);
RATS_API rats_error_t rats_cancel_file_transfer(rats_client_t client, const char* transfer_id);
RATS_API rats_error_t rats_accept_directory_transfer(rats_client_t client, const char* transfer_id, const char* local_path); /* root saved as local_path */
RATS_API rats_error_t rats_reject_directory_transfer(rats_client_t client, const char* transfer_id, const char* reason);
RATS_API rats_error_t rats_pause_file_transfer(rats_client_t client, const char* transfer_id);
RATS_API rats_error_t rats_resume_file_transfer(rats_client_t client, const char* transfer_id);
/* librats' keys transfer_id, filename, local_path, peer_id, bytes_transferred, total_bytes,
 * completion_percentage, status (0 PENDING, 1 STARTING, 2 IN_PROGRESS, 3 PAUSED, 4 COMPLETED,
 * 5 FAILED, 6 CANCELLED, 7 RESUMING), direction (0 sending, 1 receiving), plus rats'
 * status_text, state, kind, files, files_completed, rate_bytes_per_sec, eta_secs. NULL for
 * an unknown transfer. caller must free */
RATS_API char* rats_get_file_transfer_progress_json(rats_client_t client, const char* transfer_id);
RATS_API char* rats_get_file_transfer_statistics_json(rats_client_t client); /* caller must free */

/* File transfer callbacks (on the client's callback thread; NULL removes). The progress
 * callback reports every transfer with librats' status strings "STARTING", "IN_PROGRESS",
 * "PAUSED", "RESUMING", "COMPLETED", "FAILED", "CANCELLED"; the directory progress callback
 * reports directory transfers (current_file: the file just completed, or ""). */
typedef void (*rats_file_request_cb)(void* user_data, const char* peer_id, const char* transfer_id, const char* remote_path, const char* filename);
typedef void (*rats_directory_request_cb)(void* user_data, const char* peer_id, const char* transfer_id, const char* remote_path, const char* directory_name);
typedef void (*rats_directory_progress_cb)(void* user_data, const char* transfer_id, int files_completed, int total_files, const char* current_file);
typedef void (*rats_file_progress_cb)(void* user_data, const char* transfer_id, int progress_percent, const char* status);

RATS_API void rats_set_file_request_callback(rats_client_t client, rats_file_request_cb cb, void* user_data);
RATS_API void rats_set_directory_request_callback(rats_client_t client, rats_directory_request_cb cb, void* user_data);
RATS_API void rats_set_file_progress_callback(rats_client_t client, rats_file_progress_cb cb, void* user_data);
RATS_API void rats_set_directory_progress_callback(rats_client_t client, rats_directory_progress_cb cb, void* user_data);

/* GossipSub (rats-gossipsub). Topics need a started client (RATS_ERROR_NOT_RUNNING before
 * rats_start); subscribing twice or leaving a topic not joined is RATS_SUCCESS; a topic is
 * 1..256 bytes (else RATS_ERROR_INVALID_PARAMETER). Messages are signed by their origin and
 * delivered once. rats_is_gossipsub_available: 1 unless the "gossipsub" plugin is switched
 * off (disabled_plugins); rats_is_gossipsub_running: started and available. */
RATS_API int rats_is_gossipsub_available(rats_client_t client);
RATS_API int rats_is_gossipsub_running(rats_client_t client);
RATS_API rats_error_t rats_subscribe_to_topic(rats_client_t client, const char* topic);
RATS_API rats_error_t rats_unsubscribe_from_topic(rats_client_t client, const char* topic);
RATS_API int rats_is_subscribed_to_topic(rats_client_t client, const char* topic);
RATS_API char** rats_get_subscribed_topics(rats_client_t client, int* count); /* caller must free array and strings */
RATS_API rats_error_t rats_publish_to_topic(rats_client_t client, const char* topic, const char* message);
RATS_API rats_error_t rats_publish_json_to_topic(rats_client_t client, const char* topic, const char* json_str); /* RATS_ERROR_JSON_PARSE if not JSON */
RATS_API char** rats_get_topic_peers(rats_client_t client, const char* topic, int* count); /* connected peers subscribed to topic; caller must free array and strings */
RATS_API char** rats_get_topic_mesh_peers(rats_client_t client, const char* topic, int* count); /* our mesh peers for topic; caller must free array and strings */
/* rats' counters: running, subscribed_topics, topics {topic: {peers, mesh_peers}},
 * messages_published, messages_delivered, messages_forwarded, duplicates, rejected, ignored,
 * dropped, copies_sent, graylisted, cached_messages, mesh_sizes; {"running":false} when not
 * running. caller must free */
RATS_API char* rats_get_gossipsub_statistics_json(rats_client_t client);

/* GossipSub callbacks: per topic, on the client's callback thread; NULL removes; set before
 * or after rats_start. peer_id of a message is its origin. The JSON callback gets messages
 * whose payload is JSON (compact); the message callback gets every message as text. */
typedef void (*rats_topic_message_cb)(void* user_data, const char* peer_id, const char* topic, const char* message);
typedef void (*rats_topic_json_message_cb)(void* user_data, const char* peer_id, const char* topic, const char* json_str);
typedef void (*rats_topic_peer_joined_cb)(void* user_data, const char* peer_id, const char* topic);
typedef void (*rats_topic_peer_left_cb)(void* user_data, const char* peer_id, const char* topic);

RATS_API void rats_set_topic_message_callback(rats_client_t client, const char* topic, rats_topic_message_cb cb, void* user_data);
RATS_API void rats_set_topic_json_message_callback(rats_client_t client, const char* topic, rats_topic_json_message_cb cb, void* user_data);
RATS_API void rats_set_topic_peer_joined_callback(rats_client_t client, const char* topic, rats_topic_peer_joined_cb cb, void* user_data);
RATS_API void rats_set_topic_peer_left_callback(rats_client_t client, const char* topic, rats_topic_peer_left_cb cb, void* user_data);
RATS_API void rats_clear_topic_callbacks(rats_client_t client, const char* topic); /* removes the topic's four callbacks */

/* NAT Traversal and STUN (the "stun" plugin of rats-nat). rats_discover_and_ignore_public_ip
 * asks stun_server:stun_port (port <= 0: 3478; NULL server: the configured stun.servers,
 * default public ones) and waits; the IP is remembered and ignored (rats_connect refuses
 * ignored addresses). rats_detect_nat_type runs the RFC 5780 tests against the configured
 * servers and returns librats' numbers: 0 unknown, 1 open internet, 2 full cone,
 * 3 restricted cone, 4 port-restricted cone, 5 symmetric, 6 blocked. The JSON functions
 * return NULL when the client is not running. */
RATS_API rats_error_t rats_discover_and_ignore_public_ip(rats_client_t client, const char* stun_server, int stun_port);
RATS_API char* rats_get_public_ip(rats_client_t client); /* NULL when unknown; caller must free */
RATS_API int rats_detect_nat_type(rats_client_t client); /* Returns NAT type as integer */
RATS_API char* rats_get_nat_characteristics_json(rats_client_t client); /* caller must free */
RATS_API void rats_add_ignored_address(rats_client_t client, const char* ip_address);
RATS_API char* rats_get_nat_traversal_statistics_json(rats_client_t client); /* caller must free */

/* ICE (RFC 8445). rats' flow: each side calls rats_create_ice_offer for the other's peer id
 * and sends the offer (JSON: ufrag, pwd, candidates) over the application's signalling;
 * then each passes the other's offer to rats_connect_with_ice or rats_handle_ice_answer (the
 * same), which waits until the rats connection runs over QUIC on the nominated pair. The
 * side with the smaller peer id controls. Candidates: host ones (loopback only when the
 * client listens on loopback only), server-reflexive ones from stun.servers when the "stun"
 * plugin is on, a relay one from the "turn" section. RATS_ERROR_OPERATION_FAILED when no
 * offer of ours for that peer exists or the checks fail; RATS_ERROR_JSON_PARSE for text that
 * is not JSON; RATS_ERROR_INVALID_PARAMETER for JSON that is not an offer. */
RATS_API char* rats_create_ice_offer(rats_client_t client, const char* peer_id); /* caller must free JSON string */
RATS_API rats_error_t rats_connect_with_ice(rats_client_t client, const char* peer_id, const char* ice_offer_json);
RATS_API rats_error_t rats_handle_ice_answer(rats_client_t client, const char* peer_id, const char* ice_answer_json);

/* Configuration persistence (rats-persist). The data directory holds the identity
 * (identity.key), config.json (read at rats_start) and the peer store (peers.rats,
 * peers_ever.rats), and is locked by the running client. rats_set_data_directory: before
 * rats_start only; the client takes the directory's identity (created if missing), so its
 * peer id changes. Load checks config.json (created with defaults if missing); save writes
 * the setters' values into it. Historical peers are those of peers.rats (connected when
 * last saved; rats saves periodically and at stop, and reconnects to them at start). */
RATS_API rats_error_t rats_load_configuration(rats_client_t client);
RATS_API rats_error_t rats_save_configuration(rats_client_t client);
RATS_API rats_error_t rats_set_data_directory(rats_client_t client, const char* directory_path);
RATS_API char* rats_get_data_directory(rats_client_t client); /* "" when none; caller must free */
RATS_API int rats_load_and_reconnect_peers(rats_client_t client); /* peers it will try */
RATS_API int rats_load_historical_peers(rats_client_t client); /* 1: peers.rats readable */
RATS_API int rats_save_historical_peers(rats_client_t client); /* 1: saved */
RATS_API void rats_clear_historical_peers(rats_client_t client);
RATS_API char** rats_get_historical_peer_ids(rats_client_t client, int* count); /* caller must free array and strings */

/* ===================== rats extensions ===================== */

/* rats extension: sets rats node configuration keys from a JSON object, as in rats'
 * config.json, before rats_start; later calls add to and override earlier ones. Example:
 * {"disabled_plugins": ["dht", "mdns", "stun", "portmap", "holepunch"]} keeps a client off
 * the network except for the addresses it is told to connect to.
 * RATS_ERROR_JSON_PARSE: not JSON; RATS_ERROR_INVALID_PARAMETER: not an object or an invalid
 * setting; RATS_ERROR_OPERATION_FAILED: the client is running. */
RATS_API rats_error_t rats_set_config_json(rats_client_t client, const char* json);

/* rats extension: looks content_hash (40 hex characters) up in the DHT and returns the peers
 * found as "ip:port" ("[v6]:port") strings; NULL with *count == 0 when none were found, the
 * DHT does not run, or for bad arguments. Waits for the lookup. caller must free array and
 * strings */
RATS_API char** rats_find_peers_for_hash(rats_client_t client, const char* content_hash, int* count);

#ifdef __cplusplus
} /* extern "C" */
#endif
