//! Callbacks into Java. Each client handle has a [`Slot`] (made when the client is created,
//! freed when it is destroyed) whose address is the `user_data` of every C callback; it holds
//! the current Java listener. A callback runs on the client's callback thread ("rats-cb"),
//! attached to the JVM as a daemon thread (the JVM may exit with clients open), inside a
//! local reference frame (so a long stream of messages leaks no local references), and
//! clears any exception the listener threw (printed, never rethrown into Rust).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::{Arc, LazyLock};

use jni::objects::{GlobalRef, JMethodID, JObject, JValue};
use jni::signature::{Primitive, ReturnType};
use jni::sys::jlong;
use jni::{JNIEnv, JavaVM};
use parking_lot::{Mutex, RwLock};

use crate::args::{guard, java_str};

/// The `NativeListener` methods, looked up once per listener (a lookup and a signature
/// parse per message cost more than the call).
struct Methods {
    connected: JMethodID,
    disconnected: JMethodID,
    string: JMethodID,
    binary: JMethodID,
    json: JMethodID,
    message: JMethodID,
    topic_message: JMethodID,
    file_request: JMethodID,
    file_progress: JMethodID,
    peer_discovered: JMethodID,
}

/// A Java listener, its methods and the VM it lives in.
pub(crate) struct Listener {
    vm: JavaVM,
    /// Also keeps the listener's class (and so the method ids) loaded.
    obj: GlobalRef,
    methods: Methods,
}

impl Listener {
    /// Wraps `obj` (a `NativeListener`).
    pub fn new(env: &mut JNIEnv, obj: &JObject) -> jni::errors::Result<Self> {
        let class = env.get_object_class(obj)?;
        let mut id = |name: &str, args: &[&str]| env.get_method_id(&class, name, sig(args, "V"));
        let methods = Methods {
            connected: id("onConnected", &[STR])?,
            disconnected: id("onDisconnected", &[STR])?,
            string: id("onString", &[STR, STR])?,
            binary: id("onBinary", &[STR, "[B"])?,
            json: id("onJson", &[STR, STR])?,
            message: id("onMessage", &[STR, STR, STR])?,
            topic_message: id("onTopicMessage", &[STR, STR, STR])?,
            file_request: id("onFileRequest", &[STR, STR, STR, STR, "Z"])?,
            file_progress: id("onFileProgress", &[STR, "I", STR])?,
            peer_discovered: id("onPeerDiscovered", &[STR, "I", STR])?,
        };
        Ok(Listener {
            vm: env.get_java_vm()?,
            obj: env.new_global_ref(obj)?,
            methods,
        })
    }
}

/// This thread's JNI environment, attaching it first (as a daemon thread named `rats-cb`,
/// so Java shows the name the docs give, and the JVM may exit while it is attached).
fn attach(vm: &JavaVM) -> Option<JNIEnv<'_>> {
    if let Ok(env) = vm.get_env() {
        return Some(env);
    }
    let raw = vm.get_java_vm_pointer();
    let mut env_ptr: *mut c_void = std::ptr::null_mut();
    let mut args = jni::sys::JavaVMAttachArgs {
        version: jni::sys::JNI_VERSION_1_6,
        name: c"rats-cb".as_ptr().cast_mut(),
        group: std::ptr::null_mut(),
    };
    // SAFETY: `raw` is the VM's invocation interface (valid while the VM lives, and a
    // listener exists only in a live VM); the arguments are valid for the call.
    let attached = unsafe {
        let attach = (**raw).AttachCurrentThreadAsDaemon?;
        attach(raw, &mut env_ptr, std::ptr::from_mut(&mut args).cast())
    };
    if attached != jni::sys::JNI_OK {
        return None;
    }
    vm.get_env().ok()
}

/// Calls a `void` listener method with `args`.
fn invoke(
    env: &mut JNIEnv,
    obj: &JObject,
    id: JMethodID,
    args: &[JValue],
) -> jni::errors::Result<()> {
    let raw: Vec<jni::sys::jvalue> = args.iter().map(JValue::as_jni).collect();
    // SAFETY: `id` is a method of `obj`'s class with these argument types returning void (its
    // signature was checked when it was looked up).
    unsafe {
        env.call_method_unchecked(obj, id, ReturnType::Primitive(Primitive::Void), &raw)?;
    }
    Ok(())
}

/// The current listener of one client.
#[derive(Default)]
pub(crate) struct Slot {
    current: RwLock<Option<Arc<Listener>>>,
}

/// What `rats_on_message` callbacks need besides the slot: the message type.
pub(crate) struct TypedCtx {
    slot: *const Slot,
    kind: CString,
}

// SAFETY: `slot` points into a `Registration` that outlives every callback that can see this
// context (see `Registration`); it is only read.
unsafe impl Send for TypedCtx {}

/// A client's callback state, kept until the client is destroyed (after `rats_destroy`
/// returns no callback of it runs; from inside one, until that callback returns).
#[derive(Default)]
pub(crate) struct Registration {
    pub slot: Box<Slot>,
    /// Boxed: each context's address is a callback's `user_data` and must not move when the
    /// vector grows.
    #[allow(clippy::vec_box)]
    pub typed: Vec<Box<TypedCtx>>,
}

// SAFETY: see `TypedCtx`.
unsafe impl Send for Registration {}

static REGISTRATIONS: LazyLock<Mutex<HashMap<jlong, Registration>>> =
    LazyLock::new(Default::default);

thread_local! {
    /// How deep this thread is inside callbacks.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Registrations of clients destroyed from inside a callback: dropped when it returns.
    static DEFERRED: RefCell<Vec<Registration>> = const { RefCell::new(Vec::new()) };
}

/// Makes the registration of a new client.
pub(crate) fn register(handle: jlong) {
    REGISTRATIONS.lock().insert(handle, Registration::default());
}

/// The `user_data` of `handle`'s callbacks (NULL: no such client).
pub(crate) fn slot_ptr(handle: jlong) -> *mut c_void {
    REGISTRATIONS
        .lock()
        .get(&handle)
        .map_or(std::ptr::null_mut(), |r| {
            std::ptr::from_ref::<Slot>(&r.slot).cast_mut().cast()
        })
}

/// Sets (or clears) the listener of `handle`; false if there is no such client.
pub(crate) fn set_listener(handle: jlong, listener: Option<Listener>) -> bool {
    let regs = REGISTRATIONS.lock();
    let Some(r) = regs.get(&handle) else {
        return false;
    };
    *r.slot.current.write() = listener.map(Arc::new);
    true
}

/// The `user_data` for typed messages of `kind` (kept until the client is destroyed).
pub(crate) fn typed_ctx(handle: jlong, kind: CString) -> *mut c_void {
    let mut regs = REGISTRATIONS.lock();
    let Some(r) = regs.get_mut(&handle) else {
        return std::ptr::null_mut();
    };
    let slot = std::ptr::from_ref::<Slot>(&r.slot);
    r.typed.push(Box::new(TypedCtx { slot, kind }));
    // The box's heap address: it stays put while the box lives in the registration.
    r.typed.last().map_or(std::ptr::null_mut(), |ctx| {
        std::ptr::from_ref::<TypedCtx>(ctx).cast_mut().cast()
    })
}

/// Forgets a client after it was destroyed; from inside a callback, when it returns.
pub(crate) fn unregister(handle: jlong) {
    let Some(reg) = REGISTRATIONS.lock().remove(&handle) else {
        return;
    };
    if DEPTH.with(Cell::get) > 0 {
        DEFERRED.with(|d| d.borrow_mut().push(reg));
    } else {
        drop(reg);
    }
}

/// Calls the listener behind `slot` with `f`, on this (callback) thread.
fn call(
    slot: *const Slot,
    f: impl FnOnce(&mut JNIEnv, &JObject, &Methods) -> jni::errors::Result<()>,
) {
    if slot.is_null() {
        return;
    }
    // SAFETY: a slot of a live registration (see `Registration`).
    let listener = unsafe { &*slot }.current.read().clone();
    let Some(listener) = listener else { return };
    let Some(mut env) = attach(&listener.vm) else {
        return;
    };
    DEPTH.with(|d| d.set(d.get() + 1));
    let _ = env.with_local_frame(16, |env| f(env, listener.obj.as_obj(), &listener.methods));
    if env.exception_check().unwrap_or(false) {
        // The listener threw: shown on stderr, then cleared; the event is dropped.
        let _ = env.exception_describe();
        let _ = env.exception_clear();
    }
    DEPTH.with(|d| d.set(d.get() - 1));
    if DEPTH.with(Cell::get) == 0 {
        let done = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
        drop(done);
    }
}

const STR: &str = "Ljava/lang/String;";

fn sig(args: &[&str], ret: &str) -> String {
    format!("({}){ret}", args.concat())
}

/// `rats_connection_cb`.
pub(crate) unsafe extern "C" fn on_connected(ud: *mut c_void, peer: *const c_char) {
    guard((), || {
        call(ud.cast(), |env, obj, m| {
            let p = java_str(env, peer)?;
            invoke(env, obj, m.connected, &[JValue::Object(&p)])?;
            Ok(())
        })
    })
}

/// `rats_disconnect_cb`.
pub(crate) unsafe extern "C" fn on_disconnected(ud: *mut c_void, peer: *const c_char) {
    guard((), || {
        call(ud.cast(), |env, obj, m| {
            let p = java_str(env, peer)?;
            invoke(env, obj, m.disconnected, &[JValue::Object(&p)])?;
            Ok(())
        })
    })
}

/// `rats_string_cb`.
pub(crate) unsafe extern "C" fn on_string(
    ud: *mut c_void,
    peer: *const c_char,
    msg: *const c_char,
) {
    guard((), || {
        call(ud.cast(), |env, obj, m| {
            let (p, text) = (java_str(env, peer)?, java_str(env, msg)?);
            invoke(
                env,
                obj,
                m.string,
                &[JValue::Object(&p), JValue::Object(&text)],
            )?;
            Ok(())
        })
    })
}

/// `rats_binary_cb`.
pub(crate) unsafe extern "C" fn on_binary(
    ud: *mut c_void,
    peer: *const c_char,
    data: *const c_void,
    size: usize,
) {
    guard((), || {
        call(ud.cast(), |env, obj, m| {
            let bytes: &[u8] = if data.is_null() || size == 0 {
                &[]
            } else {
                // SAFETY: the C API passes `size` valid bytes for the call.
                unsafe { std::slice::from_raw_parts(data.cast(), size) }
            };
            let p = java_str(env, peer)?;
            let d = env.byte_array_from_slice(bytes)?;
            invoke(
                env,
                obj,
                m.binary,
                &[JValue::Object(&p), JValue::Object(&d)],
            )?;
            Ok(())
        })
    })
}

/// `rats_json_cb`.
pub(crate) unsafe extern "C" fn on_json(ud: *mut c_void, peer: *const c_char, json: *const c_char) {
    guard((), || {
        call(ud.cast(), |env, obj, m| {
            let (p, j) = (java_str(env, peer)?, java_str(env, json)?);
            invoke(env, obj, m.json, &[JValue::Object(&p), JValue::Object(&j)])?;
            Ok(())
        })
    })
}

/// `rats_message_cb` (`ud`: a [`TypedCtx`]).
pub(crate) unsafe extern "C" fn on_message(
    ud: *mut c_void,
    peer: *const c_char,
    json: *const c_char,
) {
    guard((), || {
        if ud.is_null() {
            return;
        }
        // SAFETY: a context of a live registration (see `Registration`).
        let ctx = unsafe { &*ud.cast::<TypedCtx>() };
        call(ctx.slot, |env, obj, m| {
            let t = java_str(env, ctx.kind.as_ptr())?;
            let (p, j) = (java_str(env, peer)?, java_str(env, json)?);
            invoke(
                env,
                obj,
                m.message,
                &[JValue::Object(&t), JValue::Object(&p), JValue::Object(&j)],
            )?;
            Ok(())
        })
    })
}

/// `rats_topic_message_cb`.
pub(crate) unsafe extern "C" fn on_topic_message(
    ud: *mut c_void,
    peer: *const c_char,
    topic: *const c_char,
    msg: *const c_char,
) {
    guard((), || {
        call(ud.cast(), |env, obj, m| {
            let (p, t, text) = (
                java_str(env, peer)?,
                java_str(env, topic)?,
                java_str(env, msg)?,
            );
            invoke(
                env,
                obj,
                m.topic_message,
                &[
                    JValue::Object(&p),
                    JValue::Object(&t),
                    JValue::Object(&text),
                ],
            )?;
            Ok(())
        })
    })
}

fn file_request(
    ud: *mut c_void,
    peer: *const c_char,
    id: *const c_char,
    remote: *const c_char,
    name: *const c_char,
    directory: bool,
) {
    call(ud.cast(), |env, obj, m| {
        let (p, i) = (java_str(env, peer)?, java_str(env, id)?);
        let (r, n) = (java_str(env, remote)?, java_str(env, name)?);
        invoke(
            env,
            obj,
            m.file_request,
            &[
                JValue::Object(&p),
                JValue::Object(&i),
                JValue::Object(&r),
                JValue::Object(&n),
                JValue::Bool(u8::from(directory)),
            ],
        )?;
        Ok(())
    })
}

/// `rats_file_request_cb`.
pub(crate) unsafe extern "C" fn on_file_request(
    ud: *mut c_void,
    peer: *const c_char,
    id: *const c_char,
    remote: *const c_char,
    name: *const c_char,
) {
    guard((), || file_request(ud, peer, id, remote, name, false))
}

/// `rats_directory_request_cb`.
pub(crate) unsafe extern "C" fn on_directory_request(
    ud: *mut c_void,
    peer: *const c_char,
    id: *const c_char,
    remote: *const c_char,
    name: *const c_char,
) {
    guard((), || file_request(ud, peer, id, remote, name, true))
}

/// `rats_file_progress_cb`.
pub(crate) unsafe extern "C" fn on_file_progress(
    ud: *mut c_void,
    id: *const c_char,
    percent: c_int,
    status: *const c_char,
) {
    guard((), || {
        call(ud.cast(), |env, obj, m| {
            let (i, s) = (java_str(env, id)?, java_str(env, status)?);
            invoke(
                env,
                obj,
                m.file_progress,
                &[JValue::Object(&i), JValue::Int(percent), JValue::Object(&s)],
            )?;
            Ok(())
        })
    })
}

/// `rats_peer_discovered_cb`.
pub(crate) unsafe extern "C" fn on_peer_discovered(
    ud: *mut c_void,
    host: *const c_char,
    port: c_int,
    source: *const c_char,
) {
    guard((), || {
        call(ud.cast(), |env, obj, m| {
            let (h, s) = (java_str(env, host)?, java_str(env, source)?);
            invoke(
                env,
                obj,
                m.peer_discovered,
                &[JValue::Object(&h), JValue::Int(port), JValue::Object(&s)],
            )?;
            Ok(())
        })
    })
}
