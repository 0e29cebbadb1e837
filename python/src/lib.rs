//! `rats._rats`: the native part of rats' Python package (see `python/README.md`). The
//! package's modules (`rats/*.py`) give the Python API; this module runs rats' Rust client on
//! its own tokio runtime and hands results to asyncio (`runtime`), queues what arrives for
//! Python to take in batches (`stream`), and maps errors onto Python exceptions (`errors`).

mod client;
mod convert;
mod errors;
mod logging;
mod runtime;
mod stream;

use pyo3::prelude::*;

/// The module.
#[pymodule]
fn _rats(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::NativeClient>()?;
    m.add_class::<stream::NativeStream>()?;
    m.add_function(wrap_pyfunction!(logging::log_stream, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_shutdown, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    Ok(())
}
