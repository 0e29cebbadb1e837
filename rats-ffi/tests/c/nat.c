/* STUN and NAT against a STUN server of this program on 127.0.0.1 (never a public one): it
 * answers Binding requests with XOR-MAPPED-ADDRESS. A client asks it by name and through
 * its configured stun.servers; NAT type, characteristics and statistics JSON; ignored
 * addresses refused by rats_connect. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "librats_c.h"
#include "check.h"

static int stun_sock;
static atomic_int stun_stop, stun_answers;

/* Answers Binding requests (RFC 8489) with the sender's address as XOR-MAPPED-ADDRESS. */
static void* stun_server(void* arg) {
    (void)arg;
    unsigned char buf[1500];
    while (!atomic_load(&stun_stop)) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(stun_sock, buf, sizeof buf, 0, (struct sockaddr*)&from, &len);
        if (n < 20) continue;
        if (buf[0] != 0x00 || buf[1] != 0x01) continue; /* Binding request */
        if (buf[4] != 0x21 || buf[5] != 0x12 || buf[6] != 0xA4 || buf[7] != 0x42) continue;
        unsigned char out[32];
        out[0] = 0x01; out[1] = 0x01;          /* Binding success response */
        out[2] = 0x00; out[3] = 12;            /* attributes: 12 bytes */
        memcpy(out + 4, buf + 4, 16);          /* magic cookie and transaction id */
        out[20] = 0x00; out[21] = 0x20;        /* XOR-MAPPED-ADDRESS */
        out[22] = 0x00; out[23] = 8;
        out[24] = 0; out[25] = 0x01;           /* IPv4 */
        uint16_t port = ntohs(from.sin_port) ^ 0x2112;
        out[26] = (unsigned char)(port >> 8); out[27] = (unsigned char)port;
        uint32_t ip = ntohl(from.sin_addr.s_addr) ^ 0x2112A442u;
        out[28] = (unsigned char)(ip >> 24); out[29] = (unsigned char)(ip >> 16);
        out[30] = (unsigned char)(ip >> 8); out[31] = (unsigned char)ip;
        /* Counted before it is sent: the client may return (and main check the count) as
         * soon as the answer arrives. */
        atomic_fetch_add(&stun_answers, 1);
        sendto(stun_sock, out, sizeof out, 0, (struct sockaddr*)&from, len);
    }
    return NULL;
}

int main(void) {
    stun_sock = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(stun_sock >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(stun_sock, (struct sockaddr*)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(stun_sock, (struct sockaddr*)&a, &len) == 0);
    int stun_port = ntohs(a.sin_port);
    struct timeval tv = {0, 100000};
    CHECK(setsockopt(stun_sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, stun_server, NULL) == 0);

    /* A client with only the stun plugin of the network plugins, on this server. */
    char cfg[400];
    snprintf(cfg, sizeof cfg,
             "{\"disabled_plugins\": [\"dht\", \"mdns\", \"portmap\", \"holepunch\"],"
             " \"listen\": [\"tcp:127.0.0.1:0\"],"
             " \"stun\": {\"servers\": [\"127.0.0.1:%d\"], \"auto\": false, \"rto_ms\": 100, \"tries\": 3}}",
             stun_port);
    rats_client_t c = rats_create(0);
    CHECK(rats_set_config_json(c, cfg) == RATS_SUCCESS);
    CHECK(rats_discover_and_ignore_public_ip(c, "127.0.0.1", stun_port) == RATS_ERROR_NOT_RUNNING);
    CHECK(rats_detect_nat_type(c) == 0);
    CHECK(rats_get_nat_characteristics_json(c) == NULL);
    CHECK(rats_get_nat_traversal_statistics_json(c) == NULL);
    CHECK(rats_start(c) == RATS_SUCCESS);
    CHECK(rats_get_public_ip(c) == NULL); /* nothing asked yet, no peers */

    /* By name. */
    CHECK(rats_discover_and_ignore_public_ip(c, "127.0.0.1", stun_port) == RATS_SUCCESS);
    CHECK(atomic_load(&stun_answers) >= 1);
    char* ip = rats_get_public_ip(c);
    CHECK(ip && strcmp(ip, "127.0.0.1") == 0);
    free(ip);
    /* Through the configured servers. */
    int before = atomic_load(&stun_answers);
    CHECK(rats_discover_and_ignore_public_ip(c, NULL, 0) == RATS_SUCCESS);
    CHECK(atomic_load(&stun_answers) > before);
    CHECK(rats_discover_and_ignore_public_ip(c, "", 1) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_discover_and_ignore_public_ip(c, "127.0.0.1", 70000) == RATS_ERROR_INVALID_PARAMETER);

    /* NAT type: this server has no alternate address, so the behaviour cannot be told; on
     * loopback there is no NAT. */
    int t = rats_detect_nat_type(c);
    CHECK(t >= 0 && t <= 6 && t != 6);
    char* ch = rats_get_nat_characteristics_json(c);
    CHECK(ch && strstr(ch, "\"has_nat\":") && strstr(ch, "\"filtering_behavior\":") &&
          strstr(ch, "\"mapping_behavior\":") && strstr(ch, "\"description\":"));
    free(ch);
    char* st = rats_get_nat_traversal_statistics_json(c);
    CHECK(st && strstr(st, "\"stun_available\":true") && strstr(st, "\"ignored_addresses\":[\"127.0.0.1\"]"));
    free(st);

    /* Ignored addresses: rats_connect refuses them. */
    rats_client_t peer = rats_create(0);
    CHECK(rats_set_config_json(peer, "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\","
                                     " \"holepunch\"], \"listen\": [\"tcp:127.0.0.1:0\"]}") == RATS_SUCCESS);
    CHECK(rats_start(peer) == RATS_SUCCESS);
    CHECK(rats_connect(c, "127.0.0.1", rats_get_listen_port(peer)) == 0); /* ignored */
    CHECK(rats_connect_with_strategy(c, "127.0.0.1", rats_get_listen_port(peer),
                                     RATS_STRATEGY_DIRECT_ONLY) == RATS_ERROR_OPERATION_FAILED);
    rats_add_ignored_address(c, "not an ip"); /* ignored */
    rats_add_ignored_address(c, "::1");
    st = rats_get_nat_traversal_statistics_json(c);
    CHECK(st && strstr(st, "\"ignored_addresses\":[\"127.0.0.1\",\"::1\"]"));
    free(st);
    /* The other way round works. */
    CHECK(rats_connect(peer, "127.0.0.1", rats_get_listen_port(c)) == 1);

    /* A client with the stun plugin off: the configured-servers form fails, naming one works. */
    rats_client_t off = rats_create(0);
    CHECK(rats_set_config_json(off, "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\","
                                    " \"holepunch\"], \"listen\": [\"tcp:127.0.0.1:0\"]}") == RATS_SUCCESS);
    CHECK(rats_start(off) == RATS_SUCCESS);
    CHECK(rats_discover_and_ignore_public_ip(off, NULL, 0) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_detect_nat_type(off) == 0);
    CHECK(rats_discover_and_ignore_public_ip(off, "127.0.0.1", stun_port) == RATS_SUCCESS);
    st = rats_get_nat_traversal_statistics_json(off);
    CHECK(st && strstr(st, "\"stun_available\":false"));
    free(st);

    rats_destroy(off);
    rats_destroy(peer);
    rats_destroy(c);
    atomic_store(&stun_stop, 1);
    pthread_join(th, NULL);
    close(stun_sock);
    printf("nat: ok\n");
    return 0;
}
