// Helpers for the C++ tests: CHECK, waiting for a condition, a client on loopback only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

#include "rats.hpp"

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                              \
        }                                                                              \
    } while (0)

// Expects `expr` to throw rats::Error with the C code `code`.
#define CHECK_THROWS(expr, code)                                                       \
    do {                                                                               \
        bool thrown_ = false;                                                          \
        try {                                                                          \
            (void)(expr);                                                              \
        } catch (const rats::Error& e) {                                               \
            thrown_ = true;                                                            \
            if (e.c_code() != (code)) {                                                \
                std::fprintf(stderr, "%s:%d: %s threw %d (%s), expected %d\n", __FILE__, \
                             __LINE__, #expr, e.c_code(), e.what(), (code));           \
                std::exit(1);                                                          \
            }                                                                          \
        }                                                                              \
        CHECK(thrown_ && #expr " throws");                                             \
    } while (0)

namespace test {

// Switches off the plugins that reach beyond loopback (DHT, mDNS, STUN, port mapping).
inline constexpr const char* LOCAL =
    R"({"disabled_plugins": ["dht", "mdns", "stun", "portmap", "holepunch"]})";

// Waits up to 10 s for `cond`.
inline bool wait_for(const std::function<bool()>& cond) {
    for (int i = 0; i < 1000; ++i) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
}

inline bool wait_count(const std::atomic<int>& n, int want) {
    return wait_for([&] { return n.load() >= want; });
}

// A client configured for loopback tests, not started.
inline rats::Client local_client(const char* protocol = "cpp-test") {
    rats::Client c(0);
    c.set_config_json(LOCAL);
    c.set_protocol_name(protocol);
    return c;
}

} // namespace test
