/*
 * rats.hpp: a header-only C++17 wrapper over rats' C API (librats_c.h, librats.so).
 *
 * librats' C++ users call a `librats::RatsClient`; `rats::Client` is the same idea on rats'
 * C ABI, with librats' method names where the meaning is the same (start, stop,
 * connect_to_peer, send_string_to_peer_id, broadcast_binary_to_peers, get_our_peer_id,
 * set_string_data_callback, on, send, ...), so a program moves with small edits. It needs
 * only this header, librats_c.h and -lrats (no other dependency; JSON travels as text, parse
 * it with the JSON library you already use).
 *
 *     rats::Client client(0);                     // any free port
 *     client.set_string_data_callback([](const std::string& peer, const std::string& msg) {
 *         std::printf("%s: %s\n", peer.c_str(), msg.c_str());
 *     });
 *     client.start();
 *     client.connect_to_peer("127.0.0.1", 8080);
 *     client.broadcast_string_to_peers("hello");
 *
 * Differences from librats' RatsClient: no socket_t anywhere (rats names peers by their id:
 * 64 hex characters of an Ed25519 key), so callbacks take the peer id first; JSON is text
 * (std::string), not nlohmann::json, and methods that give JSON end in _json
 * (get_connection_statistics_json, get_gossipsub_statistics_json, ...); binary data is a
 * `rats::bytes_view` (a span of bytes that a std::vector<uint8_t>, std::string, std::array
 * or pointer and size convert to). Where the C API's function means something else than
 * librats' method of that name, the method takes the C name without `rats_`
 * (find_peers_for_hash, get_historical_peer_ids, set_file_request_callback, ...); see WHAT IS
 * WRAPPED below.
 *
 * ERRORS: exceptions. Every method that fails throws `rats::Error`, a std::system_error whose
 * code() is in `rats::error_category()` and holds the C API's rats_error_t value
 * (`e.code() == rats::errc::peer_not_found`, or `e.c_code() == RATS_ERROR_PEER_NOT_FOUND`).
 * Methods that return void in librats, or a bool that only said "it worked", return void
 * here and throw on failure. Counts (broadcasts, peers) are returned as in the C API, where
 * 0 also covers "not running"; so are the C API's flags that carry no error code
 * (is_*, load_historical_peers, save_historical_peers). A string the C API returns is a
 * std::string; where its NULL means "none" it is a std::optional<std::string>
 * (get_peer_info_json, get_public_ip, get_file_transfer_progress_json), where it means a
 * failure the method throws (RATS_ERROR_NOT_RUNNING for the statistics JSON that only fail
 * before start(), else RATS_ERROR_OPERATION_FAILED: send_file, create_ice_offer, ...).
 * String lists are std::vector<std::string> (empty for the C API's NULL and 0).
 * A method called on a moved-from client throws
 * rats::Error(RATS_ERROR_INVALID_HANDLE); stop() and the destructor do nothing there.
 * A string argument with a NUL byte inside throws RATS_ERROR_INVALID_PARAMETER (C would cut
 * it silently). std::bad_alloc may come from any method that copies strings.
 *
 * THREADS: the methods of one Client may be called from any thread, also at once (the C API
 * is thread safe and the wrapper's own state is locked); moving, move-assigning and
 * destroying a Client must not race with other calls on that object.
 * Callbacks run on the client's own callback thread ("rats-cb", one per client), one at a
 * time, never under a lock of the library or of this wrapper. A callback may call any method
 * of its own client or another one (send, disconnect, set callbacks, stop), and may even
 * destroy its own Client object: the wrapper then keeps the callback state alive until that
 * callback returns. After stop() or the destructor returns, no callback of the client runs.
 * Setting a callback (from any thread, at any time) takes effect from the next event; a call
 * already running finishes with the previous function, which stays alive until it returns.
 * Arguments handed to a callback (peer id, message, bytes_view) are valid during the call.
 *
 * EXCEPTIONS IN CALLBACKS never cross into the library (which is Rust): the C trampoline
 * catches everything a callback throws and hands it, as a std::exception_ptr together with
 * the callback's name, to the client's callback error handler (set_callback_error_handler),
 * on the callback thread. The names: "connection", "disconnect", "string_data",
 * "binary_data", "json_data", "message:<type>", "peer_discovered", "file_request",
 * "directory_request", "file_progress", "directory_progress", "topic_message:<topic>",
 * "topic_json_message:<topic>", "topic_peer_joined:<topic>", "topic_peer_left:<topic>".
 * Without a handler, a line "rats: exception in the <name> callback: <what()>" goes to
 * stderr. Either way the event is dropped, the client keeps running and later callbacks are
 * called as usual (a file or directory offer whose request callback threw stays unanswered
 * until answered from elsewhere or refused after its timeout). An exception thrown by the
 * error handler itself is caught too and reported to stderr. Nothing calls std::terminate.
 *
 * WHAT IS WRAPPED: every function of librats_c.h (tests/cpp_api.rs fails when one is not
 * called here). Methods of rats::Client, by group: lifecycle and connections; messages
 * (string, binary, JSON, typed: on/off/send); peers and get_connection_statistics_json;
 * configuration (encryption, protocol, set_config_json) and the encryption key
 * (get_encryption_key, set_encryption_key, generate_new_encryption_key); logging (member
 * forms; the process-wide rats::set_logging_enabled and rats::set_log_level take no client);
 * DHT and automatic discovery (start_dht_discovery, announce_for_hash, find_peers_for_hash,
 * get_discovery_hash, ...); mDNS; GossipSub (subscribe_to_topic, publish_to_topic, ...) and
 * its per-topic callbacks on_topic_message, on_topic_json_message, on_topic_peer_joined,
 * on_topic_peer_left, off_topic; file transfer (send_file, send_directory, request_file,
 * request_directory, accept/reject/cancel/pause/resume, progress and statistics JSON) and
 * its callbacks set_file_request_callback, set_directory_request_callback,
 * set_file_progress_callback, set_directory_progress_callback; set_peer_discovered_callback;
 * NAT and STUN (discover_and_ignore_public_ip, get_public_ip, detect_nat_type, ...); ICE
 * (create_ice_offer, connect_with_ice, handle_ice_answer); the data directory, configuration
 * and historical peers. Free functions: rats::version(), version_string(), git_describe(),
 * abi(), get_rats_peer_discovery_hash() (also Client's static member, as in librats).
 * Deliberately unlike librats: start_dht_discovery's port defaults to 0 (any; librats 6881);
 * discover_and_ignore_public_ip() asks the configured STUN servers (librats defaults to
 * Google's); get_public_ip() is empty rather than ""; find_peers_for_hash waits and returns
 * the peers (librats' find_peers_by_hash calls back); start_mdns_discovery takes no TXT
 * records; the file request callbacks announce offers to us (librats' on_file_request
 * announces pulls, which rats serves from transfer.shared_root by itself); the progress
 * callbacks get (id, percent, status) rather than librats' FileTransferProgress. What the C
 * API lacks is not here either (once(), RatsPeer lists, topic validators, is_running, ...).
 * A function added to the C API becomes a method that calls it through `handle()` (and
 * `detail::check()` for error codes); a new callback type becomes a `detail::slot` in
 * `detail::state` (or `detail::topic_slot`), a trampoline and a setter following
 * set_string_data_callback.
 */
#pragma once

#include "librats_c.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace rats {

// ===================================================================== errors

/// The C API's error codes (rats_error_t) as an error-code enum.
enum class errc : int {
    success = RATS_SUCCESS,
    invalid_handle = RATS_ERROR_INVALID_HANDLE,
    invalid_parameter = RATS_ERROR_INVALID_PARAMETER,
    not_running = RATS_ERROR_NOT_RUNNING,
    operation_failed = RATS_ERROR_OPERATION_FAILED,
    peer_not_found = RATS_ERROR_PEER_NOT_FOUND,
    memory_allocation = RATS_ERROR_MEMORY_ALLOCATION,
    json_parse = RATS_ERROR_JSON_PARSE,
};

namespace detail {
class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "rats"; }
    std::string message(int code) const override {
        switch (code) {
        case RATS_SUCCESS: return "success";
        case RATS_ERROR_INVALID_HANDLE: return "invalid handle";
        case RATS_ERROR_INVALID_PARAMETER: return "invalid parameter";
        case RATS_ERROR_NOT_RUNNING: return "client not running";
        case RATS_ERROR_OPERATION_FAILED: return "operation failed";
        case RATS_ERROR_PEER_NOT_FOUND: return "peer not found";
        case RATS_ERROR_MEMORY_ALLOCATION: return "memory allocation failed";
        case RATS_ERROR_JSON_PARSE: return "not valid JSON";
        default: return "unknown rats error " + std::to_string(code);
        }
    }
};
} // namespace detail

/// The category of rats' error codes (values are rats_error_t).
inline const std::error_category& error_category() noexcept {
    static const detail::category instance;
    return instance;
}

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// What every failing method throws: code() is the C API's rats_error_t in rats' category.
class Error : public std::system_error {
public:
    Error(int c_code, const std::string& what) : std::system_error(c_code, error_category(), what) {}
    /// The C error code (RATS_ERROR_...).
    rats_error_t c_code() const noexcept { return static_cast<rats_error_t>(code().value()); }
};

} // namespace rats

namespace std {
template <>
struct is_error_code_enum<rats::errc> : true_type {};
} // namespace std

namespace rats {

// ===================================================================== arguments

/// A string argument: a std::string or a const char* is passed to C without a copy, a
/// std::string_view is copied (C needs the terminating NUL). NUL bytes inside and NULL
/// pointers throw rats::Error(RATS_ERROR_INVALID_PARAMETER).
class str_arg {
public:
    str_arg(const std::string& s) : ptr_(s.c_str()) { check_nul(s); } // NOLINT: implicit by design
    str_arg(const char* s) : ptr_(s) {                                  // NOLINT
        if (s == nullptr) {
            throw Error(RATS_ERROR_INVALID_PARAMETER, "rats: NULL string argument");
        }
    }
    str_arg(std::string_view s) : copy_(s), ptr_(copy_.c_str()) { check_nul(s); } // NOLINT
    str_arg(const str_arg&) = delete;
    str_arg& operator=(const str_arg&) = delete;

    const char* c_str() const noexcept { return ptr_; }

private:
    static void check_nul(std::string_view s) {
        if (s.find('\0') != std::string_view::npos) {
            throw Error(RATS_ERROR_INVALID_PARAMETER, "rats: string argument with a NUL byte inside");
        }
    }
    std::string copy_;
    const char* ptr_;
};

namespace detail {
template <class T, class = void>
struct is_byte_range : std::false_type {};
template <class T>
struct is_byte_range<T, std::void_t<decltype(std::data(std::declval<const T&>())),
                                    decltype(std::size(std::declval<const T&>()))>>
    : std::bool_constant<
          sizeof(std::remove_pointer_t<decltype(std::data(std::declval<const T&>()))>) == 1 &&
          std::is_trivially_copyable_v<
              std::remove_pointer_t<decltype(std::data(std::declval<const T&>()))>> &&
          // A string literal is not binary data: its size would count the NUL.
          !(std::is_array_v<T> && std::is_same_v<std::remove_cv_t<std::remove_extent_t<T>>, char>)> {};
} // namespace detail

/// A read-only view of bytes (std::span<const std::uint8_t> in spirit): from a pointer and a
/// size, or from any contiguous range of 1-byte elements (std::vector<std::uint8_t>,
/// std::string, std::string_view, std::array<std::byte, N>, unsigned char[N], ...).
/// It does not own the bytes.
class bytes_view {
public:
    using value_type = std::uint8_t;
    using const_iterator = const std::uint8_t*;

    constexpr bytes_view() noexcept = default;
    bytes_view(const void* data, std::size_t size) noexcept
        : data_(static_cast<const std::uint8_t*>(data)), size_(size) {}
    template <class R, std::enable_if_t<detail::is_byte_range<R>::value &&
                                            !std::is_same_v<R, bytes_view>,
                                        int> = 0>
    bytes_view(const R& range) noexcept // NOLINT: implicit by design
        : bytes_view(static_cast<const void*>(std::data(range)), std::size(range)) {}

    const std::uint8_t* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const std::uint8_t* begin() const noexcept { return data_; }
    const std::uint8_t* end() const noexcept { return data_ + size_; }
    std::uint8_t operator[](std::size_t i) const noexcept { return data_[i]; }
    /// A copy, as librats' callbacks gave it.
    std::vector<std::uint8_t> to_vector() const { return {begin(), end()}; }
    /// The bytes as characters.
    std::string_view as_string_view() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }

private:
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

// ===================================================================== callbacks and types

/// librats' connection strategies (rats: DIRECT_ONLY dials once, directly; the others use the
/// node's configured connect strategy: direct, relayed, then NAT strategies).
enum class ConnectionStrategy : int {
    DIRECT_ONLY = RATS_STRATEGY_DIRECT_ONLY,
    STUN_ASSISTED = RATS_STRATEGY_STUN_ASSISTED,
    ICE_FULL = RATS_STRATEGY_ICE_FULL,
    TURN_RELAY = RATS_STRATEGY_TURN_RELAY,
    AUTO_ADAPTIVE = RATS_STRATEGY_AUTO_ADAPTIVE,
};

/// librats' NAT types, as rats_detect_nat_type numbers them (rats' "firewalled", no NAT but
/// filtering, is RESTRICTED_CONE).
enum class NatType : int {
    UNKNOWN = 0,
    OPEN_INTERNET = 1,
    FULL_CONE = 2,
    RESTRICTED_CONE = 3,
    PORT_RESTRICTED_CONE = 4,
    SYMMETRIC = 5,
    BLOCKED = 6,
};

/// A peer connected (after the handshake) / disconnected.
using ConnectionCallback = std::function<void(const std::string& peer_id)>;
using DisconnectCallback = std::function<void(const std::string& peer_id)>;
/// A text message.
using StringDataCallback = std::function<void(const std::string& peer_id, const std::string& message)>;
/// A binary message; the view is valid during the call (copy with to_vector()).
using BinaryDataCallback = std::function<void(const std::string& peer_id, bytes_view data)>;
/// A JSON message (send_json_to_peer_id / broadcast_json_to_peers), as JSON text.
using JsonDataCallback = std::function<void(const std::string& peer_id, const std::string& json)>;
/// A typed message (on / send), its data as JSON text.
using MessageCallback = std::function<void(const std::string& peer_id, const std::string& json)>;
/// A discovered peer: its address and the mechanism that found it ("dht", "mdns",
/// "exchange", ...).
using PeerDiscoveredCallback =
    std::function<void(const std::string& host, int port, const std::string& source)>;
/// A peer offers us a file (remote_path and filename are both the offered name): answer with
/// accept_file_transfer / reject_file_transfer, from the callback or later from any thread.
using FileRequestCallback =
    std::function<void(const std::string& peer_id, const std::string& transfer_id,
                       const std::string& remote_path, const std::string& filename)>;
/// A peer offers us a directory: answer with accept_directory_transfer /
/// reject_directory_transfer.
using DirectoryRequestCallback =
    std::function<void(const std::string& peer_id, const std::string& transfer_id,
                       const std::string& remote_path, const std::string& directory_name)>;
/// Every transfer, both directions: librats' status strings "STARTING", "IN_PROGRESS",
/// "PAUSED", "RESUMING", "COMPLETED" (100), "FAILED", "CANCELLED".
using FileProgressCallback = std::function<void(const std::string& transfer_id,
                                                int progress_percent, const std::string& status)>;
/// Directory transfers: files completed of total_files; current_file is the file just
/// completed (relative path) or "".
using DirectoryProgressCallback =
    std::function<void(const std::string& transfer_id, int files_completed, int total_files,
                       const std::string& current_file)>;
/// A GossipSub message on a topic, as text; peer_id is its origin (checked by signature).
using TopicMessageCallback = std::function<void(
    const std::string& peer_id, const std::string& topic, const std::string& message)>;
/// A GossipSub message on a topic whose payload is JSON, as compact JSON text.
using TopicJsonMessageCallback = std::function<void(
    const std::string& peer_id, const std::string& topic, const std::string& json)>;
/// A peer joined (subscribed to) or left a topic.
using TopicPeerCallback =
    std::function<void(const std::string& peer_id, const std::string& topic)>;
/// Gets what a callback threw; `callback` names it ("string_data", "message:<type>",
/// "topic_message:<topic>", "file_progress", ...).
using CallbackErrorHandler = std::function<void(const char* callback, std::exception_ptr error)>;

/// The library's version numbers (rats_get_version).
struct Version {
    int major = 0, minor = 0, patch = 0, build = 0;
};

inline std::string_view version_string() noexcept { return rats_get_version_string(); }
inline std::string_view git_describe() noexcept { return rats_get_git_describe(); }
inline std::uint32_t abi() noexcept { return rats_get_abi(); }
inline Version version() noexcept {
    Version v;
    rats_get_version(&v.major, &v.minor, &v.patch, &v.build);
    return v;
}

namespace detail {

/// Throws rats::Error for a C error code.
inline void check(int code, const char* what) {
    if (code != RATS_SUCCESS) {
        throw Error(code, std::string("rats: ") + what);
    }
}

/// A malloc'ed C string from the library, released with rats_string_free.
struct c_string_deleter {
    void operator()(char* p) const noexcept { rats_string_free(p); }
};
using c_string_ptr = std::unique_ptr<char, c_string_deleter>;

/// A malloc'ed C string into a std::string (freed); NULL throws rats::Error(code).
inline std::string take_string(char* s, const char* what, int code = RATS_ERROR_OPERATION_FAILED) {
    c_string_ptr p(s);
    if (!p) throw Error(code, std::string("rats: ") + what + " failed");
    return std::string(p.get());
}

/// A malloc'ed C string where NULL means "none".
inline std::optional<std::string> take_optional(char* s) {
    c_string_ptr p(s);
    if (!p) return std::nullopt;
    return std::string(p.get());
}

/// A malloc'ed array of malloc'ed strings into a vector (all of it freed, also on bad_alloc).
inline std::vector<std::string> take_string_array(char** array, int count) {
    struct guard {
        char** a;
        int n;
        ~guard() {
            if (a == nullptr) return;
            for (int i = 0; i < n; ++i) rats_string_free(a[i]);
            rats_string_free(reinterpret_cast<const char*>(a));
        }
    } g{array, count};
    std::vector<std::string> out;
    if (array == nullptr) return out;
    out.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) out.emplace_back(array[i] != nullptr ? array[i] : "");
    return out;
}

/// A std::function that one thread replaces while the callback thread calls it: the caller
/// takes a counted reference under the lock and calls it outside the lock, so a replaced
/// function lives until its last call returns.
template <class F>
class slot {
public:
    void set(F f) {
        std::shared_ptr<const F> next = f ? std::make_shared<const F>(std::move(f)) : nullptr;
        std::lock_guard<std::mutex> lock(mutex_);
        fn_.swap(next);
        // The previous function is released after the lock (by `next`).
    }
    std::shared_ptr<const F> get() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return fn_;
    }
    bool empty() const { return get() == nullptr; }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const F> fn_;
};

struct state;

/// A typed-message handler's user_data: its state and its type.
struct message_slot {
    state* owner;
    std::string name; // "message:<type>"
    slot<MessageCallback> fn;
};

/// A GossipSub topic's four callbacks: the user_data of that topic's C callbacks.
struct topic_slot {
    state* owner;
    std::string message_name; // "topic_message:<topic>"
    std::string json_name;    // "topic_json_message:<topic>"
    std::string joined_name;  // "topic_peer_joined:<topic>"
    std::string left_name;    // "topic_peer_left:<topic>"
    slot<TopicMessageCallback> message;
    slot<TopicJsonMessageCallback> json;
    slot<TopicPeerCallback> joined;
    slot<TopicPeerCallback> left;
};

/// Everything the C callbacks reach through user_data. Heap-allocated once per client, so
/// moving a Client does not move it; freed after rats_destroy (no callback runs then).
struct state {
    slot<ConnectionCallback> connection;
    slot<DisconnectCallback> disconnect;
    slot<StringDataCallback> string_data;
    slot<BinaryDataCallback> binary_data;
    slot<JsonDataCallback> json_data;
    slot<PeerDiscoveredCallback> peer_discovered;
    slot<FileRequestCallback> file_request;
    slot<DirectoryRequestCallback> directory_request;
    slot<FileProgressCallback> file_progress;
    slot<DirectoryProgressCallback> directory_progress;
    slot<CallbackErrorHandler> error_handler;
    std::mutex messages_mutex;
    std::map<std::string, std::unique_ptr<message_slot>, std::less<>> messages;
    // Topic slots are added once per topic and kept while the state lives (their address is
    // the C user_data).
    std::mutex topics_mutex;
    std::map<std::string, std::unique_ptr<topic_slot>, std::less<>> topics;
};

/// One running callback on this thread. If the client is destroyed from inside it, the
/// client's state moves into `keep_alive` and dies when the callback returns.
struct frame {
    const state* owner;
    frame* outer;
    std::unique_ptr<state> keep_alive;
};

inline frame*& current_frame() noexcept {
    static thread_local frame* top = nullptr;
    return top;
}

inline void report_to_stderr(const char* callback, const std::exception_ptr& error,
                             bool in_handler = false) noexcept {
    const char* what = "an exception not derived from std::exception";
    try {
        if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
    }
    if (in_handler) {
        std::fprintf(stderr, "rats: exception in the callback error handler (for the %s callback): %s\n",
                     callback, what);
    } else {
        std::fprintf(stderr, "rats: exception in the %s callback: %s\n", callback, what);
    }
}

/// Hands an exception from a callback to the error handler (or stderr); never throws.
inline void report(state& st, const char* callback, std::exception_ptr error) noexcept {
    try {
        if (auto handler = st.error_handler.get()) {
            (*handler)(callback, error);
            return;
        }
    } catch (...) {
        report_to_stderr(callback, std::current_exception(), true);
        return;
    }
    report_to_stderr(callback, error);
}

/// Runs `body` (which calls the user's function) for a C callback: marks the frame, catches
/// every exception, and releases the state if the client was destroyed meanwhile.
template <class Body>
void dispatch(state* st, const char* callback, Body&& body) noexcept {
    frame f{st, current_frame(), nullptr};
    current_frame() = &f;
    try {
        body();
    } catch (...) {
        report(*st, callback, std::current_exception());
    }
    current_frame() = f.outer;
    // f.keep_alive (the state, if the Client was destroyed in the callback) is freed here.
}

inline std::string str(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

// The C trampolines: user_data is the client's state (or a message_slot).
inline void on_connection(void* ud, const char* peer_id) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "connection", [&] {
        if (auto fn = st->connection.get()) (*fn)(str(peer_id));
    });
}
inline void on_disconnect(void* ud, const char* peer_id) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "disconnect", [&] {
        if (auto fn = st->disconnect.get()) (*fn)(str(peer_id));
    });
}
inline void on_string(void* ud, const char* peer_id, const char* message) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "string_data", [&] {
        if (auto fn = st->string_data.get()) (*fn)(str(peer_id), str(message));
    });
}
inline void on_binary(void* ud, const char* peer_id, const void* data, std::size_t size) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "binary_data", [&] {
        if (auto fn = st->binary_data.get()) (*fn)(str(peer_id), bytes_view(data, size));
    });
}
inline void on_json(void* ud, const char* peer_id, const char* json) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "json_data", [&] {
        if (auto fn = st->json_data.get()) (*fn)(str(peer_id), str(json));
    });
}
inline void on_message(void* ud, const char* peer_id, const char* json) noexcept {
    auto* ms = static_cast<message_slot*>(ud);
    dispatch(ms->owner, ms->name.c_str(), [&] {
        if (auto fn = ms->fn.get()) (*fn)(str(peer_id), str(json));
    });
}
inline void on_peer_discovered(void* ud, const char* host, int port, const char* source) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "peer_discovered", [&] {
        if (auto fn = st->peer_discovered.get()) (*fn)(str(host), port, str(source));
    });
}
inline void on_file_request(void* ud, const char* peer_id, const char* transfer_id,
                            const char* remote_path, const char* filename) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "file_request", [&] {
        if (auto fn = st->file_request.get()) {
            (*fn)(str(peer_id), str(transfer_id), str(remote_path), str(filename));
        }
    });
}
inline void on_directory_request(void* ud, const char* peer_id, const char* transfer_id,
                                 const char* remote_path, const char* directory_name) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "directory_request", [&] {
        if (auto fn = st->directory_request.get()) {
            (*fn)(str(peer_id), str(transfer_id), str(remote_path), str(directory_name));
        }
    });
}
inline void on_file_progress(void* ud, const char* transfer_id, int percent,
                             const char* status) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "file_progress", [&] {
        if (auto fn = st->file_progress.get()) (*fn)(str(transfer_id), percent, str(status));
    });
}
inline void on_directory_progress(void* ud, const char* transfer_id, int files_completed,
                                  int total_files, const char* current_file) noexcept {
    auto* st = static_cast<state*>(ud);
    dispatch(st, "directory_progress", [&] {
        if (auto fn = st->directory_progress.get()) {
            (*fn)(str(transfer_id), files_completed, total_files, str(current_file));
        }
    });
}
// Topic trampolines: user_data is the topic's topic_slot.
inline void on_topic_message(void* ud, const char* peer_id, const char* topic,
                             const char* message) noexcept {
    auto* ts = static_cast<topic_slot*>(ud);
    dispatch(ts->owner, ts->message_name.c_str(), [&] {
        if (auto fn = ts->message.get()) (*fn)(str(peer_id), str(topic), str(message));
    });
}
inline void on_topic_json(void* ud, const char* peer_id, const char* topic,
                          const char* json) noexcept {
    auto* ts = static_cast<topic_slot*>(ud);
    dispatch(ts->owner, ts->json_name.c_str(), [&] {
        if (auto fn = ts->json.get()) (*fn)(str(peer_id), str(topic), str(json));
    });
}
inline void on_topic_joined(void* ud, const char* peer_id, const char* topic) noexcept {
    auto* ts = static_cast<topic_slot*>(ud);
    dispatch(ts->owner, ts->joined_name.c_str(), [&] {
        if (auto fn = ts->joined.get()) (*fn)(str(peer_id), str(topic));
    });
}
inline void on_topic_left(void* ud, const char* peer_id, const char* topic) noexcept {
    auto* ts = static_cast<topic_slot*>(ud);
    dispatch(ts->owner, ts->left_name.c_str(), [&] {
        if (auto fn = ts->left.get()) (*fn)(str(peer_id), str(topic));
    });
}

} // namespace detail

// ===================================================================== process-wide functions

/// rats_set_logging_enabled: rats-log on or off for the whole process (installed on first
/// use: stderr, INFO, timestamps). Also Client::set_logging_enabled, as in librats.
inline void set_logging_enabled(bool enabled) noexcept {
    rats_set_logging_enabled(enabled ? 1 : 0);
}
/// rats_set_log_level: "TRACE", "DEBUG", "INFO", "WARN"/"WARNING", "ERROR" (any case; another
/// string is ignored), process-wide.
inline void set_log_level(str_arg level) { rats_set_log_level(level.c_str()); }
/// rats_get_rats_peer_discovery_hash: the discovery hash of rats' default protocol ("rats",
/// "1.0"), 40 hex characters. Also the static Client::get_rats_peer_discovery_hash().
inline std::string get_rats_peer_discovery_hash() {
    return detail::take_string(rats_get_rats_peer_discovery_hash(), "get_rats_peer_discovery_hash");
}

// ===================================================================== the client

/// A rats client (librats' RatsClient on the C API). Move-only; the destructor stops and
/// destroys it. See the top of this header for errors, threads and callbacks.
class Client {
public:
    /// rats_create: a client with a fresh identity (the peer id exists from here on) that
    /// will listen on `listen_port` (0: any free port) once started. Setters work before
    /// start(). Throws RATS_ERROR_INVALID_PARAMETER for a port outside 0..65535.
    explicit Client(int listen_port = 0) : state_(std::make_unique<detail::state>()) {
        handle_ = rats_create(listen_port);
        if (handle_ == nullptr) {
            throw Error(RATS_ERROR_INVALID_PARAMETER,
                        "rats: cannot create a client on port " + std::to_string(listen_port));
        }
    }
    ~Client() { reset(); }

    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    Client(Client&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), state_(std::move(other.state_)) {}
    Client& operator=(Client&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, nullptr);
            state_ = std::move(other.state_);
        }
        return *this;
    }

    /// The C handle (to mix in C code that takes a rats_client_t); NULL after a move.
    rats_client_t native_handle() const noexcept { return handle_; }
    /// False after a move.
    explicit operator bool() const noexcept { return handle_ != nullptr; }

    // ---------------------------------------------------------- lifecycle

    /// rats_start: starts listening and the node's plugins (already running: nothing).
    void start() { detail::check(rats_start(handle()), "start failed"); }
    /// rats_stop: closes every connection; no callback runs after it returns. Can be
    /// started again (same peer id). Nothing on a moved-from client.
    void stop() noexcept {
        if (handle_ != nullptr) rats_stop(handle_);
    }
    /// The TCP port: the real one once started (also after port 0).
    int get_listen_port() const { return rats_get_listen_port(handle()); }

    // ---------------------------------------------------------- connections

    /// Connects and waits until the peer is connected (handshake done); throws when the
    /// attempt fails (RATS_ERROR_OPERATION_FAILED), before start (RATS_ERROR_NOT_RUNNING).
    /// rats_connect_with_strategy; AUTO_ADAPTIVE is what rats_connect does.
    void connect_to_peer(str_arg host, int port,
                         ConnectionStrategy strategy = ConnectionStrategy::AUTO_ADAPTIVE) {
        int code = rats_connect_with_strategy(handle(), host.c_str(), port,
                                              static_cast<rats_connection_strategy_t>(strategy));
        if (code != RATS_SUCCESS) {
            throw Error(code, std::string("rats: connect to ") + host.c_str() + ":" +
                                  std::to_string(port) + " failed");
        }
    }
    /// rats_connect: like connect_to_peer, but false instead of an exception (librats' bool).
    bool try_connect_to_peer(str_arg host, int port) {
        return rats_connect(handle(), host.c_str(), port) == 1;
    }
    /// Graceful disconnect (queued data first); RATS_ERROR_PEER_NOT_FOUND if not connected.
    void disconnect_peer_by_id(str_arg peer_id) {
        detail::check(rats_disconnect_peer_by_id(handle(), peer_id.c_str()), "disconnect failed");
    }

    // ---------------------------------------------------------- data

    /// A text message to one peer (waits while its send queue is full).
    void send_string_to_peer_id(str_arg peer_id, str_arg message) {
        detail::check(rats_send_string(handle(), peer_id.c_str(), message.c_str()),
                      "send_string_to_peer_id failed");
    }
    /// A binary message to one peer (copied before the call returns; not empty).
    void send_binary_to_peer_id(str_arg peer_id, bytes_view data) {
        detail::check(rats_send_binary(handle(), peer_id.c_str(), data.data(), data.size()),
                      "send_binary_to_peer_id failed");
    }
    /// A JSON document (text) to one peer; RATS_ERROR_JSON_PARSE if it is not JSON.
    void send_json_to_peer_id(str_arg peer_id, str_arg json) {
        detail::check(rats_send_json(handle(), peer_id.c_str(), json.c_str()),
                      "send_json_to_peer_id failed");
    }
    /// To every connected peer; how many (0 also when not running).
    int broadcast_string_to_peers(str_arg message) {
        return rats_broadcast_string(handle(), message.c_str());
    }
    int broadcast_binary_to_peers(bytes_view data) {
        return rats_broadcast_binary(handle(), data.data(), data.size());
    }
    /// 0 also for text that is not JSON.
    int broadcast_json_to_peers(str_arg json) { return rats_broadcast_json(handle(), json.c_str()); }

    // ---------------------------------------------------------- typed messages

    /// librats' on(): calls `callback` for every message of `message_type` (its data as JSON
    /// text); replaces an earlier callback for the type. An empty function is off().
    void on(str_arg message_type, MessageCallback callback) {
        rats_client_t h = handle();
        std::lock_guard<std::mutex> lock(state_->messages_mutex);
        auto it = state_->messages.find(std::string_view(message_type.c_str()));
        if (it != state_->messages.end()) {
            it->second->fn.set(std::move(callback));
            return;
        }
        if (!callback) return;
        auto ms = std::make_unique<detail::message_slot>();
        ms->owner = state_.get();
        ms->name = std::string("message:") + message_type.c_str();
        ms->fn.set(std::move(callback));
        // Registered once per type with a user_data that lives as long as the client.
        detail::check(rats_on_message(h, message_type.c_str(), &detail::on_message, ms.get()),
                      "on() failed");
        state_->messages.emplace(message_type.c_str(), std::move(ms));
    }
    /// librats' off(): messages of the type are dropped from now on (the C handler stays
    /// registered: rats_on_message has no removal).
    void off(str_arg message_type) {
        (void)handle();
        std::lock_guard<std::mutex> lock(state_->messages_mutex);
        auto it = state_->messages.find(std::string_view(message_type.c_str()));
        if (it != state_->messages.end()) it->second->fn.set(nullptr);
    }
    /// librats' send(peer_id, type, data): `data` is JSON text (other text goes as a JSON
    /// string).
    void send(str_arg peer_id, str_arg message_type, str_arg data) {
        detail::check(
            rats_send_message(handle(), peer_id.c_str(), message_type.c_str(), data.c_str()),
            "send failed");
    }
    /// librats' send(type, data): to every connected peer.
    void send(str_arg message_type, str_arg data) {
        detail::check(rats_broadcast_message(handle(), message_type.c_str(), data.c_str()),
                      "send (broadcast) failed");
    }

    // ---------------------------------------------------------- peers

    int get_peer_count() const { return rats_get_peer_count(handle()); }
    /// 64 hex characters (the Ed25519 public key); exists from construction.
    std::string get_our_peer_id() const { return take(rats_get_our_peer_id(handle()), "get_our_peer_id"); }
    /// Connected peers' ids.
    std::vector<std::string> get_peer_ids() const {
        int n = 0;
        char** ids = rats_get_peer_ids(handle(), &n);
        return detail::take_string_array(ids, n);
    }
    /// Connected peers' ids (in rats every connected peer has completed the handshake).
    std::vector<std::string> get_validated_peer_ids() const {
        int n = 0;
        char** ids = rats_get_validated_peer_ids(handle(), &n);
        return detail::take_string_array(ids, n);
    }
    /// The peer's info as JSON text (librats' keys), nothing if not connected.
    std::optional<std::string> get_peer_info_json(str_arg peer_id) const {
        return detail::take_optional(rats_get_peer_info_json(handle(), peer_id.c_str()));
    }
    bool is_peer_encrypted(str_arg peer_id) const {
        return rats_is_peer_encrypted(handle(), peer_id.c_str()) == 1;
    }
    /// Before start() (RATS_ERROR_OPERATION_FAILED while running).
    void set_max_peers(int max_peers) {
        detail::check(rats_set_max_peers(handle(), max_peers), "set_max_peers failed");
    }
    int get_max_peers() const { return rats_get_max_peers(handle()); }
    bool is_peer_limit_reached() const { return rats_is_peer_limit_reached(handle()) == 1; }
    /// librats' get_connection_statistics as JSON text: total_peers, validated_peers,
    /// max_peers, running, listen_port, our_peer_id, encryption_enabled, dht_running,
    /// dht_routing_table_size, mdns_running, plus rats' gossipsub_running, transfers_active,
    /// peers_by_method.
    std::string get_connection_statistics_json() const {
        return take(rats_get_connection_statistics_json(handle()),
                    "get_connection_statistics_json");
    }

    // ---------------------------------------------------------- configuration (before start)

    /// Noise XX on (default) or off (debugging; both sides must agree).
    void set_encryption_enabled(bool enabled) {
        detail::check(rats_set_encryption_enabled(handle(), enabled ? 1 : 0),
                      "set_encryption_enabled failed");
    }
    bool is_encryption_enabled() const { return rats_is_encryption_enabled(handle()) == 1; }
    void set_protocol_name(str_arg name) {
        detail::check(rats_set_protocol_name(handle(), name.c_str()), "set_protocol_name failed");
    }
    void set_protocol_version(str_arg version) {
        detail::check(rats_set_protocol_version(handle(), version.c_str()),
                      "set_protocol_version failed");
    }
    std::string get_protocol_name() const {
        return take(rats_get_protocol_name(handle()), "get_protocol_name");
    }
    std::string get_protocol_version() const {
        return take(rats_get_protocol_version(handle()), "get_protocol_version");
    }
    /// rats extension (rats_set_config_json): node configuration keys from a JSON object, e.g.
    /// {"disabled_plugins": ["dht", "mdns", "stun", "portmap", "holepunch"]} (loopback only).
    void set_config_json(str_arg json) {
        detail::check(rats_set_config_json(handle(), json.c_str()), "set_config_json failed");
    }

    // ---------------------------------------------------------- encryption keys (before start)

    /// The node's static key: the secret key of its Ed25519 identity, 64 hex characters (the
    /// peer id derives from it). Keep it secret.
    std::string get_encryption_key() const {
        return take(rats_get_encryption_key(handle()), "get_encryption_key");
    }
    /// Replaces the identity with the one of this secret key (the peer id changes); before
    /// start() only (RATS_ERROR_OPERATION_FAILED while running, INVALID_PARAMETER for bad hex).
    void set_encryption_key(str_arg key_hex) {
        detail::check(rats_set_encryption_key(handle(), key_hex.c_str()),
                      "set_encryption_key failed");
    }
    /// rats_generate_encryption_key: a fresh identity becomes the node's (new peer id); returns
    /// its secret key. Before start() only (RATS_ERROR_OPERATION_FAILED while running).
    std::string generate_new_encryption_key() {
        return take(rats_generate_encryption_key(handle()), "generate_new_encryption_key");
    }

    // ---------------------------------------------------------- logging (process-wide)

    /// librats' member form of rats::set_logging_enabled (logging is process-wide).
    void set_logging_enabled(bool enabled) {
        (void)handle();
        rats_set_logging_enabled(enabled ? 1 : 0);
    }
    /// librats' member form of rats::set_log_level (process-wide).
    void set_log_level(str_arg level) {
        (void)handle();
        rats_set_log_level(level.c_str());
    }
    /// Also logs to this file (directories created); "" stops the file. Process-wide.
    void set_log_file_path(str_arg file_path) {
        rats_set_log_file_path(handle(), file_path.c_str());
    }
    /// The log file, "" when none.
    std::string get_log_file_path() const {
        return take(rats_get_log_file_path(handle()), "get_log_file_path");
    }
    /// Colours on stderr (the file never has them).
    void set_log_colors_enabled(bool enabled) {
        rats_set_log_colors_enabled(handle(), enabled ? 1 : 0);
    }
    bool is_log_colors_enabled() const { return rats_is_log_colors_enabled(handle()) == 1; }
    void set_log_timestamps_enabled(bool enabled) {
        rats_set_log_timestamps_enabled(handle(), enabled ? 1 : 0);
    }
    bool is_log_timestamps_enabled() const {
        return rats_is_log_timestamps_enabled(handle()) == 1;
    }
    /// Rotates the file before it passes this size (0: never).
    void set_log_rotation_size(std::size_t max_size_bytes) {
        rats_set_log_rotation_size(handle(), max_size_bytes);
    }
    /// Rotated files kept (negative: ignored).
    void set_log_retention_count(int count) { rats_set_log_retention_count(handle(), count); }
    /// Empties the log file (rotated files are kept).
    void clear_log_file() { rats_clear_log_file(handle()); }

    // ---------------------------------------------------------- DHT and automatic discovery

    /// BitTorrent mainline DHT. Before start(): switches the "dht" plugin on for the start
    /// with UDP port `dht_port` (0, the default here: any; librats' default is 6881); while
    /// running: starts the DHT if it was stopped (the port stays the one it started with).
    /// Bootstrap nodes come from the "dht": {"bootstrap": [...]} setting (default: the public
    /// routers). Throws RATS_ERROR_OPERATION_FAILED while running with the plugin off.
    void start_dht_discovery(int dht_port = 0) {
        detail::check(rats_start_dht_discovery(handle(), dht_port), "start_dht_discovery failed");
    }
    /// Before start(): the plugin is switched off for the start; while running: stops it.
    void stop_dht_discovery() { rats_stop_dht_discovery(handle()); }
    bool is_dht_running() const { return rats_is_dht_running(handle()) == 1; }
    /// Announces `port` (0: our TCP port) under `content_hash` (40 hex characters) and waits;
    /// RATS_ERROR_OPERATION_FAILED when no DHT node took it, NOT_RUNNING before start().
    void announce_for_hash(str_arg content_hash, int port = 0) {
        detail::check(rats_announce_for_hash(handle(), content_hash.c_str(), port),
                      "announce_for_hash failed");
    }
    std::size_t get_dht_routing_table_size() const {
        return rats_get_dht_routing_table_size(handle());
    }
    /// rats extension (rats_find_peers_for_hash): looks `content_hash` (40 hex characters) up
    /// in the DHT, waits, and returns the peers as "ip:port" ("[v6]:port"). Empty when none
    /// were found, the DHT does not run or the hash is malformed (the C API does not tell
    /// them apart). librats' find_peers_by_hash takes a callback instead.
    std::vector<std::string> find_peers_for_hash(str_arg content_hash) const {
        int n = 0;
        char** peers = rats_find_peers_for_hash(handle(), content_hash.c_str(), &n);
        return detail::take_string_array(peers, n);
    }
    /// The DHT's discovery loop (announces get_discovery_hash() and connects to the peers
    /// found). Before start(): switches the DHT and its loop on for the start; while running:
    /// starts the DHT if it was stopped.
    void start_automatic_peer_discovery() { rats_start_automatic_peer_discovery(handle()); }
    /// Before start(): the DHT runs without the loop; while running: stops the DHT.
    void stop_automatic_peer_discovery() { rats_stop_automatic_peer_discovery(handle()); }
    bool is_automatic_discovery_running() const {
        return rats_is_automatic_discovery_running(handle()) == 1;
    }
    /// SHA-1(protocol_name + "_peer_discovery_v" + protocol_version) in hex, as librats.
    std::string get_discovery_hash() const {
        return take(rats_get_discovery_hash(handle()), "get_discovery_hash");
    }
    /// librats' static form of rats::get_rats_peer_discovery_hash().
    static std::string get_rats_peer_discovery_hash() {
        return rats::get_rats_peer_discovery_hash();
    }

    // ---------------------------------------------------------- mDNS

    /// mDNS/DNS-SD on the local network as instance `service_instance_name` ("": rats'
    /// default). Before start(): the "mdns" plugin is switched on for the start; while
    /// running: (re)started (RATS_ERROR_OPERATION_FAILED when the plugin is off). mDNS does not
    /// run on a node that listens on loopback only. librats' TXT records are not supported.
    void start_mdns_discovery(str_arg service_instance_name = "") {
        detail::check(rats_start_mdns_discovery(handle(), service_instance_name.c_str()),
                      "start_mdns_discovery failed");
    }
    void stop_mdns_discovery() { rats_stop_mdns_discovery(handle()); }
    bool is_mdns_running() const { return rats_is_mdns_running(handle()) == 1; }
    /// Asks the local network now; answers come to the peer discovered callback.
    /// RATS_ERROR_NOT_RUNNING before start(), OPERATION_FAILED when mDNS does not run.
    void query_mdns_services() {
        detail::check(rats_query_mdns_services(handle()), "query_mdns_services failed");
    }

    // ---------------------------------------------------------- GossipSub

    /// True unless the "gossipsub" plugin is switched off (disabled_plugins).
    bool is_gossipsub_available() const { return rats_is_gossipsub_available(handle()) == 1; }
    /// Started and available.
    bool is_gossipsub_running() const { return rats_is_gossipsub_running(handle()) == 1; }
    /// Needs a started client (RATS_ERROR_NOT_RUNNING); twice is fine; topics are 1..256
    /// bytes (else RATS_ERROR_INVALID_PARAMETER); RATS_ERROR_OPERATION_FAILED with the plugin
    /// off.
    void subscribe_to_topic(str_arg topic) {
        detail::check(rats_subscribe_to_topic(handle(), topic.c_str()),
                      "subscribe_to_topic failed");
    }
    /// Not subscribed is fine.
    void unsubscribe_from_topic(str_arg topic) {
        detail::check(rats_unsubscribe_from_topic(handle(), topic.c_str()),
                      "unsubscribe_from_topic failed");
    }
    bool is_subscribed_to_topic(str_arg topic) const {
        return rats_is_subscribed_to_topic(handle(), topic.c_str()) == 1;
    }
    /// Our topics, sorted.
    std::vector<std::string> get_subscribed_topics() const {
        int n = 0;
        char** topics = rats_get_subscribed_topics(handle(), &n);
        return detail::take_string_array(topics, n);
    }
    /// Signed with our identity; each subscriber gets it once; no subscribers is not an error.
    void publish_to_topic(str_arg topic, str_arg message) {
        detail::check(rats_publish_to_topic(handle(), topic.c_str(), message.c_str()),
                      "publish_to_topic failed");
    }
    /// JSON text, published compact; RATS_ERROR_JSON_PARSE if it is not JSON.
    void publish_json_to_topic(str_arg topic, str_arg json) {
        detail::check(rats_publish_json_to_topic(handle(), topic.c_str(), json.c_str()),
                      "publish_json_to_topic failed");
    }
    /// Connected peers subscribed to the topic.
    std::vector<std::string> get_topic_peers(str_arg topic) const {
        int n = 0;
        char** peers = rats_get_topic_peers(handle(), topic.c_str(), &n);
        return detail::take_string_array(peers, n);
    }
    /// Our mesh peers for the topic.
    std::vector<std::string> get_topic_mesh_peers(str_arg topic) const {
        int n = 0;
        char** peers = rats_get_topic_mesh_peers(handle(), topic.c_str(), &n);
        return detail::take_string_array(peers, n);
    }
    /// rats' counters as JSON text ({"running":false} when not running).
    std::string get_gossipsub_statistics_json() const {
        return take(rats_get_gossipsub_statistics_json(handle()), "get_gossipsub_statistics_json");
    }
    /// Every message on `topic` (subscribed to), as text; replaces the topic's earlier one; an
    /// empty function removes it. Before or after start(). Errors: "topic_message:<topic>".
    void on_topic_message(str_arg topic, TopicMessageCallback callback) {
        rats_client_t h = handle();
        std::lock_guard<std::mutex> lock(state_->topics_mutex);
        if (detail::topic_slot* ts = find_topic_slot(topic, static_cast<bool>(callback))) {
            auto fn = store(ts->message, std::move(callback), &detail::on_topic_message);
            rats_set_topic_message_callback(h, topic.c_str(), fn, ts);
        }
    }
    /// Messages on `topic` whose payload is JSON, as compact JSON text (the message callback
    /// gets them too). Errors: "topic_json_message:<topic>".
    void on_topic_json_message(str_arg topic, TopicJsonMessageCallback callback) {
        rats_client_t h = handle();
        std::lock_guard<std::mutex> lock(state_->topics_mutex);
        if (detail::topic_slot* ts = find_topic_slot(topic, static_cast<bool>(callback))) {
            auto fn = store(ts->json, std::move(callback), &detail::on_topic_json);
            rats_set_topic_json_message_callback(h, topic.c_str(), fn, ts);
        }
    }
    /// A connected peer subscribed to `topic`. Errors: "topic_peer_joined:<topic>".
    void on_topic_peer_joined(str_arg topic, TopicPeerCallback callback) {
        rats_client_t h = handle();
        std::lock_guard<std::mutex> lock(state_->topics_mutex);
        if (detail::topic_slot* ts = find_topic_slot(topic, static_cast<bool>(callback))) {
            auto fn = store(ts->joined, std::move(callback), &detail::on_topic_joined);
            rats_set_topic_peer_joined_callback(h, topic.c_str(), fn, ts);
        }
    }
    /// A peer left `topic` (unsubscribed or disconnected). Errors: "topic_peer_left:<topic>".
    void on_topic_peer_left(str_arg topic, TopicPeerCallback callback) {
        rats_client_t h = handle();
        std::lock_guard<std::mutex> lock(state_->topics_mutex);
        if (detail::topic_slot* ts = find_topic_slot(topic, static_cast<bool>(callback))) {
            auto fn = store(ts->left, std::move(callback), &detail::on_topic_left);
            rats_set_topic_peer_left_callback(h, topic.c_str(), fn, ts);
        }
    }
    /// rats_clear_topic_callbacks: removes the topic's four callbacks (the subscription stays).
    void off_topic(str_arg topic) {
        rats_client_t h = handle();
        std::lock_guard<std::mutex> lock(state_->topics_mutex);
        if (detail::topic_slot* ts = find_topic_slot(topic, false)) {
            ts->message.set(nullptr);
            ts->json.set(nullptr);
            ts->joined.set(nullptr);
            ts->left.set(nullptr);
        }
        rats_clear_topic_callbacks(h, topic.c_str());
    }

    // ---------------------------------------------------------- file transfer

    /// Offers a file to a connected peer (as `remote_filename`, "": its own name); returns the
    /// transfer id (32 hex characters) once the offer is sent; the peer answers through its
    /// file request callback and the outcome comes to the progress callback. Throws
    /// RATS_ERROR_OPERATION_FAILED when not running, the peer is not connected or the file
    /// cannot be read (the C API returns NULL for all of them).
    std::string send_file(str_arg peer_id, str_arg file_path, str_arg remote_filename = "") {
        return take(rats_send_file(handle(), peer_id.c_str(), file_path.c_str(),
                                   remote_filename.c_str()),
                    "send_file");
    }
    /// Offers a directory (subdirectories too when `recursive`; symbolic links skipped).
    std::string send_directory(str_arg peer_id, str_arg directory_path,
                               str_arg remote_directory_name = "", bool recursive = true) {
        return take(rats_send_directory(handle(), peer_id.c_str(), directory_path.c_str(),
                                        remote_directory_name.c_str(), recursive ? 1 : 0),
                    "send_directory");
    }
    /// Pulls the peer's file (a path below its "transfer": {"shared_root": DIR}) into
    /// `local_path`; the transfer id.
    std::string request_file(str_arg peer_id, str_arg remote_file_path, str_arg local_path) {
        return take(rats_request_file(handle(), peer_id.c_str(), remote_file_path.c_str(),
                                      local_path.c_str()),
                    "request_file");
    }
    /// Pulls a directory below the peer's shared_root (rats: always the whole tree,
    /// `recursive` is passed on but not used).
    std::string request_directory(str_arg peer_id, str_arg remote_directory_path,
                                  str_arg local_directory_path, bool recursive = true) {
        return take(rats_request_directory(handle(), peer_id.c_str(),
                                           remote_directory_path.c_str(),
                                           local_directory_path.c_str(), recursive ? 1 : 0),
                    "request_directory");
    }
    /// Answers a file offer: saved as `local_path` once its SHA-256 matched.
    /// RATS_ERROR_OPERATION_FAILED when no such offer waits; INVALID_PARAMETER for a
    /// directory offer.
    void accept_file_transfer(str_arg transfer_id, str_arg local_path) {
        detail::check(rats_accept_file_transfer(handle(), transfer_id.c_str(), local_path.c_str()),
                      "accept_file_transfer failed");
    }
    /// Refuses a file offer; the sender sees "rejected" and its transfer ends FAILED.
    void reject_file_transfer(str_arg transfer_id) {
        detail::check(rats_reject_file_transfer(handle(), transfer_id.c_str(), nullptr),
                      "reject_file_transfer failed");
    }
    /// Refuses a file offer; the sender sees `reason`.
    void reject_file_transfer(str_arg transfer_id, str_arg reason) {
        detail::check(rats_reject_file_transfer(handle(), transfer_id.c_str(), reason.c_str()),
                      "reject_file_transfer failed");
    }
    /// Answers a directory offer: its root is saved as `local_path`.
    void accept_directory_transfer(str_arg transfer_id, str_arg local_path) {
        detail::check(
            rats_accept_directory_transfer(handle(), transfer_id.c_str(), local_path.c_str()),
            "accept_directory_transfer failed");
    }
    void reject_directory_transfer(str_arg transfer_id) {
        detail::check(rats_reject_directory_transfer(handle(), transfer_id.c_str(), nullptr),
                      "reject_directory_transfer failed");
    }
    void reject_directory_transfer(str_arg transfer_id, str_arg reason) {
        detail::check(
            rats_reject_directory_transfer(handle(), transfer_id.c_str(), reason.c_str()),
            "reject_directory_transfer failed");
    }
    /// Both sides; RATS_ERROR_OPERATION_FAILED for an unknown or finished transfer.
    void cancel_file_transfer(str_arg transfer_id) {
        detail::check(rats_cancel_file_transfer(handle(), transfer_id.c_str()),
                      "cancel_file_transfer failed");
    }
    /// The peer is told and stops sending.
    void pause_file_transfer(str_arg transfer_id) {
        detail::check(rats_pause_file_transfer(handle(), transfer_id.c_str()),
                      "pause_file_transfer failed");
    }
    /// Lifts our own pause (a pause the peer set is the peer's: OPERATION_FAILED).
    void resume_file_transfer(str_arg transfer_id) {
        detail::check(rats_resume_file_transfer(handle(), transfer_id.c_str()),
                      "resume_file_transfer failed");
    }
    /// librats' progress keys as JSON text (transfer_id, filename, local_path, peer_id,
    /// bytes_transferred, total_bytes, completion_percentage, status 0..7, direction, plus
    /// rats' status_text, state, kind, files, ...); nothing for an unknown transfer.
    std::optional<std::string> get_file_transfer_progress_json(str_arg transfer_id) const {
        return detail::take_optional(
            rats_get_file_transfer_progress_json(handle(), transfer_id.c_str()));
    }
    /// rats' transfer counters as JSON text; RATS_ERROR_NOT_RUNNING before start().
    std::string get_file_transfer_statistics_json() const {
        return take(rats_get_file_transfer_statistics_json(handle()),
                    "get_file_transfer_statistics_json", RATS_ERROR_NOT_RUNNING);
    }

    // ---------------------------------------------------------- NAT traversal and STUN

    /// Asks the configured "stun": {"servers": [...]} (default: public ones; all at once, the
    /// first answer wins) for our public address and waits (about 8 s at most); the IP is
    /// remembered and ignored (connect_to_peer refuses it). RATS_ERROR_NOT_RUNNING before
    /// start(), OPERATION_FAILED without an answer or with the "stun" plugin off.
    void discover_and_ignore_public_ip() {
        detail::check(rats_discover_and_ignore_public_ip(handle(), nullptr, 0),
                      "discover_and_ignore_public_ip failed");
    }
    /// The same, asking `stun_server`:`stun_port` (0: 3478). librats' defaults (Google's
    /// server) are not taken: name the server, or use the form above.
    void discover_and_ignore_public_ip(str_arg stun_server, int stun_port = 3478) {
        detail::check(
            rats_discover_and_ignore_public_ip(handle(), stun_server.c_str(), stun_port),
            "discover_and_ignore_public_ip failed");
    }
    /// The last STUN answer, else what the "stun" plugin or connected peers saw; nothing when
    /// unknown (librats: "").
    std::optional<std::string> get_public_ip() const {
        return detail::take_optional(rats_get_public_ip(handle()));
    }
    /// RFC 5780 tests against the configured STUN servers (waits). UNKNOWN before start() or
    /// without servers.
    NatType detect_nat_type() { return static_cast<NatType>(rats_detect_nat_type(handle())); }
    /// librats' NatTypeInfo keys as JSON text (has_nat, filtering_behavior, mapping_behavior,
    /// preserves_port, hairpin_support, description, plus nat_type, local_address,
    /// mapped_address, checked); RATS_ERROR_NOT_RUNNING before start().
    std::string get_nat_characteristics_json() const {
        return take(rats_get_nat_characteristics_json(handle()),
                    "get_nat_characteristics_json", RATS_ERROR_NOT_RUNNING);
    }
    /// An IP of ours: connect_to_peer refuses it (text that is not an IP is ignored).
    void add_ignored_address(str_arg ip_address) {
        rats_add_ignored_address(handle(), ip_address.c_str());
    }
    /// rats' keys as JSON text (stun_available, public_address, nat_type, ignored_addresses,
    /// ...); RATS_ERROR_NOT_RUNNING before start().
    std::string get_nat_traversal_statistics_json() const {
        return take(rats_get_nat_traversal_statistics_json(handle()),
                    "get_nat_traversal_statistics_json", RATS_ERROR_NOT_RUNNING);
    }

    // ---------------------------------------------------------- ICE

    /// Our ICE offer for `peer_id` as JSON text (ufrag, pwd, candidates); send it to the peer
    /// over your signalling. Both sides make one; then each passes the other's to
    /// connect_with_ice or handle_ice_answer. Throws RATS_ERROR_OPERATION_FAILED when not
    /// running, for our own or a malformed peer id (the C API returns NULL for all).
    std::string create_ice_offer(str_arg peer_id) {
        return take(rats_create_ice_offer(handle(), peer_id.c_str()), "create_ice_offer");
    }
    /// With the peer's offer (and our own for it): connectivity checks, then a rats
    /// connection over QUIC on the nominated pair; waits. RATS_ERROR_OPERATION_FAILED without
    /// our offer or when the checks fail, JSON_PARSE for text that is not JSON,
    /// INVALID_PARAMETER for JSON that is not an offer.
    void connect_with_ice(str_arg peer_id, str_arg ice_offer_json) {
        detail::check(rats_connect_with_ice(handle(), peer_id.c_str(), ice_offer_json.c_str()),
                      "connect_with_ice failed");
    }
    /// The same as connect_with_ice, for the side that offered first.
    void handle_ice_answer(str_arg peer_id, str_arg ice_answer_json) {
        detail::check(rats_handle_ice_answer(handle(), peer_id.c_str(), ice_answer_json.c_str()),
                      "handle_ice_answer failed");
    }

    // ---------------------------------------------------------- data directory and peers

    /// Checks the data directory's config.json (created with defaults when missing);
    /// RATS_ERROR_OPERATION_FAILED without a data directory.
    void load_configuration() {
        detail::check(rats_load_configuration(handle()), "load_configuration failed");
    }
    /// Writes the setters' values into config.json (keeping its other keys).
    void save_configuration() {
        detail::check(rats_save_configuration(handle()), "save_configuration failed");
    }
    /// Before start(): the directory of identity.key, config.json and the peer store; the
    /// client takes its identity (the peer id changes). RATS_ERROR_OPERATION_FAILED while
    /// running or when another client uses it.
    void set_data_directory(str_arg directory_path) {
        detail::check(rats_set_data_directory(handle(), directory_path.c_str()),
                      "set_data_directory failed");
    }
    /// "" when none.
    std::string get_data_directory() const {
        return take(rats_get_data_directory(handle()), "get_data_directory");
    }
    /// Dials the last session's peers in the background; how many it will try.
    int load_and_reconnect_peers() { return rats_load_and_reconnect_peers(handle()); }
    /// True when the data directory has a readable peers.rats (rats loads it at start).
    bool load_historical_peers() { return rats_load_historical_peers(handle()) == 1; }
    /// Saves the connected peers to peers.rats now; false when that failed (no data
    /// directory). The C API gives a flag, not an error code, so this returns it.
    bool save_historical_peers() { return rats_save_historical_peers(handle()) == 1; }
    /// Stopped: removes peers.rats and peers_ever.rats; running: writes peers.rats empty.
    void clear_historical_peers() { rats_clear_historical_peers(handle()); }
    /// The peers of peers.rats (librats' get_historical_peers gives RatsPeer objects).
    std::vector<std::string> get_historical_peer_ids() const {
        int n = 0;
        char** ids = rats_get_historical_peer_ids(handle(), &n);
        return detail::take_string_array(ids, n);
    }

    // ---------------------------------------------------------- callbacks (empty: remove)
    // handle() comes first in each: a moved-from client has no state.

    void set_connection_callback(ConnectionCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->connection, std::move(cb), &detail::on_connection);
        rats_set_connection_callback(h, fn, state_.get());
    }
    void set_disconnect_callback(DisconnectCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->disconnect, std::move(cb), &detail::on_disconnect);
        rats_set_disconnect_callback(h, fn, state_.get());
    }
    void set_string_data_callback(StringDataCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->string_data, std::move(cb), &detail::on_string);
        rats_set_string_callback(h, fn, state_.get());
    }
    void set_binary_data_callback(BinaryDataCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->binary_data, std::move(cb), &detail::on_binary);
        rats_set_binary_callback(h, fn, state_.get());
    }
    void set_json_data_callback(JsonDataCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->json_data, std::move(cb), &detail::on_json);
        rats_set_json_callback(h, fn, state_.get());
    }
    /// Every discovered peer, from every source (librats' set_mdns_callback reports mDNS only).
    void set_peer_discovered_callback(PeerDiscoveredCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->peer_discovered, std::move(cb), &detail::on_peer_discovered);
        rats_set_peer_discovered_callback(h, fn, state_.get());
    }
    /// Offers of files to us (without this callback they are refused). If the callback throws
    /// without answering, the offer waits until answered or refused after
    /// transfer.offer_timeout_ms (120 s).
    void set_file_request_callback(FileRequestCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->file_request, std::move(cb), &detail::on_file_request);
        rats_set_file_request_callback(h, fn, state_.get());
    }
    /// Offers of directories to us (without this callback they are refused).
    void set_directory_request_callback(DirectoryRequestCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->directory_request, std::move(cb), &detail::on_directory_request);
        rats_set_directory_request_callback(h, fn, state_.get());
    }
    void set_file_progress_callback(FileProgressCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->file_progress, std::move(cb), &detail::on_file_progress);
        rats_set_file_progress_callback(h, fn, state_.get());
    }
    void set_directory_progress_callback(DirectoryProgressCallback cb) {
        rats_client_t h = handle();
        auto fn = store(state_->directory_progress, std::move(cb), &detail::on_directory_progress);
        rats_set_directory_progress_callback(h, fn, state_.get());
    }
    /// Gets what any callback of this client throws (on the callback thread); empty: the
    /// default, a line on stderr. Not in librats.
    void set_callback_error_handler(CallbackErrorHandler handler) {
        (void)handle();
        state_->error_handler.set(std::move(handler));
    }

private:
    rats_client_t handle() const {
        if (handle_ == nullptr) {
            throw Error(RATS_ERROR_INVALID_HANDLE, "rats: the client was moved from");
        }
        return handle_;
    }

    static std::string take(char* s, const char* what, int code = RATS_ERROR_OPERATION_FAILED) {
        return detail::take_string(s, what, code);
    }

    /// Puts `cb` into `slot` and returns what the C setter gets: `trampoline`, or NULL for an
    /// empty function (removing the function removes the C callback too). The C side's
    /// user_data is the state (or a topic's slot), stable across moves.
    template <class F, class Trampoline>
    static Trampoline store(detail::slot<F>& slot, F cb, Trampoline trampoline) {
        const bool present = static_cast<bool>(cb);
        slot.set(std::move(cb));
        return present ? trampoline : nullptr;
    }

    /// The topic's slots (made on first use when `create`, then kept: their address is the C
    /// user_data); NULL when absent and not `create`. Called with topics_mutex held.
    detail::topic_slot* find_topic_slot(const str_arg& topic, bool create) {
        auto it = state_->topics.find(std::string_view(topic.c_str()));
        if (it != state_->topics.end()) return it->second.get();
        if (!create) return nullptr; // nothing was set for the topic: nothing to remove
        auto ts = std::make_unique<detail::topic_slot>();
        ts->owner = state_.get();
        ts->message_name = std::string("topic_message:") + topic.c_str();
        ts->json_name = std::string("topic_json_message:") + topic.c_str();
        ts->joined_name = std::string("topic_peer_joined:") + topic.c_str();
        ts->left_name = std::string("topic_peer_left:") + topic.c_str();
        return state_->topics.emplace(topic.c_str(), std::move(ts)).first->second.get();
    }

    /// Stops and destroys the C client; frees the callback state unless called from one of
    /// this client's own callbacks (then that callback's frame frees it when it returns).
    void reset() noexcept {
        if (handle_ == nullptr) return;
        rats_client_t h = std::exchange(handle_, nullptr);
        rats_stop(h);
        rats_destroy(h);
        for (detail::frame* f = detail::current_frame(); f != nullptr; f = f->outer) {
            if (f->owner == state_.get()) {
                f->keep_alive = std::move(state_);
                return;
            }
        }
        state_.reset();
    }

    rats_client_t handle_ = nullptr;
    std::unique_ptr<detail::state> state_;
};

} // namespace rats
