// Callbacks that throw never cross into the library: the error handler gets the exception
// (or stderr does), the client keeps working. Also: a callback destroying its own client,
// callbacks replaced while messages arrive, a callback setting callbacks.
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"

namespace {

struct Pair {
    rats::Client a = test::local_client();
    rats::Client b = test::local_client();
    std::string id_a, id_b;
    std::atomic<int> b_connected{0};

    void start() {
        b.set_connection_callback([this](const std::string&) { ++b_connected; });
        a.start();
        b.start();
        id_a = a.get_our_peer_id();
        id_b = b.get_our_peer_id();
        a.connect_to_peer("127.0.0.1", b.get_listen_port());
        CHECK(test::wait_count(b_connected, 1));
    }
};

void throwing_callbacks() {
    Pair p;
    std::mutex lock;
    std::vector<std::string> reported; // "callback: what"
    std::atomic<int> reports{0}, received{0};
    p.b.set_callback_error_handler([&](const char* callback, std::exception_ptr error) {
        std::string what = "?";
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (int n) {
            what = "int " + std::to_string(n);
        }
        std::lock_guard<std::mutex> g(lock);
        reported.push_back(std::string(callback) + ": " + what);
        ++reports;
    });
    p.b.set_string_data_callback([&](const std::string&, const std::string& msg) {
        ++received;
        if (msg == "throw") throw std::runtime_error("boom");
        if (msg == "throw int") throw 7;
    });
    p.b.set_binary_data_callback([](const std::string&, rats::bytes_view) {
        throw std::logic_error("binary boom");
    });
    p.b.on("typed", [](const std::string&, const std::string&) {
        throw std::out_of_range("typed boom");
    });
    p.start();

    p.a.send_string_to_peer_id(p.id_b, "throw");
    p.a.send_string_to_peer_id(p.id_b, "throw int");
    p.a.send_binary_to_peer_id(p.id_b, std::string("bytes"));
    p.a.send(p.id_b, "typed", "{}");
    p.a.send_string_to_peer_id(p.id_b, "fine");
    CHECK(test::wait_count(reports, 4));
    CHECK(test::wait_count(received, 3));
    {
        std::lock_guard<std::mutex> g(lock);
        CHECK(reported.size() == 4);
        CHECK(reported[0] == "string_data: boom");
        CHECK(reported[1] == "string_data: int 7");
        CHECK(reported[2] == "binary_data: binary boom");
        CHECK(reported[3] == "message:typed: typed boom");
    }
    // The client still works both ways.
    std::atomic<int> a_got{0};
    p.a.set_string_data_callback([&](const std::string&, const std::string& m) {
        if (m == "still here") ++a_got;
    });
    p.b.send_string_to_peer_id(p.id_a, "still here");
    CHECK(test::wait_count(a_got, 1));

    // An error handler that throws: caught as well (reported on stderr).
    p.b.set_callback_error_handler([](const char*, std::exception_ptr) {
        throw std::runtime_error("the handler throws too");
    });
    p.a.send_string_to_peer_id(p.id_b, "throw");
    CHECK(test::wait_count(received, 4));
    // No handler: the default writes a line on stderr.
    p.b.set_callback_error_handler(nullptr);
    p.a.send_string_to_peer_id(p.id_b, "throw int");
    p.a.send_string_to_peer_id(p.id_b, "last");
    CHECK(test::wait_count(received, 6));
    CHECK(p.b.get_peer_count() == 1);
}

// Callbacks and the error handler run on the client's callback thread, "rats-cb".
void callback_thread() {
    Pair p;
    const auto main_thread = std::this_thread::get_id();
    std::atomic<int> ok{0}, handled{0};
    auto on_cb_thread = [&] {
        char name[16] = {};
        pthread_getname_np(pthread_self(), name, sizeof name);
        return std::string(name) == "rats-cb" && std::this_thread::get_id() != main_thread;
    };
    p.b.set_string_data_callback([&](const std::string&, const std::string&) {
        if (on_cb_thread()) ++ok;
        throw std::runtime_error("to the handler");
    });
    p.b.set_callback_error_handler([&](const char*, std::exception_ptr) {
        if (on_cb_thread()) ++handled;
    });
    p.start();
    p.a.send_string_to_peer_id(p.id_b, "x");
    CHECK(test::wait_count(ok, 1) && test::wait_count(handled, 1));
}

void destroy_inside_own_callback() {
    Pair p;
    auto owned = std::make_unique<rats::Client>(std::move(p.b));
    std::atomic<int> done{0};
    rats::Client* raw = owned.get();
    raw->set_string_data_callback([&](const std::string&, const std::string& msg) {
        if (msg == "die") {
            owned.reset(); // the Client (and its std::functions) go away inside this call
            ++done;
        }
    });
    // Pair::start uses p.b; start by hand with the moved client.
    std::atomic<int> connected{0};
    raw->set_connection_callback([&](const std::string&) { ++connected; });
    p.a.start();
    raw->start();
    const std::string id = raw->get_our_peer_id();
    p.a.connect_to_peer("127.0.0.1", raw->get_listen_port());
    CHECK(test::wait_count(connected, 1));
    p.a.send_string_to_peer_id(id, "die");
    CHECK(test::wait_count(done, 1));
    CHECK(owned == nullptr);
    CHECK(test::wait_for([&] { return p.a.get_peer_count() == 0; }));
}

void replace_while_receiving() {
    Pair p;
    std::atomic<int> got{0};
    auto counter = [&got](const std::string&, rats::bytes_view v) {
        CHECK(v.size() == 16);
        ++got;
    };
    p.b.set_binary_data_callback(counter);
    p.start();
    // Four threads send through one Client at once while the main thread replaces the
    // receiver's callback (with an equal one) many times.
    const int threads = 4, each = 500;
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
        senders.emplace_back([&] {
            std::vector<std::uint8_t> msg(16, 0x42);
            for (int i = 0; i < each; ++i) p.a.send_binary_to_peer_id(p.id_b, msg);
        });
    }
    for (int i = 0; i < 200; ++i) {
        p.b.set_binary_data_callback(counter);
        std::this_thread::yield();
    }
    for (auto& t : senders) t.join();
    CHECK(test::wait_count(got, threads * each));

    // A callback that replaces its own client's callback.
    std::atomic<int> second{0};
    p.b.set_string_data_callback([&](const std::string&, const std::string& msg) {
        if (msg == "switch") {
            p.b.set_string_data_callback([&](const std::string&, const std::string&) { ++second; });
        }
    });
    p.a.send_string_to_peer_id(p.id_b, "switch");
    p.a.send_string_to_peer_id(p.id_b, "after switch");
    CHECK(test::wait_count(second, 1));
}

} // namespace

int main() {
    throwing_callbacks();
    callback_thread();
    destroy_inside_own_callback();
    replace_while_receiving();
    std::printf("callbacks: ok\n");
    return 0;
}
