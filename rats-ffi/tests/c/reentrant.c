/* Callbacks and the client's life: rats_destroy from another thread while a callback runs
 * (it waits for the callback), rats_destroy of a client from inside its own callback,
 * several threads sending at once. */
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
    rats_client_t self;
    atomic_int entered, finished, received, connected;
} state_t;

/* Slow: the main thread destroys the client while this runs. */
static void slow_cb(void* ud, const char* peer, const char* msg) {
    state_t* s = ud;
    (void)peer;
    (void)msg;
    atomic_fetch_add(&s->entered, 1);
    sleep_ms(300);
    atomic_fetch_add(&s->finished, 1);
}

/* Destroys its own client from inside the callback. */
static void self_destroy_cb(void* ud, const char* peer, const char* msg) {
    state_t* s = ud;
    (void)peer;
    if (strcmp(msg, "die") == 0) {
        rats_destroy(s->self);
        CHECK(rats_get_peer_count(s->self) == 0); /* the handle is gone, no crash */
        atomic_fetch_add(&s->finished, 1);
    }
}

static void count_cb(void* ud, const char* peer, const char* msg) {
    state_t* s = ud;
    (void)peer;
    (void)msg;
    atomic_fetch_add(&s->received, 1);
}

static void on_conn(void* ud, const char* peer) {
    state_t* s = ud;
    (void)peer;
    atomic_fetch_add(&s->connected, 1);
}

static rats_client_t make(state_t* s) {
    memset(s, 0, sizeof *s);
    rats_client_t c = rats_create(0);
    CHECK(c != NULL);
    s->self = c;
    CHECK(rats_set_config_json(c, LOCAL) == RATS_SUCCESS);
    rats_set_connection_callback(c, on_conn, s);
    CHECK(rats_start(c) == RATS_SUCCESS);
    return c;
}

static char* connect_pair(rats_client_t from, state_t* to_state, rats_client_t to) {
    CHECK(rats_connect(from, "127.0.0.1", rats_get_listen_port(to)) == 1);
    CHECK(wait_for(&to_state->connected, 1));
    return rats_get_our_peer_id(to);
}

typedef struct {
    rats_client_t c;
    const char* peer;
} sender_t;

static void* sender(void* arg) {
    sender_t* s = arg;
    for (int i = 0; i < 50; i++) CHECK(rats_send_string(s->c, s->peer, "m") == RATS_SUCCESS);
    return NULL;
}

int main(void) {
    state_t sa, sb;

    /* 1. Destroy from the main thread while a callback runs: it waits for the callback. */
    rats_client_t a = make(&sa);
    rats_client_t b = make(&sb);
    rats_set_string_callback(b, slow_cb, &sb);
    char* id_b = connect_pair(a, &sb, b);
    CHECK(rats_send_string(a, id_b, "slow") == RATS_SUCCESS);
    CHECK(wait_for(&sb.entered, 1));
    rats_destroy(b);
    CHECK(atomic_load(&sb.finished) == 1);
    free(id_b);
    rats_destroy(a);

    /* 2. Destroy from inside the client's own callback. */
    a = make(&sa);
    b = make(&sb);
    rats_set_string_callback(b, self_destroy_cb, &sb);
    id_b = connect_pair(a, &sb, b);
    CHECK(rats_send_string(a, id_b, "die") == RATS_SUCCESS);
    CHECK(wait_for(&sb.finished, 1));
    CHECK(rats_start(b) == RATS_ERROR_INVALID_HANDLE);
    free(id_b);
    rats_destroy(a);

    /* 3. Four threads sending at once; every message arrives. */
    a = make(&sa);
    b = make(&sb);
    rats_set_string_callback(b, count_cb, &sb);
    id_b = connect_pair(a, &sb, b);
    pthread_t t[4];
    sender_t arg = {a, id_b};
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, sender, &arg) == 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK(wait_for(&sb.received, 200));
    free(id_b);
    rats_destroy(a);
    rats_destroy(b);

    printf("reentrant: ok\n");
    return 0;
}
