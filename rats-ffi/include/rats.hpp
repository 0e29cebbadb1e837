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
 * (std::string), not nlohmann::json; binary data is a `rats::bytes_view` (a span of bytes
 * that a std::vector<uint8_t>, std::string, std::array or pointer and size convert to).
 *
 * ERRORS: exceptions. Every method that fails throws `rats::Error`, a std::system_error whose
 * code() is in `rats::error_category()` and holds the C API's rats_error_t value
 * (`e.code() == rats::errc::peer_not_found`, or `e.c_code() == RATS_ERROR_PEER_NOT_FOUND`).
 * Methods that return void in librats, or a bool that only said "it worked", return void
 * here and throw on failure. Counts (broadcasts, peers) are returned as in the C API, where
 * 0 also covers "not running". A method called on a moved-from client throws
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
 * the callback's name ("string_data", "message:<type>", ...), to the client's callback error
 * handler (set_callback_error_handler), on the callback thread. Without a handler, a line
 * "rats: exception in the <name> callback: <what()>" goes to stderr. Either way the event is
 * dropped, the client keeps running and later callbacks are called as usual. An exception
 * thrown by the error handler itself is caught too and reported to stderr. Nothing calls
 * std::terminate.
 *
 * WHAT IS WRAPPED: the C API's functions of today (see rats-ffi/README.md, "C++"). To add
 * one: a method that calls it through `handle()` and `detail::check()` (error codes), or
 * for a new callback type a `detail::slot` in `detail::state`, a trampoline and a setter
 * following set_string_data_callback.
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
/// Gets what a callback threw; `callback` names it ("string_data", "message:<type>", ...).
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

/// Everything the C callbacks reach through user_data. Heap-allocated once per client, so
/// moving a Client does not move it; freed after rats_destroy (no callback runs then).
struct state {
    slot<ConnectionCallback> connection;
    slot<DisconnectCallback> disconnect;
    slot<StringDataCallback> string_data;
    slot<BinaryDataCallback> binary_data;
    slot<JsonDataCallback> json_data;
    slot<CallbackErrorHandler> error_handler;
    std::mutex messages_mutex;
    std::map<std::string, std::unique_ptr<message_slot>, std::less<>> messages;
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

} // namespace detail

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

    /// The C handle (for C functions this wrapper does not cover yet); NULL after a move.
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
        detail::c_string_ptr p(rats_get_peer_info_json(handle(), peer_id.c_str()));
        if (!p) return std::nullopt;
        return std::string(p.get());
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

    // ---------------------------------------------------------- callbacks (empty: remove)

    void set_connection_callback(ConnectionCallback cb) {
        set(&detail::state::connection, std::move(cb), rats_set_connection_callback, &detail::on_connection);
    }
    void set_disconnect_callback(DisconnectCallback cb) {
        set(&detail::state::disconnect, std::move(cb), rats_set_disconnect_callback, &detail::on_disconnect);
    }
    void set_string_data_callback(StringDataCallback cb) {
        set(&detail::state::string_data, std::move(cb), rats_set_string_callback, &detail::on_string);
    }
    void set_binary_data_callback(BinaryDataCallback cb) {
        set(&detail::state::binary_data, std::move(cb), rats_set_binary_callback, &detail::on_binary);
    }
    void set_json_data_callback(JsonDataCallback cb) {
        set(&detail::state::json_data, std::move(cb), rats_set_json_callback, &detail::on_json);
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

    static std::string take(char* s, const char* what) {
        detail::c_string_ptr p(s);
        if (!p) throw Error(RATS_ERROR_OPERATION_FAILED, std::string("rats: ") + what + " failed");
        return std::string(p.get());
    }

    template <class F, class Setter, class Trampoline>
    void set(detail::slot<F> detail::state::*slot, F cb, Setter c_setter, Trampoline trampoline) {
        rats_client_t h = handle(); // first: a moved-from client has no state
        const bool present = static_cast<bool>(cb);
        (state_.get()->*slot).set(std::move(cb));
        // The C side gets the trampoline with the state (stable across moves) as user_data;
        // removing the function removes the C callback too.
        c_setter(h, present ? trampoline : nullptr, state_.get());
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
