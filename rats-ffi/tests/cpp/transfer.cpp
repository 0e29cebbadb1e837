// File and directory transfer through rats::Client, two clients on 127.0.0.1: a file offered
// and accepted from inside the request callback, a directory tree accepted from the main
// thread, offers rejected (with and without a reason), pulls of a file and a directory from
// the peer's shared_root, a transfer paused from inside the progress callback and resumed, one
// cancelled; progress callbacks with librats' status strings, directory progress, progress
// and statistics JSON; every received file compared with its source. Each transfer callback
// kind throws once: the error handler gets it and the clients keep working.
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"

namespace fs = std::filesystem;

namespace {

fs::path TMP;

void write_file(const fs::path& p, std::size_t size, std::uint32_t seed) {
    std::vector<char> data(size);
    std::uint32_t x = seed;
    for (auto& b : data) {
        x = x * 1103515245u + 12345u;
        b = static_cast<char>((x >> 16) & 0xff);
    }
    std::ofstream out(p, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    CHECK(out.good());
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    CHECK(in.good());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void same_file(const fs::path& a, const fs::path& b) {
    if (!fs::exists(b) || fs::file_size(a) != fs::file_size(b) || read_file(a) != read_file(b)) {
        std::fprintf(stderr, "%s and %s differ\n", a.c_str(), b.c_str());
        std::exit(1);
    }
}

bool has(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

struct Side {
    rats::Client c{0};
    std::string id;
    test::Thrown thrown;
    std::mutex lock;
    std::map<std::string, std::vector<std::string>> statuses; // transfer id -> statuses seen
    std::atomic<int> file_requests{0}, dir_requests{0}, dir_progress_calls{0};
    std::string req_id, req_peer, req_name, req_remote, dir_req_id, dir_req_name;
    int dir_total = 0, dir_done_max = 0;
    std::string last_dir_file;
    std::atomic<bool> accept_in_callback{false};
    std::string pause_target, cancel_target; // paused/cancelled on their first IN_PROGRESS

    explicit Side(const std::string& extra) {
        c.set_config_json(R"({"disabled_plugins": ["dht", "mdns", "stun", "portmap", "holepunch"],
                              "transfer": {"progress_interval_ms": 20}})");
        if (!extra.empty()) c.set_config_json(extra);
        id = c.get_our_peer_id();
        thrown.attach(c);
        install();
    }

    // No callback runs once stop() returns: the members they use outlive them.
    ~Side() { c.stop(); }
    Side(const Side&) = delete;
    Side& operator=(const Side&) = delete;

    void install() {
        c.set_file_request_callback([this](const std::string& peer, const std::string& tid,
                                           const std::string& remote, const std::string& name) {
            CHECK(peer.size() == 64 && tid.size() == 32 && remote == name);
            with([&] {
                req_id = tid;
                req_peer = peer;
                req_name = name;
                req_remote = remote;
            });
            if (accept_in_callback) {
                // Answering from inside the callback does not deadlock; twice is an error.
                c.accept_file_transfer(tid, (TMP / "recv.bin").string());
                CHECK_THROWS(c.accept_file_transfer(tid, (TMP / "recv.bin").string()),
                             RATS_ERROR_OPERATION_FAILED);
            }
            ++file_requests;
        });
        c.set_directory_request_callback([this](const std::string& peer, const std::string& tid,
                                                const std::string& remote,
                                                const std::string& name) {
            CHECK(peer.size() == 64 && tid.size() == 32 && remote == name);
            with([&] {
                dir_req_id = tid;
                dir_req_name = name;
            });
            ++dir_requests;
        });
        c.set_file_progress_callback([this](const std::string& tid, int percent,
                                            const std::string& status) {
            CHECK(tid.size() == 32 && percent >= 0 && percent <= 100);
            if (status == "COMPLETED") CHECK(percent == 100);
            bool pause = false, cancel = false;
            with([&] {
                statuses[tid].push_back(status);
                if (status == "IN_PROGRESS" && tid == pause_target) {
                    pause = true;
                    pause_target.clear();
                }
                if (status == "IN_PROGRESS" && tid == cancel_target) {
                    cancel = true;
                    cancel_target.clear();
                }
            });
            // The client's own methods from inside its callback.
            if (pause) c.pause_file_transfer(tid);
            if (cancel) c.cancel_file_transfer(tid);
        });
        c.set_directory_progress_callback([this](const std::string& tid, int done, int total,
                                                 const std::string& current) {
            CHECK(tid.size() == 32 && done >= 0 && done <= total);
            with([&] {
                dir_total = total;
                if (done > dir_done_max) dir_done_max = done;
                if (!current.empty()) last_dir_file = current;
            });
            ++dir_progress_calls;
        });
    }

    template <class F>
    void with(F f) {
        std::lock_guard<std::mutex> g(lock);
        f();
    }
    std::string get(std::string Side::*field) {
        std::lock_guard<std::mutex> g(lock);
        return this->*field;
    }
    bool saw(const std::string& tid, const std::string& status) {
        std::lock_guard<std::mutex> g(lock);
        auto it = statuses.find(tid);
        if (it == statuses.end()) return false;
        for (const auto& s : it->second) {
            if (s == status) return true;
        }
        return false;
    }
    // Waits up to 10 s for transfer `tid` to reach `status`.
    bool wait(const std::string& tid, const std::string& status) {
        return test::wait_for([&] { return saw(tid, status); });
    }
};

} // namespace

int main() {
    char tmpl[] = "/tmp/rats-cpp-transfer-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    TMP = tmpl;
    write_file(TMP / "src.bin", 1024 * 1024 + 123, 1); // five chunks of 256 KiB
    write_file(TMP / "big.bin", 48 * 1024 * 1024, 9);  // long enough to pause and cancel
    fs::create_directories(TMP / "dir/sub/deeper");
    write_file(TMP / "dir/a.txt", 10, 2);
    write_file(TMP / "dir/sub/b.bin", 300 * 1024, 3);
    write_file(TMP / "dir/sub/deeper/c.txt", 0, 4);
    fs::create_directories(TMP / "share/pulldir/inner");
    write_file(TMP / "share/pulled.txt", 5000, 5);
    write_file(TMP / "share/pulldir/x.txt", 777, 6);
    write_file(TMP / "share/pulldir/inner/y.bin", 70000, 7);

    Side a("");
    Side b(R"({"transfer": {"shared_root": ")" + (TMP / "share").string() + R"("}})");
    b.accept_in_callback = true;
    const std::string src = (TMP / "src.bin").string();

    // Not running yet.
    CHECK_THROWS(a.c.send_file(b.id, src), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(a.c.get_file_transfer_statistics_json(), RATS_ERROR_NOT_RUNNING);

    a.c.start();
    b.c.start();
    a.c.connect_to_peer("127.0.0.1", b.c.get_listen_port());
    CHECK(test::wait_for([&] { return b.c.get_peer_count() == 1; }));

    // Bad sends.
    CHECK_THROWS(a.c.send_file(b.id, (TMP / "no-such-file").string()), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(a.c.send_file("zz", src), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(a.c.send_directory(b.id, (TMP / "no-such-dir").string()),
                 RATS_ERROR_OPERATION_FAILED);

    // 1. A file, accepted from inside B's request callback.
    const std::string t1 = a.c.send_file(b.id, src, "renamed.bin");
    CHECK(t1.size() == 32);
    CHECK(test::wait_count(b.file_requests, 1));
    CHECK(b.get(&Side::req_name) == "renamed.bin" && b.get(&Side::req_id) == t1);
    CHECK(b.get(&Side::req_peer) == a.id);
    CHECK(a.wait(t1, "COMPLETED") && b.wait(t1, "COMPLETED"));
    same_file(TMP / "src.bin", TMP / "recv.bin");
    CHECK(a.saw(t1, "STARTING") && b.saw(t1, "STARTING"));
    auto pj = a.c.get_file_transfer_progress_json(t1);
    CHECK(pj && has(*pj, R"("status":4)") && has(*pj, R"("direction":0)"));
    CHECK(has(*pj, R"("completion_percentage":100)") && has(*pj, R"("total_bytes":1048699)"));
    CHECK(has(*pj, R"("filename":"renamed.bin")") && has(*pj, ("\"peer_id\":\"" + b.id).c_str()));
    pj = b.c.get_file_transfer_progress_json(t1);
    CHECK(pj && has(*pj, R"("direction":1)") && has(*pj, R"("bytes_transferred":1048699)"));
    b.accept_in_callback = false;

    // 2. A directory tree, accepted from the main thread.
    const std::string t2 = a.c.send_directory(b.id, (TMP / "dir").string(), "tree");
    CHECK(t2.size() == 32);
    CHECK(test::wait_count(b.dir_requests, 1) && b.get(&Side::dir_req_id) == t2);
    CHECK(b.get(&Side::dir_req_name) == "tree");
    const std::string tree = (TMP / "recv_tree").string();
    CHECK_THROWS(b.c.accept_file_transfer(t2, tree), RATS_ERROR_INVALID_PARAMETER); // a directory
    b.c.accept_directory_transfer(t2, tree);
    CHECK(b.wait(t2, "COMPLETED") && a.wait(t2, "COMPLETED"));
    same_file(TMP / "dir/a.txt", TMP / "recv_tree/a.txt");
    same_file(TMP / "dir/sub/b.bin", TMP / "recv_tree/sub/b.bin");
    same_file(TMP / "dir/sub/deeper/c.txt", TMP / "recv_tree/sub/deeper/c.txt");
    CHECK(b.dir_progress_calls > 0);
    b.with([&] { CHECK(b.dir_total == 3 && b.dir_done_max == 3 && !b.last_dir_file.empty()); });

    // 3. Offers rejected: with a reason, without one, a directory; the sender's ends FAILED.
    const std::string t3 = a.c.send_file(b.id, src);
    CHECK(test::wait_count(b.file_requests, 2) && b.get(&Side::req_name) == "src.bin");
    CHECK_THROWS(b.c.reject_directory_transfer(t3, "x"), RATS_ERROR_INVALID_PARAMETER);
    b.c.reject_file_transfer(t3, "no thanks");
    CHECK_THROWS(b.c.reject_file_transfer(t3, "twice"), RATS_ERROR_OPERATION_FAILED);
    CHECK(a.wait(t3, "FAILED"));
    const std::string t3b = a.c.send_file(b.id, src);
    CHECK(test::wait_count(b.file_requests, 3));
    b.c.reject_file_transfer(t3b);
    CHECK(a.wait(t3b, "FAILED"));
    const std::string t3c = a.c.send_directory(b.id, (TMP / "dir").string(), "", false);
    CHECK(test::wait_count(b.dir_requests, 2) && b.get(&Side::dir_req_name) == "dir");
    CHECK_THROWS(b.c.reject_file_transfer(t3c), RATS_ERROR_INVALID_PARAMETER); // a directory
    b.c.reject_directory_transfer(t3c);
    CHECK(a.wait(t3c, "FAILED"));
    const std::string t3d = a.c.send_directory(b.id, (TMP / "dir").string(), "again");
    CHECK(test::wait_count(b.dir_requests, 3));
    b.c.reject_directory_transfer(t3d, "not now");
    CHECK(a.wait(t3d, "FAILED"));
    CHECK(!fs::exists(TMP / "dir" / "again") && !fs::exists(TMP / "again"));

    // 4. Pulls from B's shared_root: a file, a directory; outside it: refused.
    const std::string t4 = a.c.request_file(b.id, "pulled.txt", (TMP / "pulled_here.txt").string());
    CHECK(a.wait(t4, "COMPLETED"));
    same_file(TMP / "share/pulled.txt", TMP / "pulled_here.txt");
    const std::string t4d = a.c.request_directory(b.id, "pulldir", (TMP / "pulled_dir").string());
    CHECK(a.wait(t4d, "COMPLETED"));
    same_file(TMP / "share/pulldir/x.txt", TMP / "pulled_dir/x.txt");
    same_file(TMP / "share/pulldir/inner/y.bin", TMP / "pulled_dir/inner/y.bin");
    try {
        const std::string t5 = a.c.request_file(b.id, "../src.bin", (TMP / "never.txt").string());
        CHECK(a.wait(t5, "FAILED"));
    } catch (const rats::Error& e) {
        CHECK(e.code() == rats::errc::operation_failed);
    }
    CHECK(!fs::exists(TMP / "never.txt"));

    // 5. Paused by the sender from inside its progress callback, then resumed.
    const std::string t6 = a.c.send_file(b.id, (TMP / "big.bin").string(), "paused.bin");
    CHECK(test::wait_count(b.file_requests, 4) && b.get(&Side::req_id) == t6);
    a.with([&] { a.pause_target = t6; });
    b.c.accept_file_transfer(t6, (TMP / "paused.bin").string());
    CHECK(a.wait(t6, "PAUSED"));
    pj = a.c.get_file_transfer_progress_json(t6);
    CHECK(pj && has(*pj, R"("status":3)"));
    CHECK(!a.saw(t6, "COMPLETED"));
    CHECK(b.wait(t6, "PAUSED"));
    CHECK_THROWS(b.c.resume_file_transfer(t6), RATS_ERROR_OPERATION_FAILED); // A's pause
    a.c.resume_file_transfer(t6);
    CHECK(test::wait_for([&] { return a.saw(t6, "COMPLETED") && b.saw(t6, "COMPLETED"); }));
    CHECK(a.saw(t6, "RESUMING"));
    same_file(TMP / "big.bin", TMP / "paused.bin");
    fs::remove(TMP / "paused.bin");

    // 6. Cancelled by the sender from inside its progress callback (the receiver's first
    // IN_PROGRESS may come only when every byte is in: too late to cancel there), and by the
    // receiver once its accepted transfer is known (accept answers the offer and returns
    // before the receiving transfer exists: cancel would not find it yet).
    const std::string t7 = a.c.send_file(b.id, (TMP / "big.bin").string(), "cancelled.bin");
    CHECK(test::wait_count(b.file_requests, 5) && b.get(&Side::req_id) == t7);
    a.with([&] { a.cancel_target = t7; });
    b.c.accept_file_transfer(t7, (TMP / "cancelled.bin").string());
    CHECK(a.wait(t7, "CANCELLED") && b.wait(t7, "CANCELLED"));
    CHECK(!fs::exists(TMP / "cancelled.bin"));
    CHECK_THROWS(a.c.cancel_file_transfer(t7), RATS_ERROR_OPERATION_FAILED);
    const std::string t7b = a.c.send_file(b.id, (TMP / "big.bin").string(), "cancelled2.bin");
    CHECK(test::wait_count(b.file_requests, 6) && b.get(&Side::req_id) == t7b);
    b.c.accept_file_transfer(t7b, (TMP / "cancelled2.bin").string());
    CHECK(test::wait_for([&] { return b.c.get_file_transfer_progress_json(t7b).has_value(); }));
    b.c.cancel_file_transfer(t7b);
    CHECK(a.wait(t7b, "CANCELLED") && b.wait(t7b, "CANCELLED"));
    CHECK(!fs::exists(TMP / "cancelled2.bin"));
    CHECK_THROWS(b.c.cancel_file_transfer(t7b), RATS_ERROR_OPERATION_FAILED);

    // Unknown and malformed ids.
    const std::string unknown(32, '0');
    CHECK_THROWS(a.c.cancel_file_transfer(unknown), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(a.c.pause_file_transfer("zz"), RATS_ERROR_INVALID_PARAMETER);
    CHECK_THROWS(a.c.pause_file_transfer(unknown), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(a.c.resume_file_transfer(unknown), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(b.c.accept_file_transfer(unknown, tree), RATS_ERROR_OPERATION_FAILED);
    CHECK_THROWS(b.c.accept_directory_transfer(unknown, tree), RATS_ERROR_OPERATION_FAILED);
    CHECK(!a.c.get_file_transfer_progress_json(unknown));
    CHECK_THROWS(a.c.cancel_file_transfer(t1), RATS_ERROR_OPERATION_FAILED); // finished

    std::string st = b.c.get_file_transfer_statistics_json();
    CHECK(has(st, R"("completed_transfers":)") && has(st, R"("total_bytes_received":)"));
    CHECK(has(st, R"("cancelled_transfers":2)") && has(st, R"("rejected_transfers":)"));
    CHECK(a.saw(t1, "IN_PROGRESS") || b.saw(t1, "IN_PROGRESS") || a.saw(t6, "IN_PROGRESS"));

    // 7. Every transfer callback kind throws once; the error handlers get them by name.
    a.c.set_file_progress_callback([](const std::string& tid, int, const std::string& status) {
        if (status == "COMPLETED") throw std::runtime_error("progress " + tid);
    });
    b.c.set_file_request_callback([&b](const std::string&, const std::string& tid,
                                       const std::string&, const std::string&) {
        b.with([&] { b.req_id = tid; });
        throw std::runtime_error("file offer");
    });
    b.c.set_directory_request_callback([&b](const std::string&, const std::string& tid,
                                            const std::string&, const std::string&) {
        b.with([&] { b.dir_req_id = tid; });
        throw std::logic_error("directory offer");
    });
    b.c.set_directory_progress_callback([](const std::string&, int, int, const std::string&) {
        throw std::out_of_range("directory progress");
    });
    // The offer stays unanswered after the throw: answered here from the main thread.
    const std::string t8 = a.c.send_file(b.id, src, "thrown.bin");
    CHECK(b.thrown.wait("file_request: file offer"));
    CHECK(b.get(&Side::req_id) == t8);
    b.c.accept_file_transfer(t8, (TMP / "thrown.bin").string());
    CHECK(b.wait(t8, "COMPLETED"));
    CHECK(a.thrown.wait("file_progress: progress " + t8));
    same_file(TMP / "src.bin", TMP / "thrown.bin");
    const std::string t9 = a.c.send_directory(b.id, (TMP / "dir").string(), "tree2");
    CHECK(b.thrown.wait("directory_request: directory offer"));
    CHECK(b.get(&Side::dir_req_id) == t9);
    b.c.accept_directory_transfer(t9, (TMP / "recv_tree2").string());
    CHECK(b.wait(t9, "COMPLETED"));
    CHECK(b.thrown.has("directory_progress: directory progress"));
    same_file(TMP / "dir/sub/b.bin", TMP / "recv_tree2/sub/b.bin");

    // Without a request callback, offers are refused again.
    a.install();
    b.c.set_file_request_callback(nullptr);
    const std::string t10 = a.c.send_file(b.id, src);
    CHECK(a.wait(t10, "FAILED"));
    CHECK(b.file_requests == 6);

    st = a.c.get_file_transfer_statistics_json();
    CHECK(has(st, R"("transfers":)") && has(st, R"("total_bytes_sent":)"));
    a.c.stop();
    b.c.stop();
    fs::remove_all(TMP);
    std::printf("transfer: ok\n");
    return 0;
}
