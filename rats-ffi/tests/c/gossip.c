/* GossipSub among three clients in one process on 127.0.0.1, linked in a line A-B-C:
 * subscribe/unsubscribe, topic peers and mesh, string and JSON publishing (C gets A's
 * messages through B's mesh), the four topic callbacks, statistics JSON, clearing callbacks. */
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
    " \"peer_exchange\": false, \"gossipsub\": {\"heartbeat_ms\": 100}}";

typedef struct {
    atomic_int messages, jsons, joined, left;
    pthread_mutex_t lock;
    char last_from[80];
    char last_topic[64];
    char last_message[256];
    char last_json[256];
    char last_joined[80];
    char last_left[80];
} node_t;

static void put(node_t* n, char* dst, size_t cap, const char* src) {
    pthread_mutex_lock(&n->lock);
    snprintf(dst, cap, "%s", src);
    pthread_mutex_unlock(&n->lock);
}

static void on_message(void* ud, const char* peer_id, const char* topic, const char* message) {
    node_t* n = ud;
    CHECK(peer_id && strlen(peer_id) == 64 && topic && message);
    put(n, n->last_from, sizeof n->last_from, peer_id);
    put(n, n->last_topic, sizeof n->last_topic, topic);
    put(n, n->last_message, sizeof n->last_message, message);
    atomic_fetch_add(&n->messages, 1);
}

static void on_json(void* ud, const char* peer_id, const char* topic, const char* json) {
    node_t* n = ud;
    CHECK(peer_id && strlen(peer_id) == 64 && strcmp(topic, "news") == 0);
    put(n, n->last_json, sizeof n->last_json, json);
    atomic_fetch_add(&n->jsons, 1);
}

static void on_joined(void* ud, const char* peer_id, const char* topic) {
    node_t* n = ud;
    CHECK(strcmp(topic, "news") == 0);
    put(n, n->last_joined, sizeof n->last_joined, peer_id);
    atomic_fetch_add(&n->joined, 1);
}

static void on_left(void* ud, const char* peer_id, const char* topic) {
    node_t* n = ud;
    CHECK(strcmp(topic, "news") == 0);
    put(n, n->last_left, sizeof n->last_left, peer_id);
    atomic_fetch_add(&n->left, 1);
}

static void free_list(char** list, int n) {
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
}

/* Number of topic peers (mesh: mesh peers) of `c` on "news", and whether `id` is one. */
static int peers_of(rats_client_t c, int mesh, const char* id, int* has) {
    int n = -1;
    char** l = mesh ? rats_get_topic_mesh_peers(c, "news", &n) : rats_get_topic_peers(c, "news", &n);
    *has = 0;
    for (int i = 0; i < n; i++)
        if (id && strcmp(l[i], id) == 0) *has = 1;
    free_list(l, n);
    return n;
}

static rats_client_t make(node_t* n) {
    memset(n, 0, sizeof *n);
    pthread_mutex_init(&n->lock, NULL);
    rats_client_t c = rats_create(0);
    CHECK(c != NULL);
    CHECK(rats_set_config_json(c, LOCAL) == RATS_SUCCESS);
    rats_set_topic_message_callback(c, "news", on_message, n);
    rats_set_topic_json_message_callback(c, "news", on_json, n);
    rats_set_topic_peer_joined_callback(c, "news", on_joined, n);
    rats_set_topic_peer_left_callback(c, "news", on_left, n);
    return c;
}

int main(void) {
    node_t na, nb, nc;
    rats_client_t a = make(&na), b = make(&nb), c = make(&nc);
    char* id_a = rats_get_our_peer_id(a);
    char* id_c = rats_get_our_peer_id(c);

    /* Before start: available (the plugin is linked and on), not running. */
    CHECK(rats_is_gossipsub_available(a) == 1);
    CHECK(rats_is_gossipsub_running(a) == 0);
    CHECK(rats_subscribe_to_topic(a, "news") == RATS_ERROR_NOT_RUNNING);
    CHECK(rats_publish_to_topic(a, "news", "x") == RATS_ERROR_NOT_RUNNING);
    CHECK(rats_is_subscribed_to_topic(a, "news") == 0);
    char* st = rats_get_gossipsub_statistics_json(a);
    CHECK(st && strcmp(st, "{\"running\":false}") == 0);
    free(st);
    /* A client with the plugin switched off. */
    rats_client_t off = rats_create(0);
    CHECK(rats_set_config_json(off, "{\"disabled_plugins\": [\"gossipsub\", \"dht\", \"mdns\","
                                    " \"stun\", \"portmap\", \"holepunch\"]}") == RATS_SUCCESS);
    CHECK(rats_is_gossipsub_available(off) == 0);
    CHECK(rats_start(off) == RATS_SUCCESS);
    CHECK(rats_is_gossipsub_running(off) == 0);
    CHECK(rats_subscribe_to_topic(off, "news") == RATS_ERROR_OPERATION_FAILED);
    rats_destroy(off);

    CHECK(rats_start(a) == RATS_SUCCESS);
    CHECK(rats_start(b) == RATS_SUCCESS);
    CHECK(rats_start(c) == RATS_SUCCESS);
    CHECK(rats_is_gossipsub_running(b) == 1);
    CHECK(rats_connect(a, "127.0.0.1", rats_get_listen_port(b)) == 1);
    CHECK(rats_connect(b, "127.0.0.1", rats_get_listen_port(c)) == 1);

    /* Subscriptions. */
    CHECK(rats_subscribe_to_topic(a, "news") == RATS_SUCCESS);
    CHECK(rats_subscribe_to_topic(a, "news") == RATS_SUCCESS); /* twice is fine */
    CHECK(rats_subscribe_to_topic(b, "news") == RATS_SUCCESS);
    CHECK(rats_subscribe_to_topic(c, "news") == RATS_SUCCESS);
    CHECK(rats_subscribe_to_topic(c, "other") == RATS_SUCCESS);
    CHECK(rats_subscribe_to_topic(c, "") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_is_subscribed_to_topic(c, "other") == 1);
    CHECK(rats_is_subscribed_to_topic(b, "other") == 0);
    int n = -1;
    char** topics = rats_get_subscribed_topics(c, &n);
    CHECK(n == 2 && strcmp(topics[0], "news") == 0 && strcmp(topics[1], "other") == 0);
    free_list(topics, n);
    CHECK(rats_unsubscribe_from_topic(c, "other") == RATS_SUCCESS);
    CHECK(rats_unsubscribe_from_topic(c, "other") == RATS_SUCCESS); /* not subscribed: fine */
    CHECK(rats_is_subscribed_to_topic(c, "other") == 0);

    /* B sees both neighbours join and takes them into its mesh. */
    CHECK(wait_for(&nb.joined, 2));
    CHECK(wait_for(&na.joined, 1) && strlen(na.last_joined) == 64);
    int has = 0, mesh_ok = 0;
    for (int i = 0; i < 1000 && !mesh_ok; i++) {
        mesh_ok = peers_of(b, 1, NULL, &has) == 2 && peers_of(c, 1, NULL, &has) == 1;
        if (!mesh_ok) sleep_ms(10);
    }
    CHECK(mesh_ok);
    CHECK(peers_of(b, 0, id_a, &has) == 2 && has);
    CHECK(peers_of(a, 0, id_c, &has) == 1 && !has); /* A is not linked to C */

    /* A publishes: B gets it directly, C through B; A not its own. */
    CHECK(rats_publish_to_topic(a, "news", "hello") == RATS_SUCCESS);
    CHECK(wait_for(&nb.messages, 1) && wait_for(&nc.messages, 1));
    CHECK(strcmp(nc.last_message, "hello") == 0 && strcmp(nc.last_topic, "news") == 0);
    CHECK(strcmp(nc.last_from, id_a) == 0); /* the origin, not B that forwarded it */
    CHECK(atomic_load(&nb.jsons) == 0);      /* "hello" is not JSON */

    /* C publishes JSON: both JSON and message callbacks on A and B. */
    CHECK(rats_publish_json_to_topic(c, "news", "{ \"x\" : 1 }") == RATS_SUCCESS);
    CHECK(wait_for(&na.jsons, 1) && wait_for(&nb.jsons, 1));
    CHECK(strcmp(na.last_json, "{\"x\":1}") == 0);
    CHECK(wait_for(&na.messages, 1) && strcmp(na.last_message, "{\"x\":1}") == 0);
    CHECK(strcmp(na.last_from, id_c) == 0);
    CHECK(rats_publish_json_to_topic(c, "news", "{nope") == RATS_ERROR_JSON_PARSE);
    CHECK(rats_publish_to_topic(c, "", "x") == RATS_ERROR_INVALID_PARAMETER);
    sleep_ms(200);
    CHECK(atomic_load(&na.messages) == 1 && atomic_load(&nc.messages) == 1); /* once each */

    /* Statistics. */
    st = rats_get_gossipsub_statistics_json(b);
    CHECK(st && strstr(st, "\"running\":true") && strstr(st, "\"messages_delivered\":2"));
    CHECK(strstr(st, "\"subscribed_topics\":[\"news\"]") && strstr(st, "\"mesh_peers\":2"));
    free(st);

    /* C leaves: B's left callback names C. */
    CHECK(rats_unsubscribe_from_topic(c, "news") == RATS_SUCCESS);
    CHECK(wait_for(&nb.left, 1) && strcmp(nb.last_left, id_c) == 0);

    /* Callbacks cleared on B: no more deliveries to it; A's still work. */
    CHECK(atomic_load(&nb.messages) == 2); /* "hello" and C's JSON */
    rats_clear_topic_callbacks(b, "news");
    rats_set_topic_json_message_callback(a, "news", NULL, NULL); /* NULL removes one */
    CHECK(rats_publish_json_to_topic(b, "news", "[2]") == RATS_SUCCESS);
    CHECK(wait_for(&na.messages, 2) && strcmp(na.last_message, "[2]") == 0);
    CHECK(rats_publish_to_topic(a, "news", "quiet") == RATS_SUCCESS);
    sleep_ms(300);
    CHECK(atomic_load(&nb.messages) == 2 && atomic_load(&na.jsons) == 1);

    rats_stop(a);
    CHECK(rats_is_gossipsub_running(a) == 0);
    n = 7;
    CHECK(rats_get_subscribed_topics(a, &n) == NULL && n == 0);
    rats_destroy(a);
    rats_destroy(b);
    rats_destroy(c);
    free(id_a);
    free(id_c);
    pthread_mutex_destroy(&na.lock);
    pthread_mutex_destroy(&nb.lock);
    pthread_mutex_destroy(&nc.lock);
    printf("gossip: ok\n");
    return 0;
}
