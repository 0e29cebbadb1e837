/* Two clients in one process on 127.0.0.1: string, binary, JSON and typed messages both
 * ways, callbacks on both sides (one answering from inside its callback), peer lists and
 * peer info JSON, disconnect, stop, and no callback after rats_stop. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "librats_c.h"
#include "check.h"

static const char* LOCAL =
    "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\", \"holepunch\"]}";

typedef struct {
    const char* name;
    rats_client_t self;
    atomic_int connected, disconnected, strings, binaries, jsons, typed;
    pthread_mutex_t lock;
    char last_peer[80];
    char last_string[256];
    unsigned char last_binary[64];
    size_t last_binary_size;
    char last_json[256];
    char last_typed[256];
    int reply; /* answer "ping" from inside the string callback */
} side_t;

static void copy_str(side_t* s, char* dst, size_t cap, const char* src) {
    pthread_mutex_lock(&s->lock);
    snprintf(dst, cap, "%s", src);
    pthread_mutex_unlock(&s->lock);
}

static void on_connect(void* ud, const char* peer_id) {
    side_t* s = ud;
    CHECK(peer_id && strlen(peer_id) == 64);
    copy_str(s, s->last_peer, sizeof s->last_peer, peer_id);
    atomic_fetch_add(&s->connected, 1);
}

static void on_disconnect(void* ud, const char* peer_id) {
    side_t* s = ud;
    CHECK(peer_id && strlen(peer_id) == 64);
    atomic_fetch_add(&s->disconnected, 1);
}

static void on_string(void* ud, const char* peer_id, const char* msg) {
    side_t* s = ud;
    copy_str(s, s->last_string, sizeof s->last_string, msg);
    if (s->reply && strcmp(msg, "ping") == 0) {
        /* Calling back into the library from a callback must not deadlock. */
        CHECK(rats_send_string(s->self, peer_id, "pong") == RATS_SUCCESS);
    }
    atomic_fetch_add(&s->strings, 1);
}

static void on_binary(void* ud, const char* peer_id, const void* data, size_t size) {
    side_t* s = ud;
    (void)peer_id;
    pthread_mutex_lock(&s->lock);
    s->last_binary_size = size < sizeof s->last_binary ? size : sizeof s->last_binary;
    memcpy(s->last_binary, data, s->last_binary_size);
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->binaries, 1);
}

static void on_json(void* ud, const char* peer_id, const char* json) {
    side_t* s = ud;
    (void)peer_id;
    copy_str(s, s->last_json, sizeof s->last_json, json);
    atomic_fetch_add(&s->jsons, 1);
}

static void on_typed(void* ud, const char* peer_id, const char* data) {
    side_t* s = ud;
    (void)peer_id;
    copy_str(s, s->last_typed, sizeof s->last_typed, data);
    atomic_fetch_add(&s->typed, 1);
}

static rats_client_t make(side_t* s, const char* name) {
    memset(s, 0, sizeof *s);
    s->name = name;
    pthread_mutex_init(&s->lock, NULL);
    rats_client_t c = rats_create(0);
    CHECK(c != NULL);
    s->self = c;
    CHECK(rats_set_config_json(c, LOCAL) == RATS_SUCCESS);
    CHECK(rats_set_protocol_name(c, "ffi-test") == RATS_SUCCESS);
    CHECK(rats_set_max_peers(c, 8) == RATS_SUCCESS);
    rats_set_connection_callback(c, on_connect, s);
    rats_set_disconnect_callback(c, on_disconnect, s);
    rats_set_string_callback(c, on_string, s);
    rats_set_binary_callback(c, on_binary, s);
    rats_set_json_callback(c, on_json, s);
    CHECK(rats_on_message(c, "greet", on_typed, s) == RATS_SUCCESS);
    return c;
}

/* Checks that `json` has `"key":` (rats emits compact JSON). */
static int has_key(const char* json, const char* key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    return strstr(json, pat) != NULL;
}

int main(void) {
    side_t a, b;
    rats_client_t ca = make(&a, "a");
    rats_client_t cb = make(&b, "b");
    b.reply = 1;

    /* The peer id exists before start and stays the same after it. */
    char* id_a = rats_get_our_peer_id(ca);
    char* id_b = rats_get_our_peer_id(cb);
    CHECK(id_a && strlen(id_a) == 64 && id_b && strlen(id_b) == 64);
    CHECK(strcmp(id_a, id_b) != 0);
    CHECK(rats_get_max_peers(ca) == 8);
    char* proto = rats_get_protocol_name(ca);
    CHECK(proto && strcmp(proto, "ffi-test") == 0);
    rats_string_free(proto);
    CHECK(rats_get_peer_count(ca) == 0);
    CHECK(rats_send_string(ca, id_b, "early") == RATS_ERROR_NOT_RUNNING);

    CHECK(rats_start(ca) == RATS_SUCCESS);
    CHECK(rats_start(cb) == RATS_SUCCESS);
    CHECK(rats_start(cb) == RATS_SUCCESS); /* already running */
    char* id_a2 = rats_get_our_peer_id(ca);
    CHECK(strcmp(id_a, id_a2) == 0);
    free(id_a2);
    CHECK(rats_set_max_peers(ca, 9) == RATS_ERROR_OPERATION_FAILED);
    int port_b = rats_get_listen_port(cb);
    CHECK(port_b > 0);

    CHECK(rats_connect(ca, "127.0.0.1", port_b) == 1);
    CHECK(wait_for(&a.connected, 1));
    CHECK(wait_for(&b.connected, 1));
    CHECK(strcmp(a.last_peer, id_b) == 0);
    CHECK(strcmp(b.last_peer, id_a) == 0);
    CHECK(rats_get_peer_count(ca) == 1 && rats_get_peer_count(cb) == 1);
    CHECK(rats_is_peer_limit_reached(ca) == 0);
    CHECK(rats_is_peer_encrypted(ca, id_b) == 1);

    /* Peer lists. */
    int n = -1;
    char** ids = rats_get_peer_ids(ca, &n);
    CHECK(n == 1 && ids && strcmp(ids[0], id_b) == 0);
    free(ids[0]);
    free(ids);
    ids = rats_get_validated_peer_ids(cb, &n);
    CHECK(n == 1 && ids && strcmp(ids[0], id_a) == 0);
    rats_string_free(ids[0]);
    rats_string_free((const char*)ids);

    /* Peer info JSON with librats' keys. */
    char* info = rats_get_peer_info_json(ca, id_b);
    CHECK(info != NULL);
    const char* keys[] = {"peer_id", "ip", "port", "is_outgoing", "handshake_completed",
                          "version", "encryption_enabled", "connection_method"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) CHECK(has_key(info, keys[i]));
    CHECK(strstr(info, "\"is_outgoing\":true") != NULL);
    CHECK(strstr(info, "\"encryption_enabled\":true") != NULL);
    CHECK(strstr(info, "\"ip\":\"127.0.0.1\"") != NULL);
    free(info);
    info = rats_get_peer_info_json(cb, id_a);
    CHECK(info && strstr(info, "\"is_outgoing\":false") != NULL);
    free(info);

    /* Strings both ways; b answers "ping" with "pong" from inside its callback. */
    CHECK(rats_send_string(ca, id_b, "ping") == RATS_SUCCESS);
    CHECK(wait_for(&b.strings, 1) && strcmp(b.last_string, "ping") == 0);
    CHECK(wait_for(&a.strings, 1) && strcmp(a.last_string, "pong") == 0);
    CHECK(rats_broadcast_string(cb, "to all") == 1);
    CHECK(wait_for(&a.strings, 2) && strcmp(a.last_string, "to all") == 0);

    /* Binary both ways, with zero bytes inside. */
    unsigned char bin[5] = {1, 0, 2, 0, 255};
    CHECK(rats_send_binary(ca, id_b, bin, sizeof bin) == RATS_SUCCESS);
    CHECK(wait_for(&b.binaries, 1));
    CHECK(b.last_binary_size == 5 && memcmp(b.last_binary, bin, 5) == 0);
    CHECK(rats_broadcast_binary(cb, bin, 3) == 1);
    CHECK(wait_for(&a.binaries, 1) && a.last_binary_size == 3);

    /* JSON both ways. */
    CHECK(rats_send_json(ca, id_b, "{\"n\": 1, \"s\": \"x\"}") == RATS_SUCCESS);
    CHECK(wait_for(&b.jsons, 1));
    CHECK(strstr(b.last_json, "\"n\":1") && strstr(b.last_json, "\"s\":\"x\""));
    CHECK(rats_send_json(ca, id_b, "{not json") == RATS_ERROR_JSON_PARSE);
    CHECK(rats_broadcast_json(cb, "[1,2,3]") == 1);
    CHECK(wait_for(&a.jsons, 1) && strcmp(a.last_json, "[1,2,3]") == 0);

    /* Typed messages (message exchange). */
    CHECK(rats_send_message(ca, id_b, "greet", "{\"text\":\"hi\"}") == RATS_SUCCESS);
    CHECK(wait_for(&b.typed, 1) && strcmp(b.last_typed, "{\"text\":\"hi\"}") == 0);
    CHECK(rats_broadcast_message(cb, "greet", "plain text") == RATS_SUCCESS);
    CHECK(wait_for(&a.typed, 1) && strcmp(a.last_typed, "\"plain text\"") == 0);
    CHECK(rats_send_message(ca, id_b, "other", "1") == RATS_SUCCESS); /* no handler: ignored */
    CHECK(a.jsons == 1 && b.jsons == 1); /* typed messages do not reach the JSON callback */

    /* Unknown peer. */
    rats_client_t other = rats_create(0); /* never started: a peer id nobody connects to */
    char* nobody = rats_get_our_peer_id(other);
    rats_destroy(other);
    CHECK(rats_send_string(ca, "0000000000000000000000000000000000000000000000000000000000000000",
                           "x") == RATS_ERROR_INVALID_PARAMETER); /* not a valid key */
    CHECK(rats_send_string(ca, nobody, "x") == RATS_ERROR_PEER_NOT_FOUND);
    CHECK(rats_send_string(ca, "not-a-peer-id", "x") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_get_peer_info_json(ca, nobody) == NULL);
    free(nobody);

    /* Disconnect: both sides see it. */
    CHECK(rats_disconnect_peer_by_id(ca, id_b) == RATS_SUCCESS);
    CHECK(wait_for(&a.disconnected, 1));
    CHECK(wait_for(&b.disconnected, 1));
    CHECK(rats_get_peer_count(ca) == 0);
    CHECK(rats_disconnect_peer_by_id(ca, id_b) == RATS_ERROR_PEER_NOT_FOUND);
    n = -1;
    CHECK(rats_get_peer_ids(ca, &n) == NULL && n == 0);

    /* Reconnect with a strategy, then stop b: after rats_stop returns, no callback of b. */
    CHECK(rats_connect_with_strategy(ca, "127.0.0.1", port_b, RATS_STRATEGY_DIRECT_ONLY) ==
          RATS_SUCCESS);
    CHECK(wait_for(&b.connected, 2));
    CHECK(wait_for(&a.connected, 2));
    rats_stop(cb);
    int b_strings = atomic_load(&b.strings);
    int b_disc = atomic_load(&b.disconnected);
    rats_broadcast_string(ca, "after stop");
    sleep_ms(300);
    CHECK(atomic_load(&b.strings) == b_strings);
    CHECK(atomic_load(&b.disconnected) == b_disc);
    CHECK(wait_for(&a.disconnected, 2));
    CHECK(rats_get_peer_count(cb) == 0);

    /* Start again on the same handle: same peer id, a working client. */
    CHECK(rats_start(cb) == RATS_SUCCESS);
    char* id_b2 = rats_get_our_peer_id(cb);
    CHECK(strcmp(id_b, id_b2) == 0);
    free(id_b2);
    port_b = rats_get_listen_port(cb);
    CHECK(rats_connect(ca, "localhost", port_b) == 1 || rats_connect(ca, "127.0.0.1", port_b) == 1);
    CHECK(wait_for(&b.connected, 3));

    rats_stop(ca);
    rats_stop(ca); /* twice is fine */
    rats_destroy(ca);
    rats_destroy(cb);
    /* A destroyed handle is answered, not dereferenced. */
    CHECK(rats_start(ca) == RATS_ERROR_INVALID_HANDLE);
    CHECK(rats_get_our_peer_id(ca) == NULL);
    rats_destroy(ca);

    free(id_a);
    free(id_b);
    pthread_mutex_destroy(&a.lock);
    pthread_mutex_destroy(&b.lock);
    printf("two_clients: ok\n");
    return 0;
}
