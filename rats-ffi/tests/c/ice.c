/* ICE between two clients listening on 127.0.0.1 (loopback candidates only, no STUN server):
 * offers exchanged by the program, B connects with A's offer on a thread while A handles
 * B's answer; the connection's method is "ice" over QUIC and a message goes through. */
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
    "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\", \"holepunch\"],"
    " \"listen\": [\"tcp:127.0.0.1:0\"], \"stun\": {\"servers\": []}}";

static atomic_int got;
static char got_text[64];

static void on_string(void* ud, const char* peer_id, const char* msg) {
    (void)ud;
    (void)peer_id;
    snprintf(got_text, sizeof got_text, "%s", msg);
    atomic_fetch_add(&got, 1);
}

typedef struct {
    rats_client_t self;
    const char* peer;
    const char* offer;
    int result;
} job_t;

static void* connect_job(void* arg) {
    job_t* j = arg;
    j->result = rats_connect_with_ice(j->self, j->peer, j->offer);
    return NULL;
}

int main(void) {
    rats_client_t a = rats_create(0), b = rats_create(0);
    CHECK(rats_set_config_json(a, LOCAL) == RATS_SUCCESS);
    CHECK(rats_set_config_json(b, LOCAL) == RATS_SUCCESS);
    rats_set_string_callback(b, on_string, NULL);
    char* id_a = rats_get_our_peer_id(a);
    char* id_b = rats_get_our_peer_id(b);
    CHECK(rats_create_ice_offer(a, id_b) == NULL); /* not running */
    CHECK(rats_start(a) == RATS_SUCCESS);
    CHECK(rats_start(b) == RATS_SUCCESS);

    CHECK(rats_create_ice_offer(a, id_a) == NULL); /* ourselves */
    CHECK(rats_create_ice_offer(a, "zz") == NULL);
    /* Without our own offer for the peer, connecting fails. */
    char* oa = rats_create_ice_offer(a, id_b);
    CHECK(oa && strstr(oa, "\"ufrag\":") && strstr(oa, "\"pwd\":") && strstr(oa, "127.0.0.1"));
    CHECK(rats_connect_with_ice(b, id_a, oa) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_connect_with_ice(b, id_a, "{oops") == RATS_ERROR_JSON_PARSE);
    CHECK(rats_connect_with_ice(b, id_a, "{\"ufrag\": 1}") == RATS_ERROR_INVALID_PARAMETER);
    char* ob = rats_create_ice_offer(b, id_a);
    CHECK(ob && strstr(ob, "\"candidates\":"));

    job_t j = {b, id_a, oa, 1};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, connect_job, &j) == 0);
    int ra = rats_handle_ice_answer(a, id_b, ob);
    pthread_join(th, NULL);
    CHECK(ra == RATS_SUCCESS);
    CHECK(j.result == RATS_SUCCESS);

    char* info = rats_get_peer_info_json(a, id_b);
    CHECK(info && strstr(info, "\"connection_method\":\"ice\"") && strstr(info, "\"transport\":\"quic\""));
    free(info);
    CHECK(rats_send_string(a, id_b, "over ice") == RATS_SUCCESS);
    for (int i = 0; i < 1000 && atomic_load(&got) < 1; i++) sleep_ms(10);
    CHECK(atomic_load(&got) == 1 && strcmp(got_text, "over ice") == 0);

    rats_destroy(a);
    rats_destroy(b);
    free(oa);
    free(ob);
    free(id_a);
    free(id_b);
    printf("ice: ok\n");
    return 0;
}
