// Helpers for the C++ tests: CHECK, waiting for a condition, a client on loopback only.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// Waits up to `seconds` (10 s) for `cond`.
inline bool wait_for(const std::function<bool()>& cond, int seconds = 10) {
    for (int i = 0; i < seconds * 100; ++i) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
}

inline bool wait_count(const std::atomic<int>& n, int want) {
    return wait_for([&] { return n.load() >= want; });
}

// Collects what a client's callbacks throw, as "<callback>: <what()>" lines.
class Thrown {
public:
    void attach(rats::Client& c) {
        c.set_callback_error_handler([this](const char* callback, std::exception_ptr error) {
            std::string what = "?";
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            std::lock_guard<std::mutex> g(lock_);
            lines_.push_back(std::string(callback) + ": " + what);
        });
    }
    bool has(const std::string& line) const {
        std::lock_guard<std::mutex> g(lock_);
        return std::find(lines_.begin(), lines_.end(), line) != lines_.end();
    }
    // Waits up to 10 s for `line`.
    bool wait(const std::string& line) const {
        return wait_for([&] { return has(line); });
    }
    std::vector<std::string> lines() const {
        std::lock_guard<std::mutex> g(lock_);
        return lines_;
    }

private:
    mutable std::mutex lock_;
    std::vector<std::string> lines_;
};

// A client configured for loopback tests, not started.
inline rats::Client local_client(const char* protocol = "cpp-test") {
    rats::Client c(0);
    c.set_config_json(LOCAL);
    c.set_protocol_name(protocol);
    return c;
}

} // namespace test
