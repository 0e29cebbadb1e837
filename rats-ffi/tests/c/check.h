/* What the C tests share: CHECK, sleeping, and waiting for a counter with a time limit.
 * Include after the system headers (each test defines _POSIX_C_SOURCE first). */
#ifndef RATS_FFI_TEST_CHECK_H
#define RATS_FFI_TEST_CHECK_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Fails the test (exit 1) with the file, line and condition when `cond` is false. */
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static inline void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to 20 s for *counter >= want; 1 when it got there. */
static inline int wait_for(atomic_int* counter, int want) {
    for (int i = 0; i < 2000; i++) {
        if (atomic_load(counter) >= want) return 1;
        sleep_ms(10);
    }
    return 0;
}

#endif
