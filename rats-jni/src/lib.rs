//! # rats-jni: rats for Java and Android
//!
//! The JNI library (`librats_jni.so`) behind the jar built from `java/` (see
//! `java/README.md`): the native methods of `io.rats.jni.NativeRats`, each a call of the C
//! API function of the same name (the `rats-ffi` crate, linked in as a Rust library), and the
//! callbacks into the client's `io.rats.jni.NativeListener`. Java code uses `io.rats.Client`
//! (the idiomatic API) or `com.librats.RatsClient` (librats' Java API, kept for those who
//! move).
//!
//! No Rust panic and no Java exception crosses the boundary: every JNI function is guarded
//! and returns its error value, and an exception a listener throws is printed and cleared.
//! Callbacks run on each client's callback thread, attached to the JVM as a daemon thread.
//!
//! The functions are called by the JVM; Rust code has no reason to call them (use the `rats`
//! crate). `cargo build --release -p rats-jni` builds the library; `java/build.sh jar` puts it
//! into the jar.

// A JNI library cannot be written without `unsafe`: calling the C API with pointers, reading
// its callback arguments, and `#[unsafe(no_mangle)]` entry points. Each block carries a
// `// SAFETY:` note.
#![allow(unsafe_code)]

mod args;
mod listener;
mod natives;
mod natives_rest;

pub use natives::*;
pub use natives_rest::*;
