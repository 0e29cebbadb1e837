//! # rats-ffi: librats' C API on rats
//!
//! This crate builds `librats.so` (SONAME `librats.so.0`) and `librats.a` (in the target
//! directory as `librats_ffi.so` and `librats_ffi.a`; `install.sh` installs them under their
//! librats names) with the functions,
//! types, error codes and callback typedefs of librats' C header `librats_c.h`, so a C program
//! (or a binding such as librats' Python ctypes package) written for librats compiles against
//! `include/librats_c.h`, links against this library and runs on rats' engine. What each
//! function does in rats, and how it differs from librats, is listed in the crate's
//! `README.md` (all 122 of librats' functions are there).
//!
//! The same functions are `pub` Rust items of this crate, so Rust can call them too (the
//! tests do). From Rust, prefer [`rats_engine::RatsClient`] directly; this is the C door.
//!
//! ```
//! use std::ffi::CStr;
//! use rats_ffi::*;
//!
//! let client = rats_create(0);
//! assert!(!client.is_null());
//! // Loopback only: no DHT, mDNS, STUN or port mapping (a rats extension of the C API).
//! let cfg = c"{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\", \"holepunch\"]}";
//! // SAFETY: `client` comes from rats_create and the strings are NUL-terminated.
//! unsafe {
//!     assert_eq!(rats_set_config_json(client, cfg.as_ptr()), RATS_SUCCESS);
//!     assert_eq!(rats_start(client), RATS_SUCCESS);
//!     assert!(rats_get_listen_port(client) > 0); // the real port, though we asked for 0
//!     let id = rats_get_our_peer_id(client);
//!     assert_eq!(CStr::from_ptr(id).to_bytes().len(), 64);
//!     rats_string_free(id);
//!     rats_stop(client);
//!     rats_destroy(client);
//! }
//! ```
//!
//! ## Safety
//!
//! Every function taking pointers is `unsafe` for Rust callers and follows C's rules: a
//! `const char*` argument is NULL or a NUL-terminated string that stays valid for the call; a
//! data pointer is NULL or valid for `size` bytes; an out-parameter is NULL or writable.
//! NULL is always checked and answered with librats' error code. A client handle is an opaque
//! number looked up in a table, never dereferenced: a stale or made-up handle gives
//! `RATS_ERROR_INVALID_HANDLE` (or 0/NULL), not undefined behaviour. Strings returned to the
//! caller come from `malloc` and are released with `free()` or [`rats_string_free`].
//!
//! ## Threads and callbacks
//!
//! All functions may be called from any thread, also at once. The library runs one private
//! tokio runtime (created on first use). Callbacks of a client run on that client's own
//! callback thread (`rats-cb`), one at a time, in arrival order per peer. A callback may call any
//! function of this API, including `rats_stop` and `rats_destroy` of its own client. No lock is
//! held while user code runs. After `rats_stop` (or `rats_destroy`) returns, no callback of
//! that client runs; when called from another thread they wait for a running callback to
//! return first.

// A C ABI cannot be written without `unsafe`: reading C strings and buffers, writing
// out-parameters, `malloc`ed results, calling C function pointers and `#[unsafe(no_mangle)]`.
// The workspace denies `unsafe_code`; this crate allows it. Each block is small and carries a
// `// SAFETY:` note; handles are table keys, never dereferenced.
#![allow(unsafe_code)]

mod api;
mod client;
mod dispatch;
mod engine;
mod send_cache;
mod util;

pub use api::*;
pub use rats_engine;
