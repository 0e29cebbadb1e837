//! rats' tracing events as Python log records: a tracing layer queues (level, logger name,
//! message) into the log stream, and the package's task hands them to `logging` (logger
//! `rats.<module path>`, e.g. `rats.rats_core.node`). Lossy: a flood of records drops the
//! newest rather than slowing the network.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::errors::RatsError;
use crate::stream::{Item, NativeStream, Queue};

/// The stream records go to (one per process: tracing has one global subscriber).
static SINK: Mutex<Option<Arc<Queue>>> = Mutex::new(None);
/// The installed subscriber's filter, to change it on a later call.
static INSTALLED: OnceLock<Result<reload::Handle<EnvFilter, Registry>, String>> = OnceLock::new();

struct PyLogLayer;

/// Python's level numbers.
fn py_level(l: &Level) -> u8 {
    match *l {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for PyLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(q) = SINK.lock().clone() else { return };
        let mut msg = Message::default();
        event.record(&mut msg);
        let meta = event.metadata();
        let logger = format!("rats.{}", meta.target().replace("::", "."));
        let _ = q.push(Item::Log(
            py_level(meta.level()),
            logger,
            msg.0.trim().to_string(),
        ));
    }
}

/// Starts delivering rats' log records at `filter` (`info`, `debug`, `rats_core=trace`,
/// ...) into a new stream of `(level, logger, message)`; the previous stream, if any, ends,
/// and the filter replaces the previous one.
/// Fails if another tracing subscriber was installed in this process first.
#[pyfunction]
#[pyo3(signature = (filter="info", capacity=10000))]
pub(crate) fn log_stream(filter: &str, capacity: usize) -> PyResult<NativeStream> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("bad log filter: {e}")))?;
    let mut fresh = Some(filter);
    let installed = INSTALLED.get_or_init(|| {
        let (layer, handle) = reload::Layer::new(fresh.take().unwrap_or_default());
        tracing_subscriber::registry()
            .with(layer)
            .with(PyLogLayer)
            .try_init()
            .map(|()| handle)
            .map_err(|e| e.to_string())
    });
    match (installed, fresh) {
        (Err(e), _) => {
            return Err(RatsError::new_err(format!(
                "rats' log records cannot reach Python: {e}"
            )));
        }
        (Ok(handle), Some(filter)) => {
            handle
                .reload(filter)
                .map_err(|e| RatsError::new_err(format!("log filter not changed: {e}")))?;
        }
        (Ok(_), None) => {}
    }
    let q = Queue::new(capacity, 16 * 1024 * 1024, false);
    if let Some(old) = SINK.lock().replace(q.clone()) {
        old.close();
    }
    Ok(NativeStream::new(q, None))
}
