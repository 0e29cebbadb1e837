//! The boundary helpers: panic guard, the private runtime, C strings in and out.

use std::ffi::{CStr, c_char, c_int};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

/// Error codes (librats' `rats_error_t`).
pub(crate) type Code = c_int;

/// Runs `f`, turning a panic into `default` (no panic crosses into C).
pub(crate) fn guard<R>(default: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();

/// The library's tokio runtime (multi-thread), created on first use; `None` if the system
/// refused to create it.
pub(crate) fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("rats-rt")
                .build()
                .ok()
        })
        .as_ref()
}

/// Runs `fut` on the library runtime and waits for it. Called from inside some tokio runtime
/// (a Rust program using the rlib), it waits on a scoped helper thread instead, because tokio
/// refuses to block a runtime thread on another runtime.
pub(crate) fn block_on<F>(fut: F) -> Option<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Some(rt.block_on(fut));
    }
    std::thread::scope(|s| s.spawn(|| rt.block_on(fut)).join()).ok()
}

/// Reads a C string argument: `None` for NULL or invalid UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract (see above).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().ok()
}

/// Copies `s` into a `malloc`ed NUL-terminated string (cut at the first NUL inside `s`, as C
/// would read it); NULL if allocation fails.
pub(crate) fn c_string(s: &str) -> *mut c_char {
    let bytes = s.as_bytes();
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    // SAFETY: malloc has no preconditions; the result is checked for NULL before use.
    let p = unsafe { libc::malloc(len + 1) }.cast::<u8>();
    if p.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: `p` has room for len + 1 bytes; source and destination do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, len);
        *p.add(len) = 0;
    }
    p.cast()
}

/// A `malloc`ed array of `malloc`ed strings; writes the count to `count`. An empty list is
/// NULL with count 0 (also when allocation fails).
///
/// # Safety
/// `count` is NULL or writable.
pub(crate) unsafe fn c_string_array(items: &[String], count: *mut c_int) -> *mut *mut c_char {
    // SAFETY: the caller's contract for `count`.
    unsafe { set_out(count, 0) };
    if items.is_empty() {
        return std::ptr::null_mut();
    }
    let Ok(n) = c_int::try_from(items.len()) else {
        return std::ptr::null_mut();
    };
    let size = std::mem::size_of::<*mut c_char>() * items.len();
    // SAFETY: malloc has no preconditions; the result is checked for NULL before use.
    let arr = unsafe { libc::malloc(size) }.cast::<*mut c_char>();
    if arr.is_null() {
        return std::ptr::null_mut();
    }
    for (i, item) in items.iter().enumerate() {
        let s = c_string(item);
        if s.is_null() {
            for j in 0..i {
                // SAFETY: entries 0..i were written below and came from malloc.
                unsafe { libc::free((*arr.add(j)).cast()) };
            }
            // SAFETY: `arr` came from malloc above.
            unsafe { libc::free(arr.cast()) };
            return std::ptr::null_mut();
        }
        // SAFETY: i < items.len(), the array's length.
        unsafe { *arr.add(i) = s };
    }
    // SAFETY: the caller's contract for `count`.
    unsafe { set_out(count, n) };
    arr
}

/// Writes `v` to an out-parameter unless it is NULL.
///
/// # Safety
/// `p` is NULL or writable.
pub(crate) unsafe fn set_out<T>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { p.write(v) };
    }
}
