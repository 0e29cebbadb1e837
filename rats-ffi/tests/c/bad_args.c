/* NULL handles, destroyed handles, NULL and malformed arguments for every function of the
 * header: librats' error codes (or 0 / NULL), never a crash. Nothing here reaches the
 * network: the one client started listens on loopback with the network plugins off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "librats_c.h"
#include "check.h"

static void cb2(void* ud, const char* p) { (void)ud; (void)p; }
static void cb3(void* ud, const char* p, const char* m) { (void)ud; (void)p; (void)m; }
static void cbb(void* ud, const char* p, const void* d, size_t n) { (void)ud; (void)p; (void)d; (void)n; }
static void cb5(void* ud, const char* p, const char* t, const char* r, const char* f) { (void)ud; (void)p; (void)t; (void)r; (void)f; }
static void cbp(void* ud, const char* t, int pc, const char* s) { (void)ud; (void)t; (void)pc; (void)s; }
static void cbd(void* ud, const char* t, int d, int n, const char* f) { (void)ud; (void)t; (void)d; (void)n; (void)f; }
static const char* TID = "0123456789abcdef0123456789abcdef";
static void cbdisc(void* ud, const char* h, int p, const char* s) { (void)ud; (void)h; (void)p; (void)s; }
static void cb4(void* ud, const char* p, const char* t, const char* m) { (void)ud; (void)p; (void)t; (void)m; }

/* A well-formed peer id of no connected peer (filled in by main). */
static char PEER[80];

/* Every function with handle `h` (NULL, destroyed or made up). */
static void all_invalid(rats_client_t h) {
    int n = 7;
    CHECK(rats_start(h) == RATS_ERROR_INVALID_HANDLE);
    rats_stop(h);
    rats_destroy(h);
    CHECK(rats_set_config_json(h, "{}") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_connect(h, "127.0.0.1", 1) == 0);
    CHECK(rats_connect_with_strategy(h, "127.0.0.1", 1, RATS_STRATEGY_AUTO_ADAPTIVE) ==
          RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_connect_with_strategy(h, "127.0.0.1", 1, 99) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_get_listen_port(h) == 0);
    CHECK(rats_broadcast_string(h, "x") == 0);
    CHECK(rats_send_string(h, PEER, "x") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_get_peer_count(h) == 0);
    CHECK(rats_get_our_peer_id(h) == NULL);
    CHECK(rats_get_peer_ids(h, &n) == NULL && n == 0);
    n = 7;
    CHECK(rats_get_validated_peer_ids(h, &n) == NULL && n == 0);
    CHECK(rats_get_peer_info_json(h, PEER) == NULL);
    CHECK(rats_set_max_peers(h, 5) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_get_max_peers(h) == 0);
    CHECK(rats_is_peer_limit_reached(h) == 0);
    CHECK(rats_disconnect_peer_by_id(h, PEER) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_send_binary(h, PEER, "x", 1) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_broadcast_binary(h, "x", 1) == 0);
    CHECK(rats_send_json(h, PEER, "{}") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_broadcast_json(h, "{}") == 0);
    CHECK(rats_set_encryption_enabled(h, 1) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_is_encryption_enabled(h) == 0);
    CHECK(rats_is_peer_encrypted(h, PEER) == 0);
    CHECK(rats_set_protocol_name(h, "x") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_set_protocol_version(h, "1") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_get_protocol_name(h) == NULL);
    CHECK(rats_get_protocol_version(h) == NULL);
    CHECK(rats_on_message(h, "t", cb3, NULL) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_send_message(h, PEER, "t", "{}") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_broadcast_message(h, "t", "{}") == RATS_ERROR_INVALID_HANDLE);
    rats_set_connection_callback(h, cb2, NULL);
    rats_set_string_callback(h, cb3, NULL);
    rats_set_binary_callback(h, cbb, NULL);
    rats_set_json_callback(h, cb3, NULL);
    rats_set_disconnect_callback(h, cb2, NULL);
    /* GossipSub */
    CHECK(rats_is_gossipsub_available(h) == 0);
    CHECK(rats_is_gossipsub_running(h) == 0);
    CHECK(rats_subscribe_to_topic(h, "t") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_unsubscribe_from_topic(h, "t") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_is_subscribed_to_topic(h, "t") == 0);
    n = 7;
    CHECK(rats_get_subscribed_topics(h, &n) == NULL && n == 0);
    CHECK(rats_publish_to_topic(h, "t", "x") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_publish_json_to_topic(h, "t", "{}") == RATS_ERROR_INVALID_HANDLE);
    n = 7;
    CHECK(rats_get_topic_peers(h, "t", &n) == NULL && n == 0);
    n = 7;
    CHECK(rats_get_topic_mesh_peers(h, "t", &n) == NULL && n == 0);
    CHECK(rats_get_gossipsub_statistics_json(h) == NULL);
    rats_set_topic_message_callback(h, "t", cb4, NULL);
    rats_set_topic_json_message_callback(h, "t", cb4, NULL);
    rats_set_topic_peer_joined_callback(h, "t", cb3, NULL);
    rats_set_topic_peer_left_callback(h, "t", cb3, NULL);
    rats_clear_topic_callbacks(h, "t");
    /* Statistics, logging, keys, data directory */
    CHECK(rats_get_connection_statistics_json(h) == NULL);
    rats_set_log_file_path(h, "/nonexistent/x.log");
    CHECK(rats_get_log_file_path(h) == NULL);
    rats_set_log_colors_enabled(h, 1);
    CHECK(rats_is_log_colors_enabled(h) == 0);
    rats_set_log_timestamps_enabled(h, 1);
    CHECK(rats_is_log_timestamps_enabled(h) == 0);
    rats_set_log_rotation_size(h, 10);
    rats_set_log_retention_count(h, 1);
    rats_clear_log_file(h);
    CHECK(rats_get_encryption_key(h) == NULL);
    CHECK(rats_set_encryption_key(h, "00") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_generate_encryption_key(h) == NULL);
    CHECK(rats_load_configuration(h) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_save_configuration(h) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_set_data_directory(h, "/tmp") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_get_data_directory(h) == NULL);
    CHECK(rats_load_and_reconnect_peers(h) == 0);
    CHECK(rats_load_historical_peers(h) == 0);
    CHECK(rats_save_historical_peers(h) == 0);
    rats_clear_historical_peers(h);
    n = 7;
    CHECK(rats_get_historical_peer_ids(h, &n) == NULL && n == 0);
    /* ICE */
    CHECK(rats_create_ice_offer(h, PEER) == NULL);
    CHECK(rats_connect_with_ice(h, PEER, "{}") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_handle_ice_answer(h, PEER, "{}") == RATS_ERROR_INVALID_HANDLE);
    /* STUN / NAT */
    CHECK(rats_discover_and_ignore_public_ip(h, "127.0.0.1", 1) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_get_public_ip(h) == NULL);
    CHECK(rats_detect_nat_type(h) == 0);
    CHECK(rats_get_nat_characteristics_json(h) == NULL);
    rats_add_ignored_address(h, "127.0.0.1");
    CHECK(rats_get_nat_traversal_statistics_json(h) == NULL);
    /* DHT, discovery, mDNS */
    CHECK(rats_start_dht_discovery(h, 0) == RATS_ERROR_INVALID_HANDLE);
    rats_stop_dht_discovery(h);
    CHECK(rats_is_dht_running(h) == 0);
    CHECK(rats_announce_for_hash(h, "0123456789abcdef0123456789abcdef01234567", 1) ==
          RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_get_dht_routing_table_size(h) == 0);
    rats_start_automatic_peer_discovery(h);
    rats_stop_automatic_peer_discovery(h);
    CHECK(rats_is_automatic_discovery_running(h) == 0);
    CHECK(rats_get_discovery_hash(h) == NULL);
    n = 7;
    CHECK(rats_find_peers_for_hash(h, "0123456789abcdef0123456789abcdef01234567", &n) == NULL && n == 0);
    CHECK(rats_start_mdns_discovery(h, "x") == RATS_ERROR_INVALID_HANDLE);
    rats_stop_mdns_discovery(h);
    CHECK(rats_is_mdns_running(h) == 0);
    CHECK(rats_query_mdns_services(h) == RATS_ERROR_INVALID_HANDLE);
    rats_set_peer_discovered_callback(h, cbdisc, NULL);
    /* File transfer */
    CHECK(rats_send_file(h, PEER, "/etc/hostname", NULL) == NULL);
    CHECK(rats_send_directory(h, PEER, "/etc", NULL, 1) == NULL);
    CHECK(rats_request_file(h, PEER, "x", "/tmp/x") == NULL);
    CHECK(rats_request_directory(h, PEER, "x", "/tmp/x", 1) == NULL);
    CHECK(rats_accept_file_transfer(h, TID, "/tmp/x") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_reject_file_transfer(h, TID, "r") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_cancel_file_transfer(h, TID) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_accept_directory_transfer(h, TID, "/tmp/x") == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_reject_directory_transfer(h, TID, NULL) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_pause_file_transfer(h, TID) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_resume_file_transfer(h, TID) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_get_file_transfer_progress_json(h, TID) == NULL);
    CHECK(rats_get_file_transfer_statistics_json(h) == NULL);
    rats_set_file_request_callback(h, cb5, NULL);
    rats_set_directory_request_callback(h, cb5, NULL);
    rats_set_file_progress_callback(h, cbp, NULL);
    rats_set_directory_progress_callback(h, cbd, NULL);
    /* NULL arguments too. */
    CHECK(rats_get_peer_ids(h, NULL) == NULL);
    CHECK(rats_get_peer_info_json(h, NULL) == NULL);
    CHECK(rats_send_string(h, NULL, NULL) == RATS_ERROR_INVALID_HANDLE);
}

/* A live client, with NULL and malformed arguments; `running` says whether it is started. */
static void bad_args(rats_client_t c, int running) {
    int n = 7;
    CHECK(rats_set_config_json(c, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_config_json(c, "{oops") == RATS_ERROR_JSON_PARSE);
    CHECK(rats_set_config_json(c, "[1]") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_config_json(c, "{\"max_peers\": \"many\"}") ==
          (running ? RATS_ERROR_OPERATION_FAILED : RATS_ERROR_INVALID_PARAMETER));
    CHECK(rats_connect(c, NULL, 1) == 0);
    CHECK(rats_connect(c, "127.0.0.1", -1) == 0);
    CHECK(rats_connect(c, "127.0.0.1", 70000) == 0);
    CHECK(rats_connect(c, "", 1) == 0);
    CHECK(rats_connect_with_strategy(c, NULL, 1, RATS_STRATEGY_DIRECT_ONLY) ==
          RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_connect_with_strategy(c, "127.0.0.1", 1, 99) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_connect_with_strategy(c, "127.0.0.1", 1, -1) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_broadcast_string(c, NULL) == 0);
    CHECK(rats_send_string(c, NULL, "x") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_send_string(c, PEER, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_send_string(c, "zz", "x") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_get_peer_ids(c, NULL) == NULL);
    CHECK(rats_get_validated_peer_ids(c, NULL) == NULL);
    CHECK(rats_get_peer_ids(c, &n) == NULL && n == 0);
    CHECK(rats_get_peer_info_json(c, NULL) == NULL);
    CHECK(rats_get_peer_info_json(c, "zz") == NULL);
    CHECK(rats_get_peer_info_json(c, PEER) == NULL);
    CHECK(rats_set_max_peers(c, 0) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_max_peers(c, -3) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_disconnect_peer_by_id(c, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_disconnect_peer_by_id(c, "zz") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_send_binary(c, PEER, NULL, 3) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_send_binary(c, PEER, "x", 0) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_send_binary(c, NULL, "x", 1) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_broadcast_binary(c, NULL, 3) == 0);
    CHECK(rats_broadcast_binary(c, "x", 0) == 0);
    CHECK(rats_send_json(c, PEER, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_send_json(c, PEER, "{x") == RATS_ERROR_JSON_PARSE);
    CHECK(rats_send_json(c, NULL, "{}") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_broadcast_json(c, NULL) == 0);
    CHECK(rats_broadcast_json(c, "nope") == 0);
    CHECK(rats_is_peer_encrypted(c, NULL) == 0);
    CHECK(rats_is_peer_encrypted(c, "zz") == 0);
    CHECK(rats_set_protocol_name(c, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_protocol_name(c, "") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_protocol_version(c, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_on_message(c, NULL, cb3, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_on_message(c, "t", NULL, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_on_message(c, "", cb3, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_send_message(c, PEER, NULL, "{}") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_send_message(c, PEER, "t", NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_send_message(c, NULL, "t", "{}") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_broadcast_message(c, NULL, "{}") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_broadcast_message(c, "t", NULL) == RATS_ERROR_INVALID_PARAMETER);
    /* GossipSub */
    int want = RATS_ERROR_INVALID_PARAMETER; /* NULL topic: checked first */
    CHECK(rats_subscribe_to_topic(c, NULL) == want);
    CHECK(rats_unsubscribe_from_topic(c, NULL) == want);
    CHECK(rats_is_subscribed_to_topic(c, NULL) == 0);
    CHECK(rats_get_subscribed_topics(c, NULL) == NULL);
    CHECK(rats_publish_to_topic(c, NULL, "x") == want);
    CHECK(rats_publish_to_topic(c, "t", NULL) == (running ? RATS_ERROR_INVALID_PARAMETER : RATS_ERROR_NOT_RUNNING));
    CHECK(rats_publish_json_to_topic(c, NULL, "{}") == want);
    CHECK(rats_publish_json_to_topic(c, "t", "{x") == (running ? RATS_ERROR_JSON_PARSE : RATS_ERROR_NOT_RUNNING));
    CHECK(rats_get_topic_peers(c, NULL, &n) == NULL && n == 0);
    CHECK(rats_get_topic_mesh_peers(c, NULL, NULL) == NULL);
    CHECK(rats_get_topic_peers(c, "t", NULL) == NULL);
    CHECK(rats_subscribe_to_topic(c, "") == (running ? RATS_ERROR_INVALID_PARAMETER : RATS_ERROR_NOT_RUNNING));
    char long_topic[300];
    memset(long_topic, 'a', sizeof long_topic - 1);
    long_topic[sizeof long_topic - 1] = 0;
    CHECK(rats_subscribe_to_topic(c, long_topic) == (running ? RATS_ERROR_INVALID_PARAMETER : RATS_ERROR_NOT_RUNNING));
    rats_set_topic_message_callback(c, NULL, cb4, NULL);
    rats_set_topic_message_callback(c, "t", NULL, NULL);
    rats_set_topic_json_message_callback(c, NULL, NULL, NULL);
    rats_set_topic_peer_joined_callback(c, NULL, cb3, NULL);
    rats_set_topic_peer_left_callback(c, "t", NULL, NULL);
    rats_clear_topic_callbacks(c, NULL);
    char* gs = rats_get_gossipsub_statistics_json(c);
    CHECK(gs != NULL);
    free(gs);
    /* Statistics, logging, keys, data directory */
    char* cs = rats_get_connection_statistics_json(c);
    CHECK(cs && strstr(cs, running ? "\"running\":true" : "\"running\":false"));
    free(cs);
    rats_set_log_level(NULL);
    rats_set_log_file_path(c, NULL);
    rats_set_log_retention_count(c, -1);
    CHECK(rats_set_encryption_key(c, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_encryption_key(c, "abc") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_encryption_key(c, "zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") ==
          RATS_ERROR_INVALID_PARAMETER);
    char* key = rats_get_encryption_key(c);
    CHECK(key && strlen(key) == 64);
    CHECK(rats_set_encryption_key(c, key) == (running ? RATS_ERROR_OPERATION_FAILED : RATS_SUCCESS));
    free(key);
    if (running) CHECK(rats_generate_encryption_key(c) == NULL);
    CHECK(rats_set_data_directory(c, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_data_directory(c, "") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_data_directory(c, "/proc/version/not-a-dir") == RATS_ERROR_OPERATION_FAILED);
    char* dd = rats_get_data_directory(c);
    CHECK(dd && dd[0] == 0);
    free(dd);
    CHECK(rats_load_configuration(c) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_save_configuration(c) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_load_historical_peers(c) == 0);
    CHECK(rats_save_historical_peers(c) == 0);
    rats_clear_historical_peers(c);
    CHECK(rats_get_historical_peer_ids(c, NULL) == NULL);
    CHECK(rats_load_and_reconnect_peers(c) == 0);
    /* ICE */
    CHECK(rats_create_ice_offer(c, NULL) == NULL);
    CHECK(rats_create_ice_offer(c, "zz") == NULL);
    CHECK(rats_connect_with_ice(c, NULL, "{}") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_connect_with_ice(c, PEER, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_connect_with_ice(c, PEER, "{x") == RATS_ERROR_JSON_PARSE);
    CHECK(rats_handle_ice_answer(c, PEER, "[1]") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_handle_ice_answer(c, "zz", "{}") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_connect_with_ice(c, PEER,
                                "{\"ufrag\":\"abcd\",\"pwd\":\"0123456789012345678901\",\"candidates\":[]}") ==
          (running ? RATS_ERROR_OPERATION_FAILED : RATS_ERROR_NOT_RUNNING));
    /* STUN / NAT (the client's stun plugin is off; nothing is sent) */
    CHECK(rats_discover_and_ignore_public_ip(c, "", 1) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_discover_and_ignore_public_ip(c, "127.0.0.1", 65536) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_discover_and_ignore_public_ip(c, NULL, 0) ==
          (running ? RATS_ERROR_OPERATION_FAILED : RATS_ERROR_NOT_RUNNING));
    CHECK(rats_detect_nat_type(c) == 0);
    rats_add_ignored_address(c, NULL);
    rats_add_ignored_address(c, "nonsense");
    char* nj = rats_get_nat_characteristics_json(c);
    CHECK(running ? nj != NULL : nj == NULL);
    free(nj);
    nj = rats_get_nat_traversal_statistics_json(c);
    CHECK(running ? nj != NULL : nj == NULL);
    free(nj);
    /* DHT, discovery, mDNS (the client's DHT and mDNS plugins are off) */
    CHECK(rats_start_dht_discovery(c, -1) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_start_dht_discovery(c, 65536) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_announce_for_hash(c, NULL, 1) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_announce_for_hash(c, "xyz", 1) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_announce_for_hash(c, "g123456789abcdef0123456789abcdef01234567", 1) ==
          RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_announce_for_hash(c, "0123456789abcdef0123456789abcdef01234567", 1) ==
          (running ? RATS_ERROR_OPERATION_FAILED : RATS_ERROR_NOT_RUNNING));
    CHECK(rats_find_peers_for_hash(c, NULL, &n) == NULL && n == 0);
    CHECK(rats_find_peers_for_hash(c, "0123456789abcdef0123456789abcdef01234567", NULL) == NULL);
    char* dh = rats_get_discovery_hash(c);
    CHECK(dh && strlen(dh) == 40);
    free(dh);
    CHECK(rats_is_dht_running(c) == 0 && rats_is_mdns_running(c) == 0);
    CHECK(rats_query_mdns_services(c) == (running ? RATS_ERROR_OPERATION_FAILED : RATS_ERROR_NOT_RUNNING));
    if (running) {
        CHECK(rats_start_dht_discovery(c, 0) == RATS_ERROR_OPERATION_FAILED);
        CHECK(rats_start_mdns_discovery(c, NULL) == RATS_ERROR_OPERATION_FAILED);
        rats_stop_dht_discovery(c);
        rats_stop_mdns_discovery(c);
        rats_start_automatic_peer_discovery(c);
        rats_stop_automatic_peer_discovery(c);
        CHECK(rats_is_automatic_discovery_running(c) == 0);
    }
    rats_set_peer_discovered_callback(c, NULL, NULL);
    /* File transfer */
    CHECK(rats_send_file(c, NULL, "/etc/hostname", NULL) == NULL);
    CHECK(rats_send_file(c, PEER, NULL, NULL) == NULL);
    CHECK(rats_send_file(c, PEER, "/etc/hostname", NULL) == NULL); /* not connected */
    CHECK(rats_send_directory(c, PEER, NULL, NULL, 0) == NULL);
    CHECK(rats_send_directory(c, "zz", "/etc", "x", 0) == NULL);
    CHECK(rats_request_file(c, PEER, NULL, "/tmp/x") == NULL);
    CHECK(rats_request_file(c, PEER, "x", NULL) == NULL);
    CHECK(rats_request_file(c, PEER, "", "/tmp/x") == NULL);
    CHECK(rats_request_directory(c, NULL, "x", "/tmp/x", 0) == NULL);
    CHECK(rats_accept_file_transfer(c, NULL, "/tmp/x") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_accept_file_transfer(c, TID, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_accept_file_transfer(c, TID, "") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_accept_directory_transfer(c, NULL, "/tmp/x") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_reject_file_transfer(c, NULL, "r") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_reject_directory_transfer(c, NULL, NULL) == RATS_ERROR_INVALID_PARAMETER);
    int unknown = running ? RATS_ERROR_OPERATION_FAILED : RATS_ERROR_NOT_RUNNING;
    CHECK(rats_accept_file_transfer(c, TID, "/tmp/x") == unknown);
    CHECK(rats_reject_file_transfer(c, TID, NULL) == unknown);
    CHECK(rats_accept_directory_transfer(c, TID, "/tmp/x") == unknown);
    CHECK(rats_reject_directory_transfer(c, TID, "r") == unknown);
    CHECK(rats_cancel_file_transfer(c, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_cancel_file_transfer(c, "not-hex") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_pause_file_transfer(c, "abcd") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_resume_file_transfer(c, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_cancel_file_transfer(c, TID) == unknown);
    CHECK(rats_pause_file_transfer(c, TID) == unknown);
    CHECK(rats_resume_file_transfer(c, TID) == unknown);
    CHECK(rats_get_file_transfer_progress_json(c, NULL) == NULL);
    CHECK(rats_get_file_transfer_progress_json(c, TID) == NULL);
    char* ts = rats_get_file_transfer_statistics_json(c);
    CHECK(running ? ts != NULL : ts == NULL);
    free(ts);
    rats_set_file_request_callback(c, NULL, NULL);
    rats_set_directory_request_callback(c, NULL, NULL);
    rats_set_file_progress_callback(c, NULL, NULL);
    rats_set_directory_progress_callback(c, NULL, NULL);
    /* NULL callbacks remove; NULL user data is allowed. */
    rats_set_connection_callback(c, NULL, NULL);
    rats_set_string_callback(c, NULL, NULL);
    rats_set_binary_callback(c, NULL, NULL);
    rats_set_json_callback(c, NULL, NULL);
    rats_set_disconnect_callback(c, NULL, NULL);
    if (running) {
        /* Setters that rats fixes at start. */
        CHECK(rats_set_protocol_name(c, "x") == RATS_ERROR_OPERATION_FAILED);
        CHECK(rats_set_encryption_enabled(c, 0) == RATS_ERROR_OPERATION_FAILED);
        CHECK(rats_set_config_json(c, "{}") == RATS_ERROR_OPERATION_FAILED);
        CHECK(rats_send_string(c, PEER, "x") == RATS_ERROR_PEER_NOT_FOUND);
        CHECK(rats_broadcast_string(c, "x") == 0);
        CHECK(rats_broadcast_message(c, "t", "{}") == RATS_SUCCESS);
        CHECK(rats_publish_to_topic(c, "t", "nobody listens") == RATS_SUCCESS);
    } else {
        CHECK(rats_send_string(c, PEER, "x") == RATS_ERROR_NOT_RUNNING);
        CHECK(rats_send_binary(c, PEER, "x", 1) == RATS_ERROR_NOT_RUNNING);
        CHECK(rats_send_json(c, PEER, "{}") == RATS_ERROR_NOT_RUNNING);
        CHECK(rats_send_message(c, PEER, "t", "{}") == RATS_ERROR_NOT_RUNNING);
        CHECK(rats_broadcast_message(c, "t", "{}") == RATS_ERROR_NOT_RUNNING);
        CHECK(rats_disconnect_peer_by_id(c, PEER) == RATS_ERROR_NOT_RUNNING);
        CHECK(rats_connect(c, "127.0.0.1", 1) == 0);
        CHECK(rats_connect_with_strategy(c, "127.0.0.1", 1, RATS_STRATEGY_DIRECT_ONLY) ==
              RATS_ERROR_NOT_RUNNING);
        CHECK(rats_get_peer_count(c) == 0);
    }
}

int main(void) {
    /* Version strings are static and well-formed. */
    const char* v = rats_get_version_string();
    CHECK(v && strlen(v) >= 5);
    CHECK(rats_get_git_describe() != NULL);
    CHECK(rats_get_abi() >= 1);
    int major = -1, minor = -1, patch = -1, build = -1;
    rats_get_version(&major, &minor, &patch, &build);
    CHECK(major >= 0 && minor >= 0 && patch >= 0 && build == 0);
    rats_get_version(NULL, NULL, NULL, NULL);
    rats_string_free(NULL);

    rats_client_t other = rats_create(0);
    char* other_id = rats_get_our_peer_id(other);
    CHECK(other_id && strlen(other_id) == 64);
    snprintf(PEER, sizeof PEER, "%s", other_id);
    rats_string_free(other_id);
    rats_destroy(other);

    CHECK(rats_create(-1) == NULL);
    CHECK(rats_create(65536) == NULL);

    all_invalid(NULL);
    all_invalid((rats_client_t)(uintptr_t)0xdead0);

    rats_client_t c = rats_create(0);
    CHECK(c != NULL);
    CHECK(rats_set_config_json(c, "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", "
                                  "\"portmap\", \"holepunch\"], \"listen\": [\"tcp:127.0.0.1:0\"]}") ==
          RATS_SUCCESS);
    CHECK(rats_get_listen_port(c) == 0); /* before start: the port asked for */
    bad_args(c, 0);
    CHECK(rats_set_encryption_enabled(c, 1) == RATS_SUCCESS);
    CHECK(rats_is_encryption_enabled(c) == 1);
    CHECK(rats_start(c) == RATS_SUCCESS);
    CHECK(rats_get_listen_port(c) > 0);
    bad_args(c, 1);
    /* Nothing listens on port 1 of loopback: a failed connect is 0, not a crash. */
    CHECK(rats_connect(c, "127.0.0.1", 1) == 0);
    CHECK(rats_connect_with_strategy(c, "127.0.0.1", 1, RATS_STRATEGY_DIRECT_ONLY) ==
          RATS_ERROR_OPERATION_FAILED);
    rats_destroy(c);
    all_invalid(c);
    printf("bad_args: ok\n");
    return 0;
}
