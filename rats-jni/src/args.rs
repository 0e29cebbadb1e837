//! Crossing the boundary: the panic guard, handles, Java strings in and C strings out.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use jni::JNIEnv;
use jni::objects::{JObject, JString};
use jni::sys::{jlong, jobjectArray, jstring};

/// Runs `f`, turning a panic into `default`: no Rust panic unwinds into the JVM.
pub(crate) fn guard<R>(default: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// The C API's client handle for a Java `long` (an opaque table key, never dereferenced).
pub(crate) fn handle(h: jlong) -> *mut c_void {
    std::ptr::without_provenance_mut(h as usize)
}

/// A Java string argument as a C string: `None` for null, for a string the JVM cannot give,
/// or one with a NUL inside (the C API then answers `RATS_ERROR_INVALID_PARAMETER`).
pub(crate) fn c_arg(env: &mut JNIEnv, s: &JString) -> Option<CString> {
    if s.is_null() {
        return None;
    }
    let text: String = env.get_string(s).ok()?.into();
    CString::new(text).ok()
}

/// The pointer of an optional C string argument (NULL for `None`).
pub(crate) fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

/// A Java string from a C string the callee does not own (a callback argument); `null` for
/// NULL.
pub(crate) fn java_str<'l>(
    env: &mut JNIEnv<'l>,
    p: *const c_char,
) -> jni::errors::Result<JObject<'l>> {
    if p.is_null() {
        return Ok(JObject::null());
    }
    // SAFETY: a non-NULL NUL-terminated string that the C API keeps valid for the call.
    let text = unsafe { CStr::from_ptr(p) }.to_string_lossy();
    Ok(env.new_string(text)?.into())
}

/// A Java string from a `malloc`ed C string returned by the C API, which is freed; `null`
/// for NULL (or when the JVM could not make the string).
pub(crate) fn take_string(env: &mut JNIEnv, p: *mut c_char) -> jstring {
    if p.is_null() {
        return std::ptr::null_mut();
    }
    let out = java_str(env, p).map_or(std::ptr::null_mut(), JObject::into_raw);
    // SAFETY: a string the C API returned to us; freed once, here.
    unsafe { rats_ffi::rats_string_free(p) };
    out
}

/// A Java `String[]` from a `malloc`ed array of `count` `malloc`ed strings returned by the C
/// API, all freed; an empty array for NULL.
pub(crate) fn take_string_array(
    env: &mut JNIEnv,
    list: *mut *mut c_char,
    count: c_int,
) -> jobjectArray {
    let n = if list.is_null() {
        0
    } else {
        usize::try_from(count).unwrap_or(0)
    };
    let mut strings = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: the C API returned `count` valid entries.
        strings.push(unsafe { *list.add(i) });
    }
    let array = env
        .new_object_array(
            i32::try_from(n).unwrap_or(0),
            "java/lang/String",
            JObject::null(),
        )
        .ok();
    for (i, &s) in strings.iter().enumerate() {
        if let Some(array) = &array
            && let Ok(js) = java_str(env, s)
        {
            let _ = env.set_object_array_element(array, i32::try_from(i).unwrap_or(0), &js);
            let _ = env.delete_local_ref(js);
        }
        // SAFETY: each entry was returned to us; freed once.
        unsafe { rats_ffi::rats_string_free(s) };
    }
    if !list.is_null() {
        // SAFETY: the array itself, returned to us; freed once.
        unsafe { rats_ffi::rats_string_free(list.cast()) };
    }
    array.map_or(std::ptr::null_mut(), |a| a.into_raw())
}
