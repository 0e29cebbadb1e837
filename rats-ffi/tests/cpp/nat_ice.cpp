// NAT/STUN and ICE through rats::Client, never beyond 127.0.0.1. STUN: a server of this
// program on 127.0.0.1 answers Binding requests; a client asks it by name and through its
// configured stun.servers; NAT type, characteristics and statistics JSON; ignored addresses
// refused by connect_to_peer; a client with the stun plugin off. ICE: two clients listening
// on 127.0.0.1 (loopback candidates, no STUN server) exchange offers, one connects on a
// thread while the other handles the answer; the connection runs over QUIC and a message
// goes through; bad offers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "check.hpp"

namespace {

bool has(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

// Answers STUN Binding requests (RFC 8489) with the sender's address as XOR-MAPPED-ADDRESS.
class StunServer {
public:
    StunServer() {
        sock_ = socket(AF_INET, SOCK_DGRAM, 0);
        CHECK(sock_ >= 0);
        sockaddr_in a;
        std::memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(bind(sock_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        CHECK(getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
        timeval tv{0, 100000};
        CHECK(setsockopt(sock_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~StunServer() {
        stop_ = true;
        thread_.join();
        close(sock_);
    }
    StunServer(const StunServer&) = delete;
    StunServer& operator=(const StunServer&) = delete;

    int port() const { return port_; }
    int answers() const { return answers_; }

private:
    void serve() {
        unsigned char buf[1500];
        while (!stop_) {
            sockaddr_in from;
            socklen_t len = sizeof from;
            ssize_t n = recvfrom(sock_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from),
                                 &len);
            if (n < 20 || buf[0] != 0x00 || buf[1] != 0x01) continue; // Binding request
            if (buf[4] != 0x21 || buf[5] != 0x12 || buf[6] != 0xA4 || buf[7] != 0x42) continue;
            unsigned char out[32] = {0x01, 0x01, 0x00, 12}; // success, 12 bytes of attributes
            std::memcpy(out + 4, buf + 4, 16);               // cookie and transaction id
            out[20] = 0x00;                                   // XOR-MAPPED-ADDRESS
            out[21] = 0x20;
            out[22] = 0x00;
            out[23] = 8;
            out[24] = 0;
            out[25] = 0x01; // IPv4
            const std::uint16_t port = ntohs(from.sin_port) ^ 0x2112;
            out[26] = static_cast<unsigned char>(port >> 8);
            out[27] = static_cast<unsigned char>(port);
            const std::uint32_t ip = ntohl(from.sin_addr.s_addr) ^ 0x2112A442u;
            out[28] = static_cast<unsigned char>(ip >> 24);
            out[29] = static_cast<unsigned char>(ip >> 16);
            out[30] = static_cast<unsigned char>(ip >> 8);
            out[31] = static_cast<unsigned char>(ip);
            ++answers_; // counted before the client can have the answer
            sendto(sock_, out, sizeof out, 0, reinterpret_cast<sockaddr*>(&from), len);
        }
    }

    int sock_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> answers_{0};
    std::thread thread_;
};

const char* OFF = R"({"disabled_plugins": ["dht", "mdns", "stun", "portmap", "holepunch"],
                      "listen": ["tcp:127.0.0.1:0"]})";

void nat() {
    StunServer server;
    rats::Client c(0);
    c.set_config_json(R"({"disabled_plugins": ["dht", "mdns", "portmap", "holepunch"],
                          "listen": ["tcp:127.0.0.1:0"],
                          "stun": {"servers": ["127.0.0.1:)" +
                      std::to_string(server.port()) +
                      R"("], "auto": false, "rto_ms": 100, "tries": 3}})");
    CHECK_THROWS(c.discover_and_ignore_public_ip("127.0.0.1", server.port()),
                 RATS_ERROR_NOT_RUNNING);
    CHECK(c.detect_nat_type() == rats::NatType::UNKNOWN);
    CHECK_THROWS(c.get_nat_characteristics_json(), RATS_ERROR_NOT_RUNNING);
    CHECK_THROWS(c.get_nat_traversal_statistics_json(), RATS_ERROR_NOT_RUNNING);
    c.start();
    CHECK(!c.get_public_ip()); // nothing asked yet, no peers

    // By name, then through the configured servers.
    c.discover_and_ignore_public_ip("127.0.0.1", server.port());
    CHECK(server.answers() >= 1);
    CHECK(c.get_public_ip() == std::optional<std::string>("127.0.0.1"));
    const int before = server.answers();
    c.discover_and_ignore_public_ip();
    CHECK(server.answers() > before);
    CHECK_THROWS(c.discover_and_ignore_public_ip("", 1), RATS_ERROR_INVALID_PARAMETER);
    CHECK_THROWS(c.discover_and_ignore_public_ip("127.0.0.1", 70000), RATS_ERROR_INVALID_PARAMETER);

    // NAT type: this server has no alternate address; on loopback there is no NAT.
    const rats::NatType t = c.detect_nat_type();
    CHECK(t != rats::NatType::BLOCKED);
    const std::string ch = c.get_nat_characteristics_json();
    CHECK(has(ch, R"("has_nat":)") && has(ch, R"("filtering_behavior":)"));
    CHECK(has(ch, R"("mapping_behavior":)") && has(ch, R"("description":)"));
    CHECK(has(ch, (R"("nat_type":)" + std::to_string(static_cast<int>(t))).c_str()));
    std::string st = c.get_nat_traversal_statistics_json();
    CHECK(has(st, R"("stun_available":true)") && has(st, R"("ignored_addresses":["127.0.0.1"])"));

    // Ignored addresses: connect_to_peer refuses them.
    rats::Client peer(0);
    peer.set_config_json(OFF);
    peer.start();
    CHECK(!c.try_connect_to_peer("127.0.0.1", peer.get_listen_port()));
    CHECK_THROWS(c.connect_to_peer("127.0.0.1", peer.get_listen_port(),
                                   rats::ConnectionStrategy::DIRECT_ONLY),
                 RATS_ERROR_OPERATION_FAILED);
    c.add_ignored_address("not an ip"); // ignored
    c.add_ignored_address("::1");
    st = c.get_nat_traversal_statistics_json();
    CHECK(has(st, R"("ignored_addresses":["127.0.0.1","::1"])"));
    peer.connect_to_peer("127.0.0.1", c.get_listen_port()); // the other way round works

    // The stun plugin off: the configured-servers form fails, naming a server works.
    rats::Client off(0);
    off.set_config_json(OFF);
    off.start();
    CHECK_THROWS(off.discover_and_ignore_public_ip(), RATS_ERROR_OPERATION_FAILED);
    CHECK(off.detect_nat_type() == rats::NatType::UNKNOWN);
    off.discover_and_ignore_public_ip("127.0.0.1", server.port());
    CHECK(has(off.get_nat_traversal_statistics_json(), R"("stun_available":false)"));
}

void ice() {
    const char* local = R"({"disabled_plugins": ["dht", "mdns", "stun", "portmap", "holepunch"],
                            "listen": ["tcp:127.0.0.1:0"], "stun": {"servers": []}})";
    // Declared before the clients, which are destroyed (and stopped) first.
    std::mutex lock;
    std::string got;
    std::atomic<int> received{0};
    rats::Client a(0), b(0);
    a.set_config_json(local);
    b.set_config_json(local);
    b.set_string_data_callback([&](const std::string&, const std::string& msg) {
        std::lock_guard<std::mutex> g(lock);
        got = msg;
        ++received;
    });
    const std::string id_a = a.get_our_peer_id(), id_b = b.get_our_peer_id();
    CHECK_THROWS(a.create_ice_offer(id_b), RATS_ERROR_OPERATION_FAILED); // not running
    a.start();
    b.start();
    CHECK_THROWS(a.create_ice_offer(id_a), RATS_ERROR_OPERATION_FAILED); // ourselves
    CHECK_THROWS(a.create_ice_offer("zz"), RATS_ERROR_OPERATION_FAILED);

    // Without our own offer for the peer, connecting fails; bad offers.
    const std::string oa = a.create_ice_offer(id_b);
    CHECK(has(oa, R"("ufrag":)") && has(oa, R"("pwd":)") && has(oa, "127.0.0.1"));
    CHECK_THROWS(b.connect_with_ice(id_a, oa), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(b.connect_with_ice(id_a, "{oops"), RATS_ERROR_JSON_PARSE);
    CHECK_THROWS(b.connect_with_ice(id_a, R"({"ufrag": 1})"), RATS_ERROR_INVALID_PARAMETER);
    const std::string ob = b.create_ice_offer(id_a);
    CHECK(has(ob, R"("candidates":)"));

    // B connects with A's offer on a thread while A handles B's answer.
    std::exception_ptr b_error;
    std::thread th([&] {
        try {
            b.connect_with_ice(id_a, oa);
        } catch (...) {
            b_error = std::current_exception();
        }
    });
    a.handle_ice_answer(id_b, ob);
    th.join();
    CHECK(!b_error);

    const auto info = a.get_peer_info_json(id_b);
    CHECK(info && has(*info, R"("connection_method":"ice")") && has(*info, R"("transport":"quic")"));
    a.send_string_to_peer_id(id_b, "over ice");
    CHECK(test::wait_count(received, 1));
    std::lock_guard<std::mutex> g(lock);
    CHECK(got == "over ice");
}

} // namespace

int main() {
    nat();
    ice();
    std::printf("nat_ice: ok\n");
    return 0;
}
