/* File and directory transfer between two clients in one process on 127.0.0.1: a file
 * offered and accepted from inside the request callback, a directory tree accepted from the
 * main thread, a rejected offer, a pull from the peer's shared_root; progress callbacks with
 * librats' status strings, progress and statistics JSON, and every file's contents compared
 * (FNV-1a 64 hash and size) with its source. */
#define _XOPEN_SOURCE 700
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "librats_c.h"
#include "check.h"

static char TMP[64];

typedef struct {
    rats_client_t self;
    pthread_mutex_t lock;
    atomic_int file_requests, dir_requests, progress_calls, dir_progress_calls;
    char req_id[80], req_peer[80], req_name[128];
    char dir_req_id[80];
    /* Finished transfers: "<id> <STATUS>" lines. */
    char finished[2048];
    int saw_in_progress, saw_starting;
    int dir_total, dir_done_max;
    char last_dir_file[256];
    int accept_in_callback;
} side_t;

static void put(side_t* s, char* dst, size_t cap, const char* src) {
    pthread_mutex_lock(&s->lock);
    snprintf(dst, cap, "%s", src);
    pthread_mutex_unlock(&s->lock);
}

static void path_of(char* out, size_t cap, const char* rel) { snprintf(out, cap, "%s/%s", TMP, rel); }

static void on_file_request(void* ud, const char* peer_id, const char* transfer_id,
                            const char* remote_path, const char* filename) {
    side_t* s = ud;
    CHECK(strlen(peer_id) == 64 && strlen(transfer_id) == 32 && strcmp(remote_path, filename) == 0);
    put(s, s->req_peer, sizeof s->req_peer, peer_id);
    put(s, s->req_name, sizeof s->req_name, filename);
    put(s, s->req_id, sizeof s->req_id, transfer_id);
    if (s->accept_in_callback) {
        char dest[256];
        path_of(dest, sizeof dest, "recv.bin");
        /* Answering from inside the callback must not deadlock. */
        CHECK(rats_accept_file_transfer(s->self, transfer_id, dest) == RATS_SUCCESS);
        CHECK(rats_accept_file_transfer(s->self, transfer_id, dest) == RATS_ERROR_OPERATION_FAILED);
    }
    atomic_fetch_add(&s->file_requests, 1);
}

static void on_dir_request(void* ud, const char* peer_id, const char* transfer_id,
                           const char* remote_path, const char* name) {
    side_t* s = ud;
    (void)peer_id;
    CHECK(strcmp(remote_path, "tree") == 0 && strcmp(name, "tree") == 0);
    put(s, s->dir_req_id, sizeof s->dir_req_id, transfer_id);
    atomic_fetch_add(&s->dir_requests, 1);
}

static void on_progress(void* ud, const char* transfer_id, int percent, const char* status) {
    side_t* s = ud;
    CHECK(strlen(transfer_id) == 32 && percent >= 0 && percent <= 100);
    pthread_mutex_lock(&s->lock);
    if (strcmp(status, "STARTING") == 0) s->saw_starting = 1;
    if (strcmp(status, "IN_PROGRESS") == 0) s->saw_in_progress = 1;
    if (strcmp(status, "COMPLETED") == 0 || strcmp(status, "FAILED") == 0 ||
        strcmp(status, "CANCELLED") == 0) {
        if (strcmp(status, "COMPLETED") == 0) CHECK(percent == 100);
        size_t len = strlen(s->finished);
        snprintf(s->finished + len, sizeof s->finished - len, "%s %s\n", transfer_id, status);
    }
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->progress_calls, 1);
}

static void on_dir_progress(void* ud, const char* transfer_id, int done, int total, const char* current) {
    side_t* s = ud;
    CHECK(strlen(transfer_id) == 32 && done >= 0 && done <= total && current);
    pthread_mutex_lock(&s->lock);
    s->dir_total = total;
    if (done > s->dir_done_max) s->dir_done_max = done;
    if (current[0]) snprintf(s->last_dir_file, sizeof s->last_dir_file, "%s", current);
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->dir_progress_calls, 1);
}

/* Waits up to 20 s until `s` saw transfer `id` finish with `status`. */
static int wait_finished(side_t* s, const char* id, const char* status) {
    char line[128];
    snprintf(line, sizeof line, "%s %s\n", id, status);
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&s->lock);
        int found = strstr(s->finished, line) != NULL;
        pthread_mutex_unlock(&s->lock);
        if (found) return 1;
        sleep_ms(10);
    }
    return 0;
}

static void write_file(const char* rel, size_t size, uint32_t seed) {
    char p[256];
    path_of(p, sizeof p, rel);
    FILE* f = fopen(p, "wb");
    CHECK(f != NULL);
    uint32_t x = seed;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 16) & 0xff, f);
    }
    CHECK(fclose(f) == 0);
}

/* FNV-1a 64 of a file's contents, and its size; 0 and -1 if it cannot be read. */
static uint64_t hash_file(const char* rel, long* size) {
    char p[256];
    path_of(p, sizeof p, rel);
    FILE* f = fopen(p, "rb");
    *size = -1;
    if (!f) return 0;
    uint64_t h = 1469598103934665603ull;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        h = (h ^ (uint64_t)(unsigned char)c) * 1099511628211ull;
        n++;
    }
    fclose(f);
    *size = n;
    return h;
}

static void same_file(const char* a, const char* b) {
    long sa, sb;
    uint64_t ha = hash_file(a, &sa), hb = hash_file(b, &sb);
    if (sa < 0 || sa != sb || ha != hb) {
        fprintf(stderr, "%s (%ld bytes) and %s (%ld bytes) differ\n", a, sa, b, sb);
        exit(1);
    }
}

static void mkdir_rel(const char* rel) {
    char p[256];
    path_of(p, sizeof p, rel);
    CHECK(mkdir(p, 0700) == 0);
}

static rats_client_t make(side_t* s, const char* extra) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    rats_client_t c = rats_create(0);
    CHECK(c != NULL);
    s->self = c;
    CHECK(rats_set_config_json(c, "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\","
                                  " \"holepunch\"], \"transfer\": {\"progress_interval_ms\": 20}}") ==
          RATS_SUCCESS);
    if (extra) CHECK(rats_set_config_json(c, extra) == RATS_SUCCESS);
    rats_set_file_request_callback(c, on_file_request, s);
    rats_set_directory_request_callback(c, on_dir_request, s);
    rats_set_file_progress_callback(c, on_progress, s);
    rats_set_directory_progress_callback(c, on_dir_progress, s);
    return c;
}

int main(void) {
    snprintf(TMP, sizeof TMP, "/tmp/rats-ffi-transfer-XXXXXX");
    CHECK(mkdtemp(TMP) != NULL);
    write_file("src.bin", 1024 * 1024 + 123, 1); /* five chunks of 256 KiB */
    mkdir_rel("dir");
    mkdir_rel("dir/sub");
    mkdir_rel("dir/sub/deeper");
    write_file("dir/a.txt", 10, 2);
    write_file("dir/sub/b.bin", 300 * 1024, 3);
    write_file("dir/sub/deeper/c.txt", 0, 4);
    mkdir_rel("share");
    write_file("share/pulled.txt", 5000, 5);

    char share[256], extra[400];
    path_of(share, sizeof share, "share");
    snprintf(extra, sizeof extra, "{\"transfer\": {\"shared_root\": \"%s\", \"progress_interval_ms\": 20}}", share);
    side_t sa, sb;
    rats_client_t a = make(&sa, NULL);
    rats_client_t b = make(&sb, extra);
    sb.accept_in_callback = 1;
    char* id_b = rats_get_our_peer_id(b);
    char src[256], dir[256], dest[256];
    path_of(src, sizeof src, "src.bin");
    path_of(dir, sizeof dir, "dir");

    /* Not running yet. */
    CHECK(rats_send_file(a, id_b, src, NULL) == NULL);
    CHECK(rats_get_file_transfer_statistics_json(a) == NULL);

    CHECK(rats_start(a) == RATS_SUCCESS);
    CHECK(rats_start(b) == RATS_SUCCESS);
    CHECK(rats_connect(a, "127.0.0.1", rats_get_listen_port(b)) == 1);
    for (int i = 0; i < 500 && rats_get_peer_count(b) < 1; i++) sleep_ms(10);
    CHECK(rats_get_peer_count(b) == 1);

    /* Bad sends. */
    char missing[256];
    path_of(missing, sizeof missing, "no-such-file");
    CHECK(rats_send_file(a, id_b, missing, NULL) == NULL);
    CHECK(rats_send_file(a, "zz", src, NULL) == NULL);

    /* 1. A file, accepted from inside B's request callback. */
    char* t1 = rats_send_file(a, id_b, src, "renamed.bin");
    CHECK(t1 && strlen(t1) == 32);
    CHECK(wait_for(&sb.file_requests, 1));
    CHECK(strcmp(sb.req_name, "renamed.bin") == 0 && strcmp(sb.req_id, t1) == 0);
    CHECK(wait_finished(&sa, t1, "COMPLETED"));
    CHECK(wait_finished(&sb, t1, "COMPLETED"));
    same_file("src.bin", "recv.bin");
    CHECK(sa.saw_starting && sb.saw_starting);
    char* pj = rats_get_file_transfer_progress_json(a, t1);
    CHECK(pj && strstr(pj, "\"status\":4") && strstr(pj, "\"direction\":0"));
    CHECK(strstr(pj, "\"completion_percentage\":100") && strstr(pj, "\"total_bytes\":1048699"));
    CHECK(strstr(pj, "\"filename\":\"renamed.bin\"") && strstr(pj, "\"peer_id\":\""));
    free(pj);
    pj = rats_get_file_transfer_progress_json(b, t1);
    CHECK(pj && strstr(pj, "\"direction\":1") && strstr(pj, "\"bytes_transferred\":1048699"));
    free(pj);

    /* 2. A directory tree, accepted from the main thread. */
    sb.accept_in_callback = 0;
    char* t2 = rats_send_directory(a, id_b, dir, "tree", 1);
    CHECK(t2 && strlen(t2) == 32);
    CHECK(wait_for(&sb.dir_requests, 1) && strcmp(sb.dir_req_id, t2) == 0);
    path_of(dest, sizeof dest, "recv_tree");
    CHECK(rats_accept_file_transfer(b, t2, dest) == RATS_ERROR_INVALID_PARAMETER); /* a directory */
    CHECK(rats_accept_directory_transfer(b, t2, dest) == RATS_SUCCESS);
    CHECK(wait_finished(&sb, t2, "COMPLETED"));
    CHECK(wait_finished(&sa, t2, "COMPLETED"));
    same_file("dir/a.txt", "recv_tree/a.txt");
    same_file("dir/sub/b.bin", "recv_tree/sub/b.bin");
    same_file("dir/sub/deeper/c.txt", "recv_tree/sub/deeper/c.txt");
    CHECK(atomic_load(&sb.dir_progress_calls) > 0);
    CHECK(sb.dir_total == 3 && sb.dir_done_max == 3 && sb.last_dir_file[0] != 0);

    /* 3. A rejected offer: the sender's transfer fails. */
    char* t3 = rats_send_file(a, id_b, src, NULL);
    CHECK(t3 != NULL);
    CHECK(wait_for(&sb.file_requests, 2) && strcmp(sb.req_name, "src.bin") == 0);
    CHECK(rats_reject_directory_transfer(b, t3, "x") == RATS_ERROR_INVALID_PARAMETER); /* a file */
    CHECK(rats_reject_file_transfer(b, t3, "no thanks") == RATS_SUCCESS);
    CHECK(rats_reject_file_transfer(b, t3, "twice") == RATS_ERROR_OPERATION_FAILED);
    CHECK(wait_finished(&sa, t3, "FAILED"));

    /* 4. A pull from B's shared_root. */
    path_of(dest, sizeof dest, "pulled_here.txt");
    char* t4 = rats_request_file(a, id_b, "pulled.txt", dest);
    CHECK(t4 != NULL);
    CHECK(wait_finished(&sa, t4, "COMPLETED"));
    same_file("share/pulled.txt", "pulled_here.txt");
    /* Outside the share: refused. */
    path_of(dest, sizeof dest, "never.txt");
    char* t5 = rats_request_file(a, id_b, "../src.bin", dest);
    if (t5) CHECK(wait_finished(&sa, t5, "FAILED"));
    long never;
    hash_file("never.txt", &never);
    CHECK(never == -1);

    /* Unknown and malformed ids. */
    const char* unknown = "00000000000000000000000000000000";
    CHECK(rats_cancel_file_transfer(a, unknown) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_pause_file_transfer(a, "zz") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_resume_file_transfer(a, unknown) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_accept_file_transfer(b, unknown, dest) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_get_file_transfer_progress_json(a, unknown) == NULL);
    CHECK(rats_cancel_file_transfer(a, t1) == RATS_ERROR_OPERATION_FAILED); /* finished */

    char* st = rats_get_file_transfer_statistics_json(b);
    CHECK(st && strstr(st, "\"completed_transfers\":") && strstr(st, "\"total_bytes_received\":"));
    free(st);
    CHECK(sa.saw_in_progress || sb.saw_in_progress);

    rats_destroy(a);
    rats_destroy(b);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    free(t5);
    free(id_b);
    pthread_mutex_destroy(&sa.lock);
    pthread_mutex_destroy(&sb.lock);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", TMP);
    CHECK(system(cmd) == 0);
    printf("transfer: ok\n");
    return 0;
}
