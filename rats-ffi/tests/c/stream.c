/* A stream of binary messages through the C API: sizes from 1 byte to 70,000 mixed (small
 * ones are batched on their way to the callback thread, large ones are not), interleaved with
 * text messages, all delivered once, whole and in order; then rats_send_binary after the
 * sender stopped, restarted, lost its peer and was destroyed (it caches the peer's sender per
 * thread: none of these may still send through the cache). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "librats_c.h"
#include "check.h"

static const char* LOCAL =
    "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\", \"holepunch\"]}";

/* Binary messages sent (the first argument overrides: valgrind runs fewer). */
#define MESSAGES 20000
#define TEXT_EVERY 1000

static const size_t SIZES[] = {1, 5, 64, 300, 4095, 4096, 4097, 65535, 70000};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

/* Message i: size SIZES[i % NSIZES] (at least 4: the index, little-endian, then bytes
 * (i + k) & 0xFF); messages shorter than 4 bytes carry (i & 0xFF) only. */
static size_t size_of_msg(uint32_t i) { return SIZES[i % NSIZES]; }

static void fill(unsigned char* buf, uint32_t i) {
    size_t n = size_of_msg(i);
    if (n < 4) {
        memset(buf, (int)(i & 0xFF), n);
        return;
    }
    memcpy(buf, &i, 4);
    for (size_t k = 4; k < n; k++) buf[k] = (unsigned char)((i + k) & 0xFF);
}

typedef struct {
    atomic_int received, texts, errors, connected, disconnected;
    atomic_int strict; /* check each message's size and bytes (else only count) */
    char first_error[160];
    pthread_mutex_t lock;
} receiver_t;

static void fail(receiver_t* r, const char* what, int i) {
    pthread_mutex_lock(&r->lock);
    if (atomic_fetch_add(&r->errors, 1) == 0)
        snprintf(r->first_error, sizeof r->first_error, "%s at message %d", what, i);
    pthread_mutex_unlock(&r->lock);
}

static void on_binary(void* ud, const char* peer_id, const void* data, size_t size) {
    receiver_t* r = ud;
    int i = atomic_load(&r->received);
    if (!atomic_load(&r->strict)) {
        atomic_fetch_add(&r->received, 1);
        return;
    }
    if (!peer_id || strlen(peer_id) != 64) fail(r, "bad peer id", i);
    if (size != size_of_msg((uint32_t)i)) {
        fail(r, "wrong size (lost, repeated or reordered)", i);
    } else {
        static _Thread_local unsigned char want[70000];
        fill(want, (uint32_t)i);
        if (memcmp(data, want, size) != 0) fail(r, "wrong bytes", i);
    }
    atomic_fetch_add(&r->received, 1);
}

/* A text message i/TEXT_EVERY was sent after binary message i - 1: everything before it
 * has arrived, nothing after it. */
static void on_string(void* ud, const char* peer_id, const char* msg) {
    receiver_t* r = ud;
    (void)peer_id;
    int after = atoi(msg);
    if (after != atomic_load(&r->received)) fail(r, "text out of order with binaries", after);
    atomic_fetch_add(&r->texts, 1);
}

static void on_connect(void* ud, const char* peer_id) {
    (void)peer_id;
    atomic_fetch_add(&((receiver_t*)ud)->connected, 1);
}

static void on_disconnect(void* ud, const char* peer_id) {
    (void)peer_id;
    atomic_fetch_add(&((receiver_t*)ud)->disconnected, 1);
}

static rats_client_t make(void) {
    rats_client_t c = rats_create(0);
    CHECK(c != NULL);
    CHECK(rats_set_config_json(c, LOCAL) == RATS_SUCCESS);
    CHECK(rats_set_protocol_name(c, "ffi-stream") == RATS_SUCCESS);
    return c;
}

/* Connects `from` to `to` and waits until `to` counted the connection. */
static void connect_pair(rats_client_t from, rats_client_t to, receiver_t* r, int nth) {
    CHECK(rats_connect(from, "127.0.0.1", rats_get_listen_port(to)) == 1);
    CHECK(wait_for(&r->connected, nth));
}

int main(int argc, char** argv) {
    int messages = argc > 1 ? atoi(argv[1]) : MESSAGES;
    CHECK(messages >= TEXT_EVERY);
    receiver_t r;
    memset(&r, 0, sizeof r);
    atomic_store(&r.strict, 1);
    pthread_mutex_init(&r.lock, NULL);
    rats_client_t a = make();
    rats_client_t b = make();
    rats_set_binary_callback(b, on_binary, &r);
    rats_set_string_callback(b, on_string, &r);
    rats_set_connection_callback(b, on_connect, &r);
    rats_set_disconnect_callback(b, on_disconnect, &r);
    CHECK(rats_start(a) == RATS_SUCCESS && rats_start(b) == RATS_SUCCESS);
    connect_pair(a, b, &r, 1);
    char* id_b = rats_get_our_peer_id(b);
    CHECK(id_b != NULL);

    unsigned char* buf = malloc(70000);
    CHECK(buf != NULL);
    for (uint32_t i = 0; i < (uint32_t)messages; i++) {
        if (i > 0 && i % TEXT_EVERY == 0) {
            char text[16];
            snprintf(text, sizeof text, "%u", i);
            CHECK(rats_send_string(a, id_b, text) == RATS_SUCCESS);
        }
        fill(buf, i);
        CHECK(rats_send_binary(a, id_b, buf, size_of_msg(i)) == RATS_SUCCESS);
    }
    CHECK(wait_for(&r.received, messages));
    CHECK(wait_for(&r.texts, (messages - 1) / TEXT_EVERY));
    sleep_ms(100);
    if (atomic_load(&r.errors) != 0) {
        fprintf(stderr, "%d errors; first: %s\n", atomic_load(&r.errors), r.first_error);
        return 1;
    }
    CHECK(atomic_load(&r.received) == messages);

    /* Stopped: the thread's cached sender must not be used. */
    rats_stop(a);
    CHECK(rats_send_binary(a, id_b, buf, 64) == RATS_ERROR_NOT_RUNNING);
    CHECK(wait_for(&r.disconnected, 1));

    /* Restarted and connected again: sending works again, through a new connection. */
    CHECK(rats_start(a) == RATS_SUCCESS);
    connect_pair(a, b, &r, 2);
    int before = atomic_load(&r.received);
    fill(buf, (uint32_t)before);
    CHECK(rats_send_binary(a, id_b, buf, size_of_msg((uint32_t)before)) == RATS_SUCCESS);
    CHECK(wait_for(&r.received, before + 1));

    /* The peer goes away: the cached sender's connection is closed. What is sent until the
     * sender sees that may or may not arrive: only counted. */
    atomic_store(&r.strict, 0);
    char* id_a = rats_get_our_peer_id(a);
    CHECK(id_a != NULL);
    CHECK(rats_disconnect_peer_by_id(b, id_a) == RATS_SUCCESS);
    int gone = 0;
    for (int k = 0; k < 2000 && !gone; k++) {
        int rc = rats_send_binary(a, id_b, buf, 64);
        CHECK(rc == RATS_SUCCESS || rc == RATS_ERROR_PEER_NOT_FOUND);
        gone = rc == RATS_ERROR_PEER_NOT_FOUND;
        if (!gone) sleep_ms(10);
    }
    CHECK(gone);

    /* Connected again, then destroyed: the handle is invalid even for this thread. */
    connect_pair(a, b, &r, 3);
    atomic_store(&r.received, 0);
    atomic_store(&r.strict, 1);
    before = 0;
    fill(buf, (uint32_t)before);
    CHECK(rats_send_binary(a, id_b, buf, size_of_msg((uint32_t)before)) == RATS_SUCCESS);
    rats_destroy(a);
    CHECK(rats_send_binary(a, id_b, buf, 64) == RATS_ERROR_INVALID_HANDLE);
    CHECK(atomic_load(&r.errors) == 0);

    rats_destroy(b);
    free(buf);
    rats_string_free(id_a);
    rats_string_free(id_b);
    printf("stream: ok\n");
    return 0;
}
