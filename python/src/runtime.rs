//! The bridge between rats' tokio runtime and Python's asyncio.
//!
//! rats runs on one private multi-thread tokio runtime. An `async` method of the module
//! creates an asyncio future on the caller's running loop, runs the Rust future on the
//! runtime, and hands the outcome to the *completer* thread, which takes the GIL and resolves
//! the asyncio future with `loop.call_soon_threadsafe`. So a runtime thread never waits for
//! the GIL (a busy Python thread may hold it for milliseconds), and Python code only ever runs
//! on the loop's own thread.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};

use pyo3::BoundObject;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;

use crate::errors::RatsError;

/// Builds the Python value (or exception) of an outcome, with the GIL held.
pub(crate) type Outcome = Box<dyn FnOnce(Python<'_>) -> PyResult<PyObject> + Send>;

/// An asyncio future to resolve, on its loop.
pub(crate) struct Completion {
    pub loop_: PyObject,
    pub fut: PyObject,
    pub outcome: Outcome,
}

static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
static COMPLETER: OnceLock<Option<std::sync::Mutex<Sender<Completion>>>> = OnceLock::new();
/// Set at interpreter exit: completions are dropped instead of taking the GIL.
static EXITING: AtomicBool = AtomicBool::new(false);

/// The runtime, created on first use.
pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("rats-rt")
                .build()
                .ok()
        })
        .as_ref()
        .ok_or_else(|| RatsError::new_err("could not start rats' runtime threads"))
}

/// Whether the completer thread is inside `with_gil` (resolving a future).
static BUSY: parking_lot::Mutex<bool> = parking_lot::Mutex::new(false);
static IDLE: parking_lot::Condvar = parking_lot::Condvar::new();

/// Called by the package's `atexit` hook: from now on nothing takes the GIL from rats'
/// threads (the interpreter is going away), and a resolution in progress is waited for
/// (a thread that waits for the GIL while the interpreter finalizes is ended by Python with
/// `pthread_exit`, which cannot unwind through Rust frames).
#[pyfunction]
pub(crate) fn _shutdown(py: Python<'_>) {
    EXITING.store(true, Ordering::SeqCst);
    py.allow_threads(|| {
        let mut busy = BUSY.lock();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while *busy {
            if IDLE.wait_until(&mut busy, deadline).timed_out() {
                break;
            }
        }
    });
}

/// Whether the interpreter is exiting.
pub(crate) fn exiting() -> bool {
    EXITING.load(Ordering::SeqCst)
}

fn completer() -> Option<Sender<Completion>> {
    COMPLETER
        .get_or_init(|| {
            let (tx, rx) = channel::<Completion>();
            std::thread::Builder::new()
                .name("rats-py-completer".into())
                .spawn(move || {
                    for c in rx {
                        {
                            // Checked under the lock `_shutdown` waits on: once it has set
                            // EXITING, no new resolution starts.
                            let mut busy = BUSY.lock();
                            if exiting() {
                                continue;
                            }
                            *busy = true;
                        }
                        Python::with_gil(|py| resolve_on_loop(py, c));
                        *BUSY.lock() = false;
                        IDLE.notify_all();
                    }
                })
                .ok()?;
            Some(std::sync::Mutex::new(tx))
        })
        .as_ref()
        .and_then(|m| m.lock().ok().map(|tx| tx.clone()))
}

fn resolve_on_loop(py: Python<'_>, c: Completion) {
    let (ok, value) = match (c.outcome)(py) {
        Ok(v) => (true, v),
        Err(e) => (false, e.into_value(py).into_any()),
    };
    let Ok(resolve) = resolver(py) else { return };
    // A closed loop refuses: the awaiting code is gone, nothing to tell.
    let _ = c
        .loop_
        .call_method1(py, "call_soon_threadsafe", (resolve, c.fut, ok, value));
}

static RESOLVE: GILOnceCell<PyObject> = GILOnceCell::new();

fn resolver(py: Python<'_>) -> PyResult<&PyObject> {
    RESOLVE.get_or_try_init(py, || {
        Ok(wrap_pyfunction!(_resolve, py)?.into_any().unbind())
    })
}

/// Resolves `fut` unless it is done already (cancelled by its awaiter, for example).
#[pyfunction]
fn _resolve(fut: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if fut.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if ok {
        fut.call_method1("set_result", (value,))?;
    } else {
        fut.call_method1("set_exception", (value,))?;
    }
    Ok(())
}

/// Hands `c` to the completer thread (dropped when the interpreter exits).
pub(crate) fn complete(c: Completion) {
    if exiting() {
        return;
    }
    if let Some(tx) = completer() {
        let _ = tx.send(c);
    }
}

/// The running asyncio loop and a new future on it.
pub(crate) fn new_future(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Bound<'_, PyAny>)> {
    let loop_ = py.import("asyncio")?.call_method0("get_running_loop")?;
    let fut = loop_.call_method0("create_future")?;
    Ok((loop_, fut))
}

/// Runs `fut` on rats' runtime; returns an asyncio future (of the running loop) for its
/// outcome, converted to Python with `into_py`.
pub(crate) fn spawn<'py, F, T>(
    py: Python<'py>,
    fut: F,
    into_py: impl FnOnce(Python<'_>, T) -> PyResult<PyObject> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let (loop_, pyfut) = new_future(py)?;
    let (loop_, handle) = (loop_.unbind(), pyfut.clone().unbind());
    runtime()?.spawn(async move {
        let result = fut.await;
        complete(Completion {
            loop_,
            fut: handle,
            outcome: Box::new(move |py| result.and_then(|v| into_py(py, v))),
        });
    });
    Ok(pyfut)
}

/// [`spawn`] for outcomes that convert to Python by themselves.
pub(crate) fn spawn_into<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    spawn(py, fut, |py, v| {
        v.into_pyobject(py)
            .map(|b| b.into_any().unbind())
            .map_err(Into::into)
    })
}
