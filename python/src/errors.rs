//! Python exceptions: `RatsError` and its subclasses, and how rats' Rust errors map onto
//! them. The message is rats' own (`Display` with its sources).

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

use rats::core::connect::ConnectError as RustConnectError;

create_exception!(
    _rats,
    RatsError,
    PyException,
    "Base class of every error rats raises."
);
create_exception!(
    _rats,
    ConnectError,
    RatsError,
    "A connection could not be made or was lost (dial failure, timeout, peer limit, peer gone)."
);
create_exception!(
    _rats,
    ProtocolError,
    ConnectError,
    "The other side spoke something else: the encrypted handshake or rats' hello failed, or \
     it is not the peer that was expected."
);
create_exception!(
    _rats,
    TransferError,
    RatsError,
    "A file or directory transfer failed, was refused or cancelled."
);
create_exception!(
    _rats,
    ConfigError,
    RatsError,
    "A setting was refused (a bad value, a data directory in use, an unreadable config file)."
);
create_exception!(
    _rats,
    NotRunningError,
    RatsError,
    "The client is closed (or a feature it needs was switched off)."
);

/// The full message of an error: its `Display`, then each source's.
pub(crate) fn message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The Python exception for a connection error.
pub(crate) fn connect_error(e: &RustConnectError) -> PyErr {
    let msg = message(e);
    match e {
        RustConnectError::Handshake(_)
        | RustConnectError::BadHello(_)
        | RustConnectError::UnexpectedPeer(_) => ProtocolError::new_err(msg),
        RustConnectError::BadAddress(_) | RustConnectError::NoAddress => PyValueError::new_err(msg),
        _ => ConnectError::new_err(msg),
    }
}

/// The Python exception for an error of rats' client.
pub(crate) fn to_py(e: rats::RatsError) -> PyErr {
    use rats::RatsError as E;
    let msg = message(&e);
    match &e {
        E::Connect(c) => connect_error(c),
        E::Message(m) => message_error(m, msg),
        E::DataDir(_) | E::ConfigFile(_) | E::Config { .. } => ConfigError::new_err(msg),
        E::PluginDisabled(_) | E::NotRunning(_) => NotRunningError::new_err(msg),
        E::Address(_) | E::InfoHash(_) => PyValueError::new_err(msg),
        _ => RatsError::new_err(msg),
    }
}

/// The Python exception for a messaging error.
pub(crate) fn message_error(e: &rats::core::messaging::MessageError, msg: String) -> PyErr {
    use rats::core::messaging::MessageError as M;
    use rats::core::service::SendError as S;
    match e {
        M::Send(S::NotConnected(_) | S::Replaced(_)) => ConnectError::new_err(msg),
        M::Send(S::TooLarge) => PyValueError::new_err(msg),
        M::Send(S::NodeStopped) => NotRunningError::new_err(msg),
        _ => RatsError::new_err(msg),
    }
}

/// The Python exception for a transfer error.
pub(crate) fn transfer_error(e: rats::rats_transfer::TransferError) -> PyErr {
    TransferError::new_err(message(&e))
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RatsError", py.get_type::<RatsError>())?;
    m.add("ConnectError", py.get_type::<ConnectError>())?;
    m.add("ProtocolError", py.get_type::<ProtocolError>())?;
    m.add("TransferError", py.get_type::<TransferError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("NotRunningError", py.get_type::<NotRunningError>())?;
    Ok(())
}
