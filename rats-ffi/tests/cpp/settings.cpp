// Settings through rats::Client, loopback only: logging (process-wide, to a file in a
// temporary directory; the free functions and librats' member forms), the encryption key
// (the identity's secret key), the connection statistics JSON, a data directory with
// config.json and historical peers (saved, listed, reconnected to after a restart, cleared),
// and the version functions.
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "check.hpp"

namespace fs = std::filesystem;

namespace {

const char* LOCAL = R"({"disabled_plugins": ["dht", "mdns", "stun", "portmap", "holepunch"],
                        "listen": ["tcp:127.0.0.1:0"]})";

long size_of(const fs::path& p) {
    std::error_code ec;
    auto n = fs::file_size(p, ec);
    return ec ? -1 : static_cast<long>(n);
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

void versions() {
    const rats::Version v = rats::version();
    CHECK(v.major >= 0 && v.minor >= 0 && v.patch >= 0);
    const std::string numbers =
        std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
    CHECK(rats::version_string() == numbers && v.build == 0);
    CHECK(rats::git_describe() == "v" + numbers && rats::abi() >= 1);
}

void logging(const fs::path& tmp) {
    const fs::path logfile = tmp / "logs" / "rats.log";
    rats::Client a = test::local_client("cpp-settings-log");
    rats::set_log_level("debug");
    rats::set_log_level("nonsense"); // ignored
    a.set_log_file_path(logfile.string());
    CHECK(a.get_log_file_path() == logfile.string());
    a.set_log_timestamps_enabled(false);
    CHECK(!a.is_log_timestamps_enabled());
    a.set_log_timestamps_enabled(true);
    CHECK(a.is_log_timestamps_enabled());
    a.set_log_colors_enabled(true);
    CHECK(a.is_log_colors_enabled());
    a.set_log_colors_enabled(false);
    CHECK(!a.is_log_colors_enabled());
    a.set_log_rotation_size(1024 * 1024);
    a.set_log_retention_count(2);
    rats::set_logging_enabled(true);
    a.start(); // logs at INFO and DEBUG
    a.stop();
    CHECK(test::wait_for([&] { return size_of(logfile) > 0; }));
    CHECK(has(read_file(logfile), "DEBUG") || has(read_file(logfile), "INFO"));
    a.clear_log_file();
    CHECK(size_of(logfile) == 0);
    a.set_logging_enabled(false); // librats' member form: process-wide too
    a.start();
    a.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(size_of(logfile) == 0); // off: nothing written
    a.set_log_file_path("");
    CHECK(a.get_log_file_path().empty());
    a.set_log_level("ERROR");
    rats::set_logging_enabled(true);
}

void keys_and_statistics() {
    rats::Client a = test::local_client("cpp-settings-keys");
    const std::string id1 = a.get_our_peer_id();
    const std::string key = a.get_encryption_key();
    CHECK(key.size() == 64);
    const std::string key2 = a.generate_new_encryption_key();
    CHECK(key2.size() == 64 && key2 != key);
    CHECK(a.get_our_peer_id() != id1); // a new identity
    CHECK(a.get_encryption_key() == key2);
    a.set_encryption_key(key); // back to the first
    CHECK(a.get_our_peer_id() == id1);
    CHECK_THROWS(a.set_encryption_key("xyz"), RATS_ERROR_INVALID_PARAMETER);
    a.set_encryption_enabled(false);
    CHECK(!a.is_encryption_enabled());
    a.set_encryption_enabled(true);
    CHECK(a.is_encryption_enabled());
    a.start();
    CHECK_THROWS(a.set_encryption_enabled(false), RATS_ERROR_OPERATION_FAILED);
    CHECK(a.get_our_peer_id() == id1); // the node runs with it
    CHECK_THROWS(a.set_encryption_key(key2), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(a.generate_new_encryption_key(), RATS_ERROR_OPERATION_FAILED);

    const std::string st = a.get_connection_statistics_json();
    CHECK(has(st, R"("running":true)") && has(st, R"("total_peers":0)"));
    CHECK(has(st, R"("our_peer_id":")" + id1) && has(st, R"("dht_running":false)"));
    CHECK(has(st, R"("encryption_enabled":true)"));
    CHECK(has(st, R"("listen_port":)" + std::to_string(a.get_listen_port())));
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

void data_directory(const fs::path& tmp) {
    const fs::path datadir = tmp / "data";
    rats::Client b(0);
    CHECK(b.get_data_directory().empty());
    CHECK_THROWS(b.load_configuration(), RATS_ERROR_OPERATION_FAILED); // no data directory
    CHECK_THROWS(b.save_configuration(), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(b.set_data_directory(""), RATS_ERROR_INVALID_PARAMETER);
    CHECK(!b.save_historical_peers()); // no data directory
    const std::string before = b.get_our_peer_id();
    b.set_data_directory(datadir.string());
    CHECK(b.get_data_directory() == datadir.string());
    const std::string b_id = b.get_our_peer_id();
    CHECK(b_id != before); // the directory's identity
    CHECK(size_of(datadir / "identity.key") > 0);
    b.set_config_json(LOCAL);
    b.set_protocol_name("cpp-settings");
    b.save_configuration();
    const std::string cfg = read_file(datadir / "config.json");
    CHECK(has(cfg, R"("protocol_name": "cpp-settings")") && has(cfg, "holepunch"));
    b.load_configuration();
    CHECK(!b.load_historical_peers()); // no peers.rats yet
    CHECK(b.get_historical_peer_ids().empty());

    // C has B's protocol and is B's peer.
    rats::Client c(0);
    c.set_config_json(LOCAL);
    c.set_protocol_name("cpp-settings");
    c.start();
    const std::string c_id = c.get_our_peer_id();
    b.start();
    CHECK(b.get_our_peer_id() == b_id);
    CHECK_THROWS(b.set_data_directory(datadir.string()), RATS_ERROR_OPERATION_FAILED); // running
    b.connect_to_peer("127.0.0.1", c.get_listen_port());
    CHECK(b.save_historical_peers());
    CHECK(b.load_historical_peers());
    const auto ids = b.get_historical_peer_ids();
    CHECK(ids.size() == 1 && contains(ids, c_id));

    // Restart B: it reconnects to C by itself (the peer store), same identity.
    b.stop();
    CHECK(test::wait_for([&] { return c.get_peer_count() == 0; }));
    b.start();
    CHECK(b.get_our_peer_id() == b_id);
    CHECK(test::wait_for([&] { return b.get_peer_count() == 1; }));
    CHECK(b.load_and_reconnect_peers() >= 0);

    // A second client cannot take a directory in use.
    rats::Client d(0);
    CHECK_THROWS(d.set_data_directory(datadir.string()), RATS_ERROR_OPERATION_FAILED);

    // Clear: running, peers.rats is written empty; stopped, the files are removed.
    b.clear_historical_peers();
    CHECK(b.get_historical_peer_ids().empty());
    b.stop();
    b.clear_historical_peers();
    CHECK(!fs::exists(datadir / "peers.rats"));
    CHECK(!b.load_historical_peers());
}

} // namespace

int main() {
    char tmpl[] = "/tmp/rats-cpp-settings-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    const fs::path tmp = tmpl;
    versions();
    logging(tmp);
    keys_and_statistics();
    data_directory(tmp);
    fs::remove_all(tmp);
    std::printf("settings: ok\n");
    return 0;
}
