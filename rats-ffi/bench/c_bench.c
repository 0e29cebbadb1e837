/* rats-ffi's C benchmark: two clients in one process on 127.0.0.1, binary messages through
 * the C API (rats_send_binary), counted by the receiver's binary callback. The method is
 * rats-bench's (tests/src/bin/rats-bench): for `messages`, a warm-up of 20000 messages, then
 * 64-byte messages for about --secs seconds (the clock read every 1024 sends), timed until
 * the receiver has counted every one; for `throughput`, --mib messages of 1 MiB, timed from
 * the first send until the receiver had every byte. One JSON line per scenario on stdout.
 * A benchmark prints numbers: it asserts nothing about them.
 *
 *   c_bench [--secs S] [--mib N] [--size BYTES] */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "librats_c.h"

static const char* LOCAL =
    "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\", \"holepunch\"]}";

#define WARMUP 20000ULL
#define CHECK_EVERY 1024ULL
#define MIB (1024 * 1024)

static void die(const char* what) {
    printf("{\"api\":\"c\",\"error\":\"%s\"}\n", what);
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct {
    atomic_ullong messages, bytes;
    atomic_ullong first_ns, last_ns; /* first and last delivery (throughput) */
} counter_t;

static void on_binary(void* ud, const char* peer_id, const void* data, size_t size) {
    counter_t* c = ud;
    (void)peer_id;
    (void)data;
    uint64_t t = now_ns();
    unsigned long long zero = 0;
    atomic_compare_exchange_strong(&c->first_ns, &zero, t);
    atomic_store(&c->last_ns, t);
    atomic_fetch_add(&c->bytes, size);
    atomic_fetch_add(&c->messages, 1);
}

/* Polls every millisecond until *v >= want; 0 after `limit_s` seconds. */
static int wait_at_least(atomic_ullong* v, unsigned long long want, int limit_s) {
    uint64_t deadline = now_ns() + (uint64_t)limit_s * 1000000000ULL;
    while (atomic_load(v) < want) {
        if (now_ns() >= deadline) return 0;
        sleep_ms(1);
    }
    return 1;
}

typedef struct {
    rats_client_t receiver, sender;
    char* peer; /* the receiver's id */
} pair_t;

static rats_client_t start_client(void) {
    rats_client_t c = rats_create(0);
    if (!c) die("rats_create");
    if (rats_set_config_json(c, LOCAL) != RATS_SUCCESS) die("rats_set_config_json");
    if (rats_set_protocol_name(c, "rats-bench") != RATS_SUCCESS) die("rats_set_protocol_name");
    return c;
}

static pair_t make_pair(counter_t* counter) {
    pair_t p;
    p.receiver = start_client();
    p.sender = start_client();
    rats_set_binary_callback(p.receiver, on_binary, counter);
    if (rats_start(p.receiver) != RATS_SUCCESS || rats_start(p.sender) != RATS_SUCCESS)
        die("rats_start");
    if (rats_connect(p.sender, "127.0.0.1", rats_get_listen_port(p.receiver)) != 1)
        die("rats_connect");
    for (int i = 0; rats_get_peer_count(p.receiver) != 1; i++) {
        if (i > 10000) die("the receiver never registered the sender");
        sleep_ms(1);
    }
    p.peer = rats_get_our_peer_id(p.receiver);
    if (!p.peer) die("rats_get_our_peer_id");
    return p;
}

static void close_pair(pair_t* p) {
    rats_destroy(p->sender);
    rats_destroy(p->receiver);
    rats_string_free(p->peer);
}

static double round1(double x) { return (double)(long long)(x * 10.0 + 0.5) / 10.0; }

static void messages(double secs, size_t size) {
    counter_t counter;
    memset(&counter, 0, sizeof counter);
    pair_t p = make_pair(&counter);
    unsigned char* msg = malloc(size);
    if (!msg) die("malloc");
    memset(msg, 0x5A, size);

    for (unsigned long long i = 0; i < WARMUP; i++) {
        if (rats_send_binary(p.sender, p.peer, msg, size) != RATS_SUCCESS) die("send (warm-up)");
    }
    if (!wait_at_least(&counter.messages, WARMUP, 30)) die("warm-up messages not delivered");

    uint64_t window = (uint64_t)(secs * 1e9);
    uint64_t t0 = now_ns();
    unsigned long long sent = 0;
    for (;;) {
        if (rats_send_binary(p.sender, p.peer, msg, size) != RATS_SUCCESS) die("send");
        sent++;
        if (sent % CHECK_EVERY == 0 && now_ns() - t0 >= window) break;
    }
    if (!wait_at_least(&counter.messages, WARMUP + sent, 60)) die("messages not delivered");
    double elapsed = (double)(now_ns() - t0) / 1e9;
    unsigned long long got = atomic_load(&counter.messages) - WARMUP;
    if (got != sent) die("the receiver counted a different number of messages");
    printf("{\"api\":\"c\",\"scenario\":\"messages\",\"size\":%zu,\"messages\":%llu,"
           "\"secs\":%.3f,\"msgs_per_s\":%.1f,\"mib_per_s\":%.1f}\n",
           size, sent, elapsed, round1((double)sent / elapsed),
           round1((double)sent * (double)size / MIB / elapsed));
    fflush(stdout);
    free(msg);
    close_pair(&p);
}

static void throughput(unsigned long long mib) {
    counter_t counter;
    memset(&counter, 0, sizeof counter);
    pair_t p = make_pair(&counter);
    unsigned char* payload = malloc(MIB);
    if (!payload) die("malloc");
    memset(payload, 0xA5, MIB);
    unsigned long long total = mib * MIB;

    uint64_t t0 = now_ns();
    for (unsigned long long i = 0; i < mib; i++) {
        if (rats_send_binary(p.sender, p.peer, payload, MIB) != RATS_SUCCESS) die("send");
    }
    if (!wait_at_least(&counter.bytes, total, (int)(60 + mib / 10))) die("bytes not delivered");
    if (atomic_load(&counter.bytes) != total) die("the receiver got a different number of bytes");
    uint64_t first = atomic_load(&counter.first_ns), last = atomic_load(&counter.last_ns);
    double secs = (double)(last - t0) / 1e9;
    double receive = (double)(last - first) / 1e9;
    printf("{\"api\":\"c\",\"scenario\":\"throughput\",\"mib\":%llu,\"secs\":%.3f,"
           "\"mib_per_s\":%.1f,\"receive_mib_per_s\":%.1f}\n",
           mib, secs, round1((double)mib / secs),
           round1((double)(mib - 1) / (receive > 1e-9 ? receive : 1e-9)));
    fflush(stdout);
    free(payload);
    close_pair(&p);
}

int main(int argc, char** argv) {
    double secs = 3.0;
    unsigned long long mib = 1024;
    size_t size = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--secs") == 0) secs = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--mib") == 0) mib = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--size") == 0) size = (size_t)strtoull(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--secs S] [--mib N] [--size BYTES]\n", argv[0]);
            return 2;
        }
    }
    if (mib < 2 || size == 0) {
        fprintf(stderr, "--mib must be at least 2 and --size at least 1\n");
        return 2;
    }
    messages(secs, size);
    throughput(mib);
    return 0;
}
