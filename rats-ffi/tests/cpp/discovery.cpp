// DHT discovery through rats::Client on loopback: client A runs a DHT on a known UDP port of
// 127.0.0.1 with no bootstrap node, client B bootstraps from it (never the public routers).
// Their automatic discovery makes them find and connect to each other; the peer discovered
// callback reports "dht" (and throws: the error handler gets it). Then announce_for_hash and
// find_peers_for_hash, the DHT of a running client stopped and started, discovery hashes.
// mDNS is only called where it cannot multicast (a client with the plugin off).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"

namespace {

const char* OFF = R"({"disabled_plugins": ["dht", "mdns", "stun", "portmap", "holepunch"],
                      "peer_exchange": false, "listen": ["tcp:127.0.0.1:0"]})";

// A UDP port of 127.0.0.1 that was free a moment ago.
int free_udp_port() {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(s >= 0);
    sockaddr_in a;
    std::memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    close(s);
    return ntohs(a.sin_port);
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

struct Node {
    rats::Client c{0};
    test::Thrown thrown;
    std::atomic<int> discovered{0}, dht_discovered{0};

    explicit Node(const std::string& dht_section) {
        c.set_config_json(OFF);
        c.set_config_json(dht_section);
        c.set_protocol_name("cpp-dht-test");
        thrown.attach(c);
        c.set_peer_discovered_callback([this](const std::string& host, int port,
                                              const std::string& source) {
            CHECK(!host.empty() && port > 0 && port < 65536 && !source.empty());
            if (source == "dht") ++dht_discovered;
            ++discovered;
            throw std::runtime_error("discovered " + source); // to the error handler
        });
    }
    // No callback runs once stop() returns: the members they use outlive them.
    ~Node() { c.stop(); }
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;
};

void mdns_without_multicast() {
    rats::Client m(0);
    m.set_config_json(OFF);
    CHECK(!m.is_mdns_running());
    CHECK_THROWS(m.query_mdns_services(), RATS_ERROR_NOT_RUNNING);
    m.start_mdns_discovery("my-instance"); // on for the start
    m.stop_mdns_discovery();               // off again
    m.start();
    CHECK(!m.is_mdns_running());
    CHECK_THROWS(m.query_mdns_services(), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(m.start_mdns_discovery(), RATS_ERROR_OPERATION_FAILED); // plugin off
    m.stop_mdns_discovery();
    CHECK(!m.is_dht_running());
    CHECK_THROWS(m.start_dht_discovery(), RATS_ERROR_OPERATION_FAILED); // plugin off
    CHECK(m.get_dht_routing_table_size() == 0);
    CHECK(!m.is_automatic_discovery_running());
    CHECK(m.find_peers_for_hash(rats::get_rats_peer_discovery_hash()).empty());
}

} // namespace

int main() {
    mdns_without_multicast();

    // The DHT of A listens on a known port; B bootstraps from it.
    const int dht_port = free_udp_port();
    const std::string common = R"("bind_v4": "127.0.0.1", "ipv6": false, "fast_interval_secs": 1,
                                  "save_nodes": false)";
    Node a(R"({"dht": {"bootstrap": [], )" + common + "}}");
    Node b(R"({"dht": {"bootstrap": ["127.0.0.1:)" + std::to_string(dht_port) + R"("], )" +
           common + "}}");

    // Discovery hashes: librats' formula on the protocol, before and after start.
    const std::string ha = a.c.get_discovery_hash();
    const std::string hr = rats::get_rats_peer_discovery_hash();
    CHECK(ha.size() == 40 && hr.size() == 40);
    CHECK(ha == b.c.get_discovery_hash() && ha != hr);
    CHECK(rats::Client::get_rats_peer_discovery_hash() == hr);

    // Before start: the DHT is off (disabled_plugins); start_dht_discovery switches it on.
    CHECK(!a.c.is_dht_running());
    CHECK_THROWS(a.c.start_dht_discovery(70000), RATS_ERROR_INVALID_PARAMETER);
    a.c.start_dht_discovery(dht_port);
    b.c.start_dht_discovery();
    b.c.start_automatic_peer_discovery();
    CHECK_THROWS(a.c.announce_for_hash(ha), RATS_ERROR_NOT_RUNNING);

    a.c.start();
    b.c.start();
    CHECK(a.c.get_discovery_hash() == ha);
    CHECK(a.c.is_dht_running() && b.c.is_dht_running());
    CHECK(a.c.is_automatic_discovery_running() && b.c.is_automatic_discovery_running());

    // B bootstraps from A; each ends up in the other's routing table.
    CHECK(test::wait_for(
        [&] {
            return a.c.get_dht_routing_table_size() >= 1 && b.c.get_dht_routing_table_size() >= 1;
        },
        20));

    // Automatic discovery: they find each other through the DHT and connect; the discovered
    // callbacks threw every time, and the error handlers got each.
    CHECK(test::wait_for([&] { return a.c.get_peer_count() == 1 && b.c.get_peer_count() == 1; },
                         30));
    CHECK(a.dht_discovered + b.dht_discovered >= 1);
    CHECK(a.thrown.has("peer_discovered: discovered dht") ||
          b.thrown.has("peer_discovered: discovered dht"));
    CHECK(test::wait_for([&] {
        return static_cast<int>(a.thrown.lines().size()) == a.discovered &&
               static_cast<int>(b.thrown.lines().size()) == b.discovered;
    }));

    // Announce a port under another hash; a lookup finds it.
    const std::string other = "0123456789abcdef0123456789abcdef01234567";
    CHECK_THROWS(a.c.announce_for_hash("abc", 1), RATS_ERROR_INVALID_PARAMETER);
    CHECK_THROWS(a.c.announce_for_hash(other, 70000), RATS_ERROR_INVALID_PARAMETER);
    bool found = false;
    for (int i = 0; i < 20 && !found; ++i) {
        a.c.announce_for_hash(other, 4242);
        found = contains(b.c.find_peers_for_hash(other), "127.0.0.1:4242") ||
                contains(a.c.find_peers_for_hash(other), "127.0.0.1:4242");
        if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    CHECK(found);
    CHECK(a.c.find_peers_for_hash("zz").empty());
    // Port 0: our TCP port.
    a.c.announce_for_hash(ha);

    // Stop and start the DHT of a running client.
    a.c.stop_dht_discovery();
    CHECK(!a.c.is_dht_running() && a.c.get_dht_routing_table_size() == 0);
    CHECK(!a.c.is_automatic_discovery_running());
    CHECK_THROWS(a.c.announce_for_hash(other, 1), RATS_ERROR_OPERATION_FAILED);
    CHECK(a.c.find_peers_for_hash(other).empty());
    a.c.start_dht_discovery();
    CHECK(a.c.is_dht_running());
    b.c.stop_automatic_peer_discovery();
    CHECK(!b.c.is_dht_running());
    b.c.start_automatic_peer_discovery();
    CHECK(b.c.is_automatic_discovery_running());

    // Before start, stop_automatic_peer_discovery keeps the DHT without its discovery loop.
    rats::Client c(0);
    c.set_config_json(OFF);
    c.set_config_json(R"({"dht": {"bootstrap": [], "bind_v4": "127.0.0.1", "ipv6": false,
                                  "save_nodes": false}})");
    c.start_dht_discovery();
    c.stop_automatic_peer_discovery();
    c.start();
    CHECK(c.is_dht_running() && !c.is_automatic_discovery_running());

    // The callback removed: discoveries are no longer reported.
    a.c.set_peer_discovered_callback(nullptr);
    std::printf("discovery: ok\n");
    return 0;
}
