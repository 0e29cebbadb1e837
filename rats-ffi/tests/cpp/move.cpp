// Move semantics: a moved client keeps its handle and its callbacks (the callback state is
// on the heap), a moved-from client throws RATS_ERROR_INVALID_HANDLE, move assignment stops
// and destroys the client it replaces, clients in a growing std::vector keep working.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "check.hpp"

static_assert(!std::is_copy_constructible_v<rats::Client>);
static_assert(!std::is_copy_assignable_v<rats::Client>);
static_assert(std::is_nothrow_move_constructible_v<rats::Client>);
static_assert(std::is_nothrow_move_assignable_v<rats::Client>);

int main() {
    std::atomic<int> received{0}, connected{0};
    rats::Client first = test::local_client();
    first.set_string_data_callback([&](const std::string&, const std::string& m) {
        if (m == "hello") ++received;
    });
    first.set_connection_callback([&](const std::string&) { ++connected; });
    const rats_client_t handle = first.native_handle();
    const std::string id = first.get_our_peer_id();

    // Move construction: same C handle, same identity, callbacks still set.
    rats::Client moved(std::move(first));
    CHECK(moved.native_handle() == handle && static_cast<bool>(moved));
    CHECK(first.native_handle() == nullptr && !first); // NOLINT: use after move on purpose
    CHECK_THROWS(first.get_our_peer_id(), RATS_ERROR_INVALID_HANDLE);
    CHECK_THROWS(first.start(), RATS_ERROR_INVALID_HANDLE);
    CHECK_THROWS(first.set_string_data_callback(nullptr), RATS_ERROR_INVALID_HANDLE);
    CHECK_THROWS(first.on("x", nullptr), RATS_ERROR_INVALID_HANDLE);
    first.stop(); // nothing

    // Started after the move; messages reach the callbacks registered before it.
    moved.start();
    std::vector<rats::Client> senders;
    for (int i = 0; i < 5; ++i) {
        senders.push_back(test::local_client()); // the vector grows: clients move
        senders.back().start();
    }
    for (auto& s : senders) s.connect_to_peer("127.0.0.1", moved.get_listen_port());
    CHECK(test::wait_count(connected, 5));
    for (auto& s : senders) s.send_string_to_peer_id(id, "hello");
    CHECK(test::wait_count(received, 5));

    // Move assignment into a running client: the old one is stopped and destroyed, its
    // peers see it go. (Peers learn of each other's peers, so counts are not fixed: the
    // checks look for peer ids.)
    auto has = [](const rats::Client& c, const std::string& peer) {
        const auto ids = c.get_peer_ids();
        return std::find(ids.begin(), ids.end(), peer) != ids.end();
    };
    rats::Client target = test::local_client();
    target.start();
    const int old_port = target.get_listen_port();
    const std::string old_id = target.get_our_peer_id();
    senders[0].connect_to_peer("127.0.0.1", old_port);
    CHECK(test::wait_for([&] { return has(senders[0], old_id); }));
    target = std::move(moved);
    CHECK(target.native_handle() == handle && target.get_our_peer_id() == id);
    CHECK(test::wait_for([&] { return !has(senders[0], old_id); }));
    CHECK(!senders[0].try_connect_to_peer("127.0.0.1", old_port));
    senders[1].send_string_to_peer_id(id, "hello");
    CHECK(test::wait_count(received, 6));

    // Moving a client into a function (destroyed there) and out of a vector.
    const std::string last_id = senders.back().get_our_peer_id();
    auto take = [](rats::Client c) { return c.get_peer_count(); };
    CHECK(take(std::move(senders.back())) >= 1);
    CHECK(!senders.back()); // moved from
    senders.pop_back();
    CHECK(test::wait_for([&] { return !has(target, last_id); }));
    senders.clear(); // destructors stop and destroy
    CHECK(test::wait_for([&] { return target.get_peer_count() == 0; }));

    std::printf("move: ok\n");
    return 0;
}
