// GossipSub through rats::Client: three clients on 127.0.0.1 linked in a line A-B-C subscribe
// and publish text and JSON (C gets A's messages through B's mesh, A as origin), the four
// topic callbacks as std::functions, topic and mesh peers, statistics JSON, a callback
// replaced, one removed with an empty function, off_topic, errors as rats::Error, a client
// with the plugin switched off; every kind of topic callback throws once and the error
// handler gets it with the callback's name while the client keeps working.
#include <atomic>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"

namespace {

const char* LOCAL = R"({"disabled_plugins": ["dht", "mdns", "stun", "portmap", "holepunch"],
                        "peer_exchange": false, "gossipsub": {"heartbeat_ms": 100}})";

struct Node {
    rats::Client c{0};
    std::string id;
    std::mutex lock;
    std::atomic<int> messages{0}, jsons{0}, joined{0}, left{0};
    std::string last_from, last_topic, last_message, last_json, last_joined, last_left;
    test::Thrown thrown;

    Node() {
        c.set_config_json(LOCAL);
        id = c.get_our_peer_id();
        thrown.attach(c);
        // Set before start (they work before and after).
        c.on_topic_message("news", [this](const std::string& peer, const std::string& topic,
                                          const std::string& msg) {
            CHECK(peer.size() == 64 && topic == "news");
            put([&] {
                last_from = peer;
                last_topic = topic;
                last_message = msg;
            });
            ++messages;
        });
        c.on_topic_json_message("news", [this](const std::string& peer, const std::string& topic,
                                               const std::string& json) {
            CHECK(peer.size() == 64 && topic == "news");
            put([&] { last_json = json; });
            ++jsons;
        });
        c.on_topic_peer_joined("news", [this](const std::string& peer, const std::string& topic) {
            CHECK(topic == "news");
            put([&] { last_joined = peer; });
            ++joined;
        });
        c.on_topic_peer_left("news", [this](const std::string& peer, const std::string& topic) {
            CHECK(topic == "news");
            put([&] { last_left = peer; });
            ++left;
        });
    }
    // No callback runs once stop() returns: the members they use outlive them.
    ~Node() { c.stop(); }
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    template <class F>
    void put(F f) {
        std::lock_guard<std::mutex> g(lock);
        f();
    }
    std::string get(std::string Node::*field) {
        std::lock_guard<std::mutex> g(lock);
        return this->*field;
    }
};

bool contains(const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v) {
        if (x == s) return true;
    }
    return false;
}

bool has(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

void plugin_off() {
    rats::Client off(0);
    off.set_config_json(R"({"disabled_plugins": ["gossipsub", "dht", "mdns", "stun", "portmap",
                                                 "holepunch"]})");
    CHECK(!off.is_gossipsub_available());
    off.start();
    CHECK(!off.is_gossipsub_running());
    CHECK_THROWS(off.subscribe_to_topic("news"), RATS_ERROR_OPERATION_FAILED);
}

} // namespace

int main() {
    plugin_off();

    Node a, b, c;
    // Before start: available, not running; topics need a started client.
    CHECK(a.c.is_gossipsub_available() && !a.c.is_gossipsub_running());
    CHECK_THROWS(a.c.subscribe_to_topic("news"), RATS_ERROR_NOT_RUNNING);
    CHECK_THROWS(a.c.unsubscribe_from_topic("news"), RATS_ERROR_NOT_RUNNING);
    CHECK_THROWS(a.c.publish_to_topic("news", "x"), RATS_ERROR_NOT_RUNNING);
    CHECK_THROWS(a.c.publish_json_to_topic("news", "{}"), RATS_ERROR_NOT_RUNNING);
    CHECK(!a.c.is_subscribed_to_topic("news"));
    CHECK(a.c.get_subscribed_topics().empty());
    CHECK(a.c.get_gossipsub_statistics_json() == R"({"running":false})");

    a.c.start();
    b.c.start();
    c.c.start();
    CHECK(b.c.is_gossipsub_running());
    a.c.connect_to_peer("127.0.0.1", b.c.get_listen_port());
    b.c.connect_to_peer("127.0.0.1", c.c.get_listen_port());

    // Subscriptions.
    a.c.subscribe_to_topic("news");
    a.c.subscribe_to_topic("news"); // twice is fine
    b.c.subscribe_to_topic("news");
    c.c.subscribe_to_topic("news");
    c.c.subscribe_to_topic(std::string("other"));
    CHECK_THROWS(c.c.subscribe_to_topic(""), RATS_ERROR_INVALID_PARAMETER);
    CHECK_THROWS(c.c.subscribe_to_topic(std::string(257, 't')), RATS_ERROR_INVALID_PARAMETER);
    CHECK_THROWS(c.c.subscribe_to_topic(std::string("a\0b", 3)), RATS_ERROR_INVALID_PARAMETER);
    CHECK(c.c.is_subscribed_to_topic("other") && !b.c.is_subscribed_to_topic("other"));
    CHECK((c.c.get_subscribed_topics() == std::vector<std::string>{"news", "other"}));
    c.c.unsubscribe_from_topic("other");
    c.c.unsubscribe_from_topic("other"); // not subscribed: fine
    CHECK(!c.c.is_subscribed_to_topic("other"));

    // B sees both neighbours join and takes them into its mesh; A is not linked to C.
    CHECK(test::wait_count(b.joined, 2));
    CHECK(test::wait_count(a.joined, 1) && a.get(&Node::last_joined) == b.id);
    CHECK(test::wait_for([&] {
        return b.c.get_topic_mesh_peers("news").size() == 2 &&
               c.c.get_topic_mesh_peers("news").size() == 1;
    }));
    const auto b_peers = b.c.get_topic_peers("news");
    CHECK(b_peers.size() == 2 && contains(b_peers, a.id) && contains(b_peers, c.id));
    CHECK((a.c.get_topic_peers("news") == std::vector<std::string>{b.id}));
    CHECK(a.c.get_topic_peers("nobody-here").empty());

    // A publishes: B gets it directly, C through B (A as the origin); A not its own.
    a.c.publish_to_topic("news", "hello");
    CHECK(test::wait_count(b.messages, 1) && test::wait_count(c.messages, 1));
    CHECK(c.get(&Node::last_message) == "hello" && c.get(&Node::last_topic) == "news");
    CHECK(c.get(&Node::last_from) == a.id);
    CHECK(b.jsons == 0); // "hello" is not JSON

    // C publishes JSON: the JSON and the message callbacks on A and B.
    c.c.publish_json_to_topic("news", R"({ "x" : 1 })");
    CHECK(test::wait_count(a.jsons, 1) && test::wait_count(b.jsons, 1));
    CHECK(a.get(&Node::last_json) == R"({"x":1})");
    CHECK(test::wait_count(a.messages, 1) && a.get(&Node::last_message) == R"({"x":1})");
    CHECK(a.get(&Node::last_from) == c.id);
    CHECK_THROWS(c.c.publish_json_to_topic("news", "{nope"), RATS_ERROR_JSON_PARSE);
    CHECK_THROWS(c.c.publish_to_topic("", "x"), RATS_ERROR_INVALID_PARAMETER);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(a.messages == 1 && c.messages == 1); // once each

    const std::string st = b.c.get_gossipsub_statistics_json();
    CHECK(has(st, R"("running":true)") && has(st, R"("messages_delivered":2)"));
    CHECK(has(st, R"("subscribed_topics":["news"])") && has(st, R"("mesh_peers":2)"));

    // C leaves: B's left callback names C.
    c.c.unsubscribe_from_topic("news");
    CHECK(test::wait_count(b.left, 1) && b.get(&Node::last_left) == c.id);

    // A replaces its message callback; its JSON callback is removed with an empty function;
    // B's callbacks are all removed with off_topic.
    std::atomic<int> replaced{0};
    a.c.on_topic_message("news", [&](const std::string&, const std::string&,
                                     const std::string& msg) {
        if (msg == "[2]") ++replaced;
    });
    a.c.on_topic_json_message("news", nullptr);
    b.c.off_topic("news");
    b.c.off_topic("never-set"); // nothing to remove: fine
    CHECK(b.messages == 2);     // "hello" and C's JSON
    b.c.publish_json_to_topic("news", "[2]");
    CHECK(test::wait_count(replaced, 1));
    a.c.publish_to_topic("news", "quiet");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(b.messages == 2 && a.jsons == 1 && a.messages == 1);
    CHECK(b.c.is_subscribed_to_topic("news")); // off_topic keeps the subscription

    // Every kind of topic callback throws once: B's error handler gets each, named.
    b.c.on_topic_peer_joined("boom", [](const std::string&, const std::string& topic) {
        throw std::runtime_error("joined " + topic);
    });
    b.c.on_topic_message("boom", [](const std::string&, const std::string&, const std::string& m) {
        throw std::runtime_error("message " + m);
    });
    b.c.on_topic_json_message("boom", [](const std::string&, const std::string&,
                                         const std::string& j) {
        throw std::logic_error("json " + j);
    });
    b.c.on_topic_peer_left("boom", [](const std::string&, const std::string&) {
        throw std::out_of_range("left");
    });
    b.c.subscribe_to_topic("boom");
    a.c.subscribe_to_topic("boom");
    CHECK(b.thrown.wait("topic_peer_joined:boom: joined boom"));
    CHECK(test::wait_for([&] { return !b.c.get_topic_mesh_peers("boom").empty(); }));
    a.c.publish_json_to_topic("boom", "[7]");
    CHECK(b.thrown.wait("topic_message:boom: message [7]"));
    CHECK(b.thrown.wait("topic_json_message:boom: json [7]"));
    a.c.unsubscribe_from_topic("boom");
    CHECK(b.thrown.wait("topic_peer_left:boom: left"));
    CHECK(b.thrown.lines().size() == 4);
    // B still works: it delivers on "news" (A's replaced callback counts it).
    b.c.publish_json_to_topic("news", "[2]");
    CHECK(test::wait_count(replaced, 2));

    a.c.stop();
    CHECK(!a.c.is_gossipsub_running());
    CHECK(a.c.get_subscribed_topics().empty());
    std::printf("gossip: ok\n");
    return 0;
}
