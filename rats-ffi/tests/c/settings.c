/* Logging (to a file in a temporary directory), the encryption key (the node's identity),
 * the data directory with config.json and historical peers (saved, read, reconnected to
 * after a restart, cleared), and the connection statistics JSON. Loopback only. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "librats_c.h"
#include "check.h"

static const char* LOCAL =
    "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\", \"holepunch\"],"
    " \"listen\": [\"tcp:127.0.0.1:0\"]}";

static char TMP[64];

static long file_size(const char* path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static char* read_all(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static int has_id(char** l, int n, const char* id) {
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(l[i], id) == 0) found = 1;
        free(l[i]);
    }
    free(l);
    return found;
}

int main(void) {
    snprintf(TMP, sizeof TMP, "/tmp/rats-ffi-settings-XXXXXX");
    CHECK(mkdtemp(TMP) != NULL);
    char logfile[256], datadir[256], path[300];
    snprintf(logfile, sizeof logfile, "%s/logs/rats.log", TMP);
    snprintf(datadir, sizeof datadir, "%s/data", TMP);

    /* ---- logging (process-wide) */
    rats_client_t a = rats_create(0);
    CHECK(rats_set_config_json(a, LOCAL) == RATS_SUCCESS);
    rats_set_log_level("debug");
    rats_set_log_level("nonsense"); /* ignored */
    rats_set_log_file_path(a, logfile);
    char* lf = rats_get_log_file_path(a);
    CHECK(lf && strcmp(lf, logfile) == 0);
    free(lf);
    rats_set_log_timestamps_enabled(a, 0);
    CHECK(rats_is_log_timestamps_enabled(a) == 0);
    rats_set_log_timestamps_enabled(a, 1);
    CHECK(rats_is_log_timestamps_enabled(a) == 1);
    rats_set_log_colors_enabled(a, 1);
    CHECK(rats_is_log_colors_enabled(a) == 1);
    rats_set_log_colors_enabled(a, 0);
    CHECK(rats_is_log_colors_enabled(a) == 0);
    rats_set_log_rotation_size(a, 1024 * 1024);
    rats_set_log_retention_count(a, 2);
    rats_set_logging_enabled(1);
    CHECK(rats_start(a) == RATS_SUCCESS); /* logs at INFO and DEBUG */
    rats_stop(a);
    for (int i = 0; i < 200 && file_size(logfile) <= 0; i++) sleep_ms(10);
    CHECK(file_size(logfile) > 0);
    rats_clear_log_file(a);
    CHECK(file_size(logfile) == 0);
    rats_set_logging_enabled(0);
    CHECK(rats_start(a) == RATS_SUCCESS);
    rats_stop(a);
    sleep_ms(100);
    CHECK(file_size(logfile) == 0); /* off: nothing written */
    rats_set_log_file_path(a, "");
    lf = rats_get_log_file_path(a);
    CHECK(lf && lf[0] == 0);
    free(lf);
    rats_set_log_level("ERROR");
    rats_set_logging_enabled(1);

    /* ---- the encryption key is the identity's secret key */
    char* id1 = rats_get_our_peer_id(a);
    char* key = rats_get_encryption_key(a);
    CHECK(key && strlen(key) == 64);
    char* key2 = rats_generate_encryption_key(a);
    CHECK(key2 && strlen(key2) == 64 && strcmp(key, key2) != 0);
    char* id2 = rats_get_our_peer_id(a);
    CHECK(strcmp(id1, id2) != 0); /* a new identity */
    char* key3 = rats_get_encryption_key(a);
    CHECK(strcmp(key2, key3) == 0);
    CHECK(rats_set_encryption_key(a, key) == RATS_SUCCESS); /* back to the first */
    char* id3 = rats_get_our_peer_id(a);
    CHECK(strcmp(id1, id3) == 0);
    CHECK(rats_set_encryption_key(a, "xyz") == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_set_encryption_key(a, NULL) == RATS_ERROR_INVALID_PARAMETER);
    CHECK(rats_start(a) == RATS_SUCCESS);
    char* id4 = rats_get_our_peer_id(a);
    CHECK(strcmp(id1, id4) == 0); /* the node runs with it */
    CHECK(rats_set_encryption_key(a, key2) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_generate_encryption_key(a) == NULL);
    free(id2);
    free(id3);
    free(id4);
    free(key);
    free(key2);
    free(key3);

    /* ---- connection statistics */
    char* st = rats_get_connection_statistics_json(a);
    CHECK(st && strstr(st, "\"running\":true") && strstr(st, "\"total_peers\":0"));
    CHECK(strstr(st, "\"our_peer_id\":\"") && strstr(st, id1) && strstr(st, "\"dht_running\":false"));
    free(st);

    /* ---- data directory, config.json, historical peers */
    rats_client_t b = rats_create(0);
    char* none = rats_get_data_directory(b);
    CHECK(none && none[0] == 0);
    free(none);
    CHECK(rats_load_configuration(b) == RATS_ERROR_OPERATION_FAILED); /* no data directory */
    CHECK(rats_save_configuration(b) == RATS_ERROR_OPERATION_FAILED);
    CHECK(rats_set_data_directory(b, "") == RATS_ERROR_INVALID_PARAMETER);
    char* before = rats_get_our_peer_id(b);
    CHECK(rats_set_data_directory(b, datadir) == RATS_SUCCESS);
    char* dd = rats_get_data_directory(b);
    CHECK(dd && strcmp(dd, datadir) == 0);
    free(dd);
    char* b_id = rats_get_our_peer_id(b);
    CHECK(strcmp(before, b_id) != 0); /* the directory's identity */
    free(before);
    snprintf(path, sizeof path, "%s/identity.key", datadir);
    CHECK(file_size(path) > 0);
    CHECK(rats_set_config_json(b, LOCAL) == RATS_SUCCESS);
    CHECK(rats_set_protocol_name(b, "ffi-settings") == RATS_SUCCESS);
    CHECK(rats_save_configuration(b) == RATS_SUCCESS);
    snprintf(path, sizeof path, "%s/config.json", datadir);
    char* cfg = read_all(path);
    CHECK(cfg && strstr(cfg, "\"protocol_name\": \"ffi-settings\"") && strstr(cfg, "holepunch"));
    CHECK(rats_load_configuration(b) == RATS_SUCCESS);
    CHECK(rats_load_historical_peers(b) == 0); /* no peers.rats yet */
    int n = 7;
    CHECK(rats_get_historical_peer_ids(b, &n) == NULL && n == 0);

    /* A (protocol "rats") cannot talk to B ("ffi-settings"): a third client C with B's
     * protocol is B's peer. */
    rats_client_t c = rats_create(0);
    CHECK(rats_set_config_json(c, LOCAL) == RATS_SUCCESS);
    CHECK(rats_set_protocol_name(c, "ffi-settings") == RATS_SUCCESS);
    CHECK(rats_start(c) == RATS_SUCCESS);
    char* c_id = rats_get_our_peer_id(c);
    CHECK(rats_start(b) == RATS_SUCCESS);
    char* b_id2 = rats_get_our_peer_id(b);
    CHECK(strcmp(b_id, b_id2) == 0);
    free(b_id2);
    CHECK(rats_set_data_directory(b, datadir) == RATS_ERROR_OPERATION_FAILED); /* running */
    CHECK(rats_connect(b, "127.0.0.1", rats_get_listen_port(c)) == 1);
    CHECK(rats_save_historical_peers(b) == 1);
    CHECK(rats_load_historical_peers(b) == 1);
    n = 0;
    char** ids = rats_get_historical_peer_ids(b, &n);
    CHECK(n == 1 && has_id(ids, n, c_id));
    CHECK(rats_save_historical_peers(a) == 0); /* a has no data directory */

    /* Restart B: it reconnects to C by itself (the peer store), same identity. */
    rats_stop(b);
    for (int i = 0; i < 500 && rats_get_peer_count(c) > 0; i++) sleep_ms(10);
    CHECK(rats_get_peer_count(c) == 0);
    CHECK(rats_start(b) == RATS_SUCCESS);
    char* b_id3 = rats_get_our_peer_id(b);
    CHECK(strcmp(b_id, b_id3) == 0);
    free(b_id3);
    for (int i = 0; i < 1000 && rats_get_peer_count(b) < 1; i++) sleep_ms(10);
    CHECK(rats_get_peer_count(b) == 1);
    CHECK(rats_load_and_reconnect_peers(b) >= 0);

    /* A second client cannot take a directory in use. */
    rats_client_t d = rats_create(0);
    CHECK(rats_set_data_directory(d, datadir) == RATS_ERROR_OPERATION_FAILED);
    rats_destroy(d);

    /* Clear: running, peers.rats is written empty. */
    rats_clear_historical_peers(b);
    n = 7;
    CHECK(rats_get_historical_peer_ids(b, &n) == NULL && n == 0);
    rats_stop(b);
    rats_clear_historical_peers(b); /* stopped: the files are removed */
    snprintf(path, sizeof path, "%s/peers.rats", datadir);
    CHECK(file_size(path) == -1);
    CHECK(rats_load_historical_peers(b) == 0);

    rats_destroy(a);
    rats_destroy(b);
    rats_destroy(c);
    free(id1);
    free(b_id);
    free(c_id);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", TMP);
    CHECK(system(cmd) == 0);
    printf("settings: ok\n");
    return 0;
}
