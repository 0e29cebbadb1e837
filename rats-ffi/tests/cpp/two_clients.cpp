// Two rats::Client objects in one process on 127.0.0.1: string, binary (with zero bytes),
// JSON and typed messages both ways with std::function callbacks on both sides (one answers
// from inside its callback), peer lists and info, errors as rats::Error, disconnect, stop.
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "check.hpp"

namespace {

struct Side {
    std::mutex lock;
    std::atomic<int> connected{0}, disconnected{0}, strings{0}, binaries{0}, jsons{0}, typed{0};
    std::string last_peer, last_string, last_json, last_typed;
    std::vector<std::uint8_t> last_binary;

    template <class F>
    void with(F f) {
        std::lock_guard<std::mutex> g(lock);
        f();
    }
};

void install(rats::Client& c, Side& s) {
    c.set_connection_callback([&s](const std::string& peer) {
        CHECK(peer.size() == 64);
        s.with([&] { s.last_peer = peer; });
        ++s.connected;
    });
    c.set_disconnect_callback([&s](const std::string& peer) {
        CHECK(peer.size() == 64);
        ++s.disconnected;
    });
    // librats-style parameter types work (const std::string&), and so does std::string_view.
    c.set_string_data_callback([&s](std::string_view, std::string_view msg) {
        s.with([&] { s.last_string = std::string(msg); });
        ++s.strings;
    });
    c.set_binary_data_callback([&s](const std::string&, rats::bytes_view data) {
        s.with([&] { s.last_binary = data.to_vector(); });
        ++s.binaries;
    });
    c.set_json_data_callback([&s](const std::string&, const std::string& json) {
        s.with([&] { s.last_json = json; });
        ++s.jsons;
    });
    c.on("greet", [&s](const std::string&, const std::string& json) {
        s.with([&] { s.last_typed = json; });
        ++s.typed;
    });
}

std::string get(Side& s, std::string Side::*field) {
    std::lock_guard<std::mutex> g(s.lock);
    return s.*field;
}

} // namespace

int main() {
    // Library-wide facts.
    CHECK(!rats::version_string().empty());
    CHECK(rats::abi() >= 1);
    rats::Version v = rats::version();
    CHECK(v.major >= 0 && v.minor >= 0 && v.patch >= 0);
    CHECK(rats::git_describe().substr(0, 1) == "v");

    Side a, b;
    rats::Client ca = test::local_client();
    rats::Client cb = test::local_client();
    ca.set_max_peers(8);
    CHECK(ca.get_max_peers() == 8);
    CHECK(ca.get_protocol_name() == "cpp-test");
    ca.set_protocol_version("2");
    cb.set_protocol_version(std::string_view("2x").substr(0, 1));
    CHECK(ca.get_protocol_version() == "2" && cb.get_protocol_version() == "2");
    CHECK(ca.is_encryption_enabled());
    install(ca, a);
    install(cb, b);
    // b answers "ping" with "pong" from inside its callback, calling back into its client.
    cb.set_string_data_callback([&b, &cb](const std::string& peer, const std::string& msg) {
        b.with([&] { b.last_string = msg; });
        if (msg == "ping") cb.send_string_to_peer_id(peer, "pong");
        ++b.strings;
    });

    const std::string id_a = ca.get_our_peer_id();
    const std::string id_b = cb.get_our_peer_id();
    CHECK(id_a.size() == 64 && id_b.size() == 64 && id_a != id_b);
    CHECK(ca.get_peer_count() == 0);
    CHECK_THROWS(ca.send_string_to_peer_id(id_b, "early"), RATS_ERROR_NOT_RUNNING);

    ca.start();
    cb.start();
    cb.start(); // already running: fine
    CHECK(ca.get_our_peer_id() == id_a);
    CHECK_THROWS(ca.set_max_peers(9), RATS_ERROR_OPERATION_FAILED);
    const int port_b = cb.get_listen_port();
    CHECK(port_b > 0);

    ca.connect_to_peer("127.0.0.1", port_b);
    CHECK(test::wait_count(a.connected, 1) && test::wait_count(b.connected, 1));
    CHECK(get(a, &Side::last_peer) == id_b && get(b, &Side::last_peer) == id_a);
    CHECK(ca.get_peer_count() == 1 && cb.get_peer_count() == 1);
    CHECK(!ca.is_peer_limit_reached());
    CHECK(ca.is_peer_encrypted(id_b));
    CHECK(ca.get_peer_ids() == std::vector<std::string>{id_b});
    CHECK(cb.get_validated_peer_ids() == std::vector<std::string>{id_a});

    auto info = ca.get_peer_info_json(id_b);
    CHECK(info.has_value());
    for (const char* key : {"\"peer_id\":", "\"ip\":\"127.0.0.1\"", "\"is_outgoing\":true",
                            "\"encryption_enabled\":true", "\"connection_method\":"}) {
        CHECK(info->find(key) != std::string::npos);
    }

    // Strings both ways (std::string, string_view and literal arguments).
    ca.send_string_to_peer_id(id_b, std::string("ping"));
    CHECK(test::wait_count(b.strings, 1) && get(b, &Side::last_string) == "ping");
    CHECK(test::wait_count(a.strings, 1) && get(a, &Side::last_string) == "pong");
    CHECK(cb.broadcast_string_to_peers(std::string_view("to all, and more").substr(0, 6)) == 1);
    CHECK(test::wait_count(a.strings, 2) && get(a, &Side::last_string) == "to all");
    CHECK_THROWS(ca.send_string_to_peer_id(id_b, std::string("a\0b", 3)),
                 RATS_ERROR_INVALID_PARAMETER);

    // Binary both ways, with zero bytes, from several kinds of byte ranges.
    const std::vector<std::uint8_t> bin{1, 0, 2, 0, 255};
    ca.send_binary_to_peer_id(id_b, bin);
    CHECK(test::wait_count(b.binaries, 1));
    {
        std::lock_guard<std::mutex> g(b.lock);
        CHECK(b.last_binary == bin);
    }
    const std::array<unsigned char, 3> three{9, 0, 9};
    CHECK(cb.broadcast_binary_to_peers(three) == 1);
    CHECK(test::wait_count(a.binaries, 1));
    {
        std::lock_guard<std::mutex> g(a.lock);
        CHECK((a.last_binary == std::vector<std::uint8_t>{9, 0, 9}));
    }
    const std::string text_bytes("x\0y", 3);
    ca.send_binary_to_peer_id(id_b, rats::bytes_view(text_bytes.data(), text_bytes.size()));
    CHECK(test::wait_count(b.binaries, 2));
    {
        std::lock_guard<std::mutex> g(b.lock);
        CHECK(b.last_binary.size() == 3 && b.last_binary[1] == 0);
    }
    CHECK_THROWS(ca.send_binary_to_peer_id(id_b, rats::bytes_view()), RATS_ERROR_INVALID_PARAMETER);

    // JSON both ways.
    ca.send_json_to_peer_id(id_b, R"({"n": 1, "s": "x"})");
    CHECK(test::wait_count(b.jsons, 1));
    const std::string json_b = get(b, &Side::last_json);
    CHECK(json_b.find("\"n\":1") != std::string::npos && json_b.find("\"s\":\"x\"") != std::string::npos);
    CHECK_THROWS(ca.send_json_to_peer_id(id_b, "{not json"), RATS_ERROR_JSON_PARSE);
    CHECK(cb.broadcast_json_to_peers("[1,2,3]") == 1);
    CHECK(test::wait_count(a.jsons, 1) && get(a, &Side::last_json) == "[1,2,3]");

    // Typed messages (librats' on / send).
    ca.send(id_b, "greet", R"({"text":"hi"})");
    CHECK(test::wait_count(b.typed, 1) && get(b, &Side::last_typed) == R"({"text":"hi"})");
    cb.send("greet", "plain text");
    CHECK(test::wait_count(a.typed, 1) && get(a, &Side::last_typed) == "\"plain text\"");
    // off(): dropped; on() again: delivered to the new function.
    cb.off("greet");
    ca.send(id_b, "greet", "1");
    // Messages of one connection reach the callbacks in order: once this string is seen,
    // "1" has been dropped.
    const int strings_before = b.strings.load();
    ca.send_string_to_peer_id(id_b, "sync");
    CHECK(test::wait_count(b.strings, strings_before + 1));
    std::atomic<int> again{0};
    cb.on("greet", [&again](const std::string&, const std::string& json) {
        CHECK(json == "2");
        ++again;
    });
    ca.send(id_b, "greet", "2");
    CHECK(test::wait_count(again, 1));
    CHECK(b.typed.load() == 1);
    CHECK(a.jsons.load() == 1 && b.jsons.load() == 1); // typed messages are not JSON messages
    CHECK_THROWS(ca.on("", [](const std::string&, const std::string&) {}), RATS_ERROR_INVALID_PARAMETER);

    // Errors carry the C code, as std::error_code too.
    rats::Client other(0); // never started: a peer id nobody connects to
    const std::string nobody = other.get_our_peer_id();
    try {
        ca.send_string_to_peer_id(nobody, "x");
        CHECK(false && "no exception");
    } catch (const rats::Error& e) {
        CHECK(e.code() == rats::errc::peer_not_found);
        CHECK(e.c_code() == RATS_ERROR_PEER_NOT_FOUND);
        CHECK(e.code().category() == rats::error_category());
        CHECK(std::string(e.code().category().name()) == "rats");
        CHECK(e.code().message() == "peer not found");
    }
    CHECK_THROWS(ca.send_string_to_peer_id("not-a-peer-id", "x"), RATS_ERROR_INVALID_PARAMETER);
    CHECK(!ca.get_peer_info_json(nobody).has_value());
    CHECK_THROWS(ca.set_config_json("{oops"), RATS_ERROR_JSON_PARSE);
    CHECK_THROWS(rats::Client(70000), RATS_ERROR_INVALID_PARAMETER);
    CHECK_THROWS(ca.connect_to_peer("127.0.0.1", port_b, static_cast<rats::ConnectionStrategy>(42)),
                 RATS_ERROR_INVALID_PARAMETER);
    CHECK_THROWS(other.connect_to_peer("127.0.0.1", port_b), RATS_ERROR_NOT_RUNNING);

    // Disconnect: both sides see it.
    ca.disconnect_peer_by_id(id_b);
    CHECK(test::wait_count(a.disconnected, 1) && test::wait_count(b.disconnected, 1));
    CHECK(ca.get_peer_count() == 0 && ca.get_peer_ids().empty());
    CHECK_THROWS(ca.disconnect_peer_by_id(id_b), RATS_ERROR_PEER_NOT_FOUND);

    // Reconnect with a strategy and with rats_connect's bool form; stop b: no callback after.
    ca.connect_to_peer("127.0.0.1", port_b, rats::ConnectionStrategy::DIRECT_ONLY);
    CHECK(test::wait_count(b.connected, 2) && test::wait_count(a.connected, 2));
    CHECK(ca.try_connect_to_peer("127.0.0.1", port_b)); // already connected: same peer
    cb.stop();
    const int b_strings = b.strings.load();
    ca.broadcast_string_to_peers("after stop");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(b.strings.load() == b_strings);
    CHECK(test::wait_count(a.disconnected, 2));
    CHECK(!ca.try_connect_to_peer("127.0.0.1", port_b)); // b is stopped: false, no exception

    // Start b again: same id, connects.
    cb.start();
    CHECK(cb.get_our_peer_id() == id_b);
    ca.connect_to_peer("127.0.0.1", cb.get_listen_port());
    CHECK(test::wait_count(b.connected, 3));

    // Removing a callback (empty function): no more calls.
    cb.set_string_data_callback(nullptr);
    const int before = b.strings.load();
    ca.send_string_to_peer_id(id_b, "unheard");
    ca.send_json_to_peer_id(id_b, "7");
    CHECK(test::wait_count(b.jsons, 2));
    CHECK(b.strings.load() == before);

    std::printf("two_clients: ok\n");
    return 0;
}
