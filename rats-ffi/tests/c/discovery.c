/* DHT discovery on loopback: client A runs a DHT on a known UDP port of 127.0.0.1 with no
 * bootstrap node; client B bootstraps from it. Both use the same protocol, so their
 * automatic discovery (the DHT's discovery loop) makes them find and connect to each other;
 * the discovered-peer callback reports "dht". Then announce/find of another hash, stopping
 * and starting the DHT, discovery hashes. mDNS is only called where it cannot multicast:
 * on a client not started (then destroyed) and on one with the plugin off. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "librats_c.h"
#include "check.h"

static const char* OFF =
    "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\", \"holepunch\"],"
    " \"peer_exchange\": false, \"listen\": [\"tcp:127.0.0.1:0\"]}";

typedef struct {
    atomic_int discovered, dht_discovered;
    pthread_mutex_t lock;
    char last_host[64];
    int last_port;
} node_t;

static void on_discovered(void* ud, const char* host, int port, const char* source) {
    node_t* n = ud;
    CHECK(host && port > 0 && port < 65536 && source);
    pthread_mutex_lock(&n->lock);
    snprintf(n->last_host, sizeof n->last_host, "%s", host);
    n->last_port = port;
    pthread_mutex_unlock(&n->lock);
    if (strcmp(source, "dht") == 0) atomic_fetch_add(&n->dht_discovered, 1);
    atomic_fetch_add(&n->discovered, 1);
}

/* A UDP port of 127.0.0.1 that was free a moment ago. */
static int free_udp_port(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(s >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(s, (struct sockaddr*)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(s, (struct sockaddr*)&a, &len) == 0);
    close(s);
    return ntohs(a.sin_port);
}

static int list_has(char** l, int n, const char* s) {
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(l[i], s) == 0) found = 1;
        free(l[i]);
    }
    free(l);
    return found;
}

static rats_client_t make(node_t* n, const char* dht_section) {
    memset(n, 0, sizeof *n);
    pthread_mutex_init(&n->lock, NULL);
    rats_client_t c = rats_create(0);
    CHECK(c != NULL);
    CHECK(rats_set_config_json(c, OFF) == RATS_SUCCESS);
    CHECK(rats_set_config_json(c, dht_section) == RATS_SUCCESS);
    CHECK(rats_set_protocol_name(c, "ffi-dht-test") == RATS_SUCCESS);
    rats_set_peer_discovered_callback(c, on_discovered, n);
    return c;
}

int main(void) {
    /* mDNS without multicast: calls on a client never started, and on one with mDNS off. */
    rats_client_t m = rats_create(0);
    CHECK(rats_set_config_json(m, OFF) == RATS_SUCCESS);
    CHECK(rats_is_mdns_running(m) == 0);
    CHECK(rats_query_mdns_services(m) == RATS_ERROR_NOT_RUNNING);
    CHECK(rats_start_mdns_discovery(m, "my-instance") == RATS_SUCCESS); /* on for the start */
    rats_stop_mdns_discovery(m);                                         /* off again */
    CHECK(rats_start(m) == RATS_SUCCESS);
    CHECK(rats_is_mdns_running(m) == 0);
    CHECK(rats_query_mdns_services(m) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_start_mdns_discovery(m, NULL) == RATS_ERROR_OPERATION_FAILED); /* plugin off */
    rats_stop_mdns_discovery(m);
    CHECK(rats_is_dht_running(m) == 0);
    CHECK(rats_start_dht_discovery(m, 0) == RATS_ERROR_OPERATION_FAILED); /* plugin off */
    CHECK(rats_get_dht_routing_table_size(m) == 0);
    CHECK(rats_is_automatic_discovery_running(m) == 0);
    rats_destroy(m);

    /* The DHT of A listens on a known port; B bootstraps from it. */
    int dht_port = free_udp_port();
    char b_section[300];
    snprintf(b_section, sizeof b_section,
             "{\"dht\": {\"bootstrap\": [\"127.0.0.1:%d\"], \"bind_v4\": \"127.0.0.1\","
             " \"ipv6\": false, \"fast_interval_secs\": 1, \"save_nodes\": false}}",
             dht_port);
    node_t na, nb;
    rats_client_t a = make(&na, "{\"dht\": {\"bootstrap\": [], \"bind_v4\": \"127.0.0.1\","
                                " \"ipv6\": false, \"fast_interval_secs\": 1, \"save_nodes\": false}}");
    rats_client_t b = make(&nb, b_section);

    /* Discovery hashes: librats' formula on the protocol, before and after start. */
    char* ha = rats_get_discovery_hash(a);
    char* hb = rats_get_discovery_hash(b);
    char* hr = rats_get_rats_peer_discovery_hash();
    CHECK(ha && hb && hr && strlen(ha) == 40 && strlen(hr) == 40);
    CHECK(strcmp(ha, hb) == 0 && strcmp(ha, hr) != 0);

    /* Before start: the DHT is off (disabled_plugins); start_dht_discovery switches it on. */
    CHECK(rats_is_dht_running(a) == 0);
    CHECK(rats_start_dht_discovery(a, 70000) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_start_dht_discovery(a, dht_port) == RATS_SUCCESS);
    CHECK(rats_start_dht_discovery(b, 0) == RATS_SUCCESS);
    rats_start_automatic_peer_discovery(b);
    CHECK(rats_announce_for_hash(a, ha, 0) == RATS_ERROR_NOT_RUNNING);

    CHECK(rats_start(a) == RATS_SUCCESS);
    CHECK(rats_start(b) == RATS_SUCCESS);
    char* ha2 = rats_get_discovery_hash(a);
    CHECK(strcmp(ha, ha2) == 0);
    free(ha2);
    CHECK(rats_is_dht_running(a) == 1 && rats_is_dht_running(b) == 1);
    CHECK(rats_is_automatic_discovery_running(a) == 1 && rats_is_automatic_discovery_running(b) == 1);

    /* B bootstraps from A; each ends up in the other's routing table. */
    for (int i = 0; i < 2000 && (rats_get_dht_routing_table_size(a) < 1 ||
                                 rats_get_dht_routing_table_size(b) < 1); i++)
        sleep_ms(10);
    CHECK(rats_get_dht_routing_table_size(a) >= 1 && rats_get_dht_routing_table_size(b) >= 1);

    /* Automatic discovery: they find each other through the DHT and connect. */
    for (int i = 0; i < 3000 && (rats_get_peer_count(a) < 1 || rats_get_peer_count(b) < 1); i++)
        sleep_ms(10);
    CHECK(rats_get_peer_count(a) == 1 && rats_get_peer_count(b) == 1);
    CHECK(atomic_load(&na.dht_discovered) + atomic_load(&nb.dht_discovered) >= 1);

    /* Announce a port under another hash; a lookup finds it. */
    const char* other = "0123456789abcdef0123456789abcdef01234567";
    CHECK(rats_announce_for_hash(a, "abc", 1) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_announce_for_hash(a, NULL, 1) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_announce_for_hash(a, other, 70000) == RATS_ERROR_INVALID_PARAMETER);
    int found = 0;
    for (int i = 0; i < 20 && !found; i++) {
        CHECK(rats_announce_for_hash(a, other, 4242) == RATS_SUCCESS);
        int n = -1;
        char** l = rats_find_peers_for_hash(b, other, &n);
        found = list_has(l, n, "127.0.0.1:4242");
        if (!found) {
            l = rats_find_peers_for_hash(a, other, &n);
            found = list_has(l, n, "127.0.0.1:4242");
        }
        if (!found) sleep_ms(250);
    }
    CHECK(found);
    int n = 7;
    CHECK(rats_find_peers_for_hash(a, "zz", &n) == NULL && n == 0);

    /* Stop and start the DHT of a running client. */
    rats_stop_dht_discovery(a);
    CHECK(rats_is_dht_running(a) == 0 && rats_get_dht_routing_table_size(a) == 0);
    CHECK(rats_is_automatic_discovery_running(a) == 0);
    CHECK(rats_announce_for_hash(a, other, 1) == RATS_ERROR_OPERATION_FAILED);
    n = 7;
    CHECK(rats_find_peers_for_hash(a, other, &n) == NULL && n == 0);
    CHECK(rats_start_dht_discovery(a, 0) == RATS_SUCCESS);
    CHECK(rats_is_dht_running(a) == 1);
    rats_stop_automatic_peer_discovery(b);
    CHECK(rats_is_dht_running(b) == 0);
    rats_start_automatic_peer_discovery(b);
    CHECK(rats_is_automatic_discovery_running(b) == 1);

    /* Before start, stop_* switch off for the start. */
    rats_client_t c = rats_create(0);
    CHECK(rats_set_config_json(c, OFF) == RATS_SUCCESS);
    CHECK(rats_start_dht_discovery(c, 0) == RATS_SUCCESS);
    rats_stop_automatic_peer_discovery(c); /* DHT without its discovery loop */
    CHECK(rats_set_config_json(c, "{\"dht\": {\"bootstrap\": [], \"bind_v4\": \"127.0.0.1\","
                                  " \"ipv6\": false, \"save_nodes\": false}}") == RATS_SUCCESS);
    rats_start_dht_discovery(c, 0); /* the dht section above replaced the port and discover */
    rats_stop_automatic_peer_discovery(c);
    CHECK(rats_start(c) == RATS_SUCCESS);
    CHECK(rats_is_dht_running(c) == 1 && rats_is_automatic_discovery_running(c) == 0);
    rats_destroy(c);

    rats_destroy(a);
    rats_destroy(b);
    free(ha);
    free(hb);
    free(hr);
    pthread_mutex_destroy(&na.lock);
    pthread_mutex_destroy(&nb.lock);
    printf("discovery: ok\n");
    return 0;
}
