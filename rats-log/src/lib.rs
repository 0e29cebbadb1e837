//! # rats-log
//!
//! The logging of rats: this crate installs the [`tracing`] subscriber, and it is the only
//! crate of the workspace that does. The other crates only emit events and spans (a
//! `peer{peer=… conn=…}` span around everything a connection does, a transfer span around a
//! file transfer), so every log line says which peer or transfer it is about.
//!
//! It gives the logging controls librats users know, in config ([`LogConfig`], the `log`
//! section of `config.json`) and at run time ([`LogHandle`]):
//!
//! | control | config | at run time |
//! |---|---|---|
//! | on/off | [`enabled`](LogConfig::enabled) | [`LogHandle::set_enabled`] |
//! | level `trace`..`error` (also from a string, any case) | [`level`](LogConfig::level) | [`LogHandle::set_level`] |
//! | per-module or per-span levels | [`filter`](LogConfig::filter) (`EnvFilter` directives) | [`LogHandle::reconfigure`] |
//! | output to stderr and/or a file | [`stderr`](LogConfig::stderr), [`file`](LogConfig::file) | [`LogHandle::reconfigure`] |
//! | colours on/off/auto | [`colors`](LogConfig::colors) | [`LogHandle::reconfigure`] |
//! | timestamps on/off | [`timestamps`](LogConfig::timestamps) | [`LogHandle::reconfigure`] |
//! | size-based rotation | [`rotation_size`](LogConfig::rotation_size), [`retention_count`](LogConfig::retention_count) | [`LogHandle::reconfigure`] |
//! | empty the log file | | [`LogHandle::clear_log_file`] |
//!
//! ```
//! use rats_log::{LogConfig, LogLevel};
//!
//! # fn main() -> Result<(), rats_log::LogError> {
//! let dir = std::env::temp_dir().join(format!("rats-log-doc-{}", std::process::id()));
//! let config = LogConfig {
//!     level: LogLevel::Info,
//!     file: Some(dir.join("rats.log")),
//!     rotation_size: 1024 * 1024, // rats.log → rats.log.1 at 1 MiB
//!     retention_count: 3,         // keep rats.log.1 .. rats.log.3
//!     ..LogConfig::default()
//! };
//! let log = rats_log::init(&config)?; // installs the global subscriber
//!
//! tracing::info!("node started");
//! {
//!     let _peer = tracing::info_span!("peer", peer = %"5f3a9c").entered();
//!     tracing::warn!("peer is slow"); // "… WARN peer{peer=5f3a9c}: my_app: peer is slow"
//! }
//! tracing::debug!("hidden at info");
//! log.set_level("debug".parse()?); // takes effect on the next line, no restart
//! tracing::debug!("shown now");
//! assert_eq!(log.level(), LogLevel::Debug);
//!
//! log.clear_log_file()?;
//! log.set_enabled(false); // nothing is logged until set_enabled(true)
//! # let _ = std::fs::remove_dir_all(&dir);
//! # Ok(()) }
//! ```
//!
//! ## Decisions
//!
//! - **Context spans are `info` spans.** A span is filtered by its level like an event, and a
//!   disabled span adds nothing to the lines logged inside it. So the spans that say which
//!   peer or transfer a line is about must be `info_span!` (or higher) to show at the default
//!   level; `debug_span!` context appears only from `debug` on.
//! - **One global subscriber.** [`init`] installs it once per process; a second [`init`]
//!   reconfigures the installed one (so a library user and the `rats` tool can both call it),
//!   and fails with [`LogError::AlreadyInstalled`] only when some other subscriber was installed
//!   first. [`init`] also forwards records of the `log` crate (used by some dependencies) into
//!   `tracing`. For tests, [`subscriber`] builds the same stack without installing it, for
//!   `tracing::subscriber::with_default`.
//! - **Runtime changes** go through `tracing_subscriber::reload`: the filter and the outputs
//!   are swapped in place, callsite caches are rebuilt, and the next event sees the change.
//!   While logging is off (or has no output) the filter is `off`, so disabled logging costs
//!   about nothing.
//! - **Filter**: the level is the default for every target; [`LogConfig::filter`] adds
//!   [`EnvFilter`] directives after it, e.g.
//!   `"rats_core=debug,quinn=warn"`, or `"[peer{peer=5f3a9c}]=trace"` to trace one peer only.
//!   Reading `RUST_LOG`/`RATS_LOG` is left to the caller (the config layer), so that config,
//!   environment and code merge in one place.
//! - **Colours** are for the console only and never reach the file. With
//!   [`colors`](LogConfig::colors) `None` they are on when stderr is a terminal, `NO_COLOR` is
//!   unset and `TERM` is not `dumb`. Escape sequences inside logged values (a hostile peer's name, say) are always
//!   escaped, so they cannot drive the terminal.
//! - **Timestamps** are UTC, RFC 3339 with microseconds (`2025-01-31T12:00:00.123456Z`):
//!   reading the local time zone is not thread-safe on every platform.
//! - **The file** is opened for appending (a restart continues it) and its parent directory is
//!   created. Each event is one `write` under a lock, straight to the OS (no buffer to lose on
//!   a crash). Before a write that would make it exceed [`rotation_size`](LogConfig::rotation_size),
//!   `rats.log` becomes `rats.log.1`, `rats.log.1` becomes `rats.log.2`, … and files beyond
//!   [`retention_count`](LogConfig::retention_count) are deleted; so every file is at most
//!   `rotation_size` bytes, or one event when a single event is larger. I/O errors on the
//!   file never panic and never reach the code that logs: the first is reported on stderr,
//!   the file is retried, logging goes on.

mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::layer::{Layer, Layered, SubscriberExt};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::reload;

use writer::{Console, FileMakeWriter, RotatingFile};

/// Default [`LogConfig::rotation_size`]: 10 MiB.
pub const DEFAULT_ROTATION_SIZE: u64 = 10 * 1024 * 1024;
/// Default [`LogConfig::retention_count`].
pub const DEFAULT_RETENTION_COUNT: usize = 5;

/// How much is logged: every event at this level or more severe.
///
/// Parsed from a string case-insensitively (`"trace"`, `"DEBUG"`, `"Info"`, `"warn"` or
/// `"warning"`, `"error"`); serialized as the lower-case name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Everything, including per-frame detail.
    Trace,
    /// Diagnostics for developers.
    Debug,
    /// Normal operation: peers connecting, services starting.
    #[default]
    Info,
    /// Something went wrong but the node goes on.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// All levels, most verbose first.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// The lower-case name: `"trace"`, `"debug"`, `"info"`, `"warn"`, `"error"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogLevel {
    type Err = LogError;

    fn from_str(s: &str) -> Result<Self, LogError> {
        let t = s.trim();
        LogLevel::ALL
            .into_iter()
            .find(|l| t.eq_ignore_ascii_case(l.as_str()))
            .or_else(|| t.eq_ignore_ascii_case("warning").then_some(LogLevel::Warn))
            .ok_or_else(|| LogError::InvalidLevel {
                given: s.to_owned(),
            })
    }
}

impl From<LogLevel> for tracing::Level {
    fn from(l: LogLevel) -> Self {
        match l {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        }
    }
}

impl From<tracing::Level> for LogLevel {
    fn from(l: tracing::Level) -> Self {
        match l {
            tracing::Level::TRACE => LogLevel::Trace,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::WARN => LogLevel::Warn,
            _ => LogLevel::Error,
        }
    }
}

impl Serialize for LogLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The logging configuration: the `log` section of the node's config.
///
/// Every field has a default (`#[serde(default)]`), so a config file names only what it
/// changes:
///
/// ```
/// let c: rats_log::LogConfig =
///     serde_json::from_str(r#"{ "level": "DEBUG", "file": "/tmp/rats.log" }"#).unwrap();
/// assert_eq!(c.level, rats_log::LogLevel::Debug);
/// assert!(c.stderr && c.timestamps);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// Logging on or off. Default `true`.
    pub enabled: bool,
    /// The level for every target. Default `info`.
    pub level: LogLevel,
    /// Write to stderr. Default `true`.
    pub stderr: bool,
    /// Also write to this file (parent directory created). Default none.
    pub file: Option<PathBuf>,
    /// Colours on stderr: `Some(true)`/`Some(false)`, or `None` (default) for on when stderr
    /// is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`. The file never gets colours.
    pub colors: Option<bool>,
    /// Start each line with a UTC timestamp. Default `true`.
    pub timestamps: bool,
    /// Rotate the file before it would grow past this many bytes; `0` never rotates.
    /// Default [`DEFAULT_ROTATION_SIZE`] (10 MiB).
    pub rotation_size: u64,
    /// How many rotated files (`rats.log.1` newest .. `rats.log.N` oldest) are kept; older
    /// ones are deleted. `0` keeps none. Default [`DEFAULT_RETENTION_COUNT`] (5).
    pub retention_count: usize,
    /// Extra [`EnvFilter`] directives applied after [`level`](Self::level), e.g.
    /// `"rats_core=debug,quinn=warn"` or `"[peer{peer=5f3a9c}]=trace"`. Default none.
    pub filter: Option<String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            level: LogLevel::Info,
            stderr: true,
            file: None,
            colors: None,
            timestamps: true,
            rotation_size: DEFAULT_ROTATION_SIZE,
            retention_count: DEFAULT_RETENTION_COUNT,
            filter: None,
        }
    }
}

/// What can go wrong when setting up logging.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A level string that is none of `trace`, `debug`, `info`, `warn`, `error`.
    #[error("invalid log level {given:?}: expected one of trace, debug, info, warn, error")]
    InvalidLevel {
        /// The string given.
        given: String,
    },
    /// [`LogConfig::filter`] is not valid `EnvFilter` syntax.
    #[error("invalid log filter {directives:?}: {reason}")]
    InvalidFilter {
        /// The directives given.
        directives: String,
        /// What is wrong with them.
        reason: String,
    },
    /// The log file (or its directory) cannot be created or opened.
    #[error("cannot open log file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A global `tracing` subscriber that is not rats-log's was installed before [`init`].
    #[error("another global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Controls a subscriber built by [`init`] or [`subscriber`] while it runs.
///
/// Cheap to clone; all clones control the same subscriber. When the subscriber is gone
/// (a test subscriber dropped), the setters only update the stored configuration.
#[derive(Clone)]
pub struct LogHandle {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    filter: reload::Handle<EnvFilter, Registry>,
    outputs: reload::Handle<Outputs, Filtered>,
    console: Console,
    /// `init` installed the `log` → `tracing` bridge, whose max level follows ours.
    log_bridge: AtomicBool,
}

struct State {
    config: LogConfig,
    file: Option<Arc<RotatingFile>>,
}

/// The registry under the reloadable filter.
type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;
/// The console and file fmt layers.
type Outputs = Vec<Box<dyn Layer<Filtered> + Send + Sync>>;
/// The whole stack.
type Stack = Layered<reload::Layer<Outputs, Filtered>, Filtered>;

impl LogHandle {
    /// Sets the level for every target; the next event already obeys it.
    pub fn set_level(&self, level: LogLevel) {
        let mut st = self.inner.state.lock();
        st.config.level = level;
        self.apply_filter(&st);
    }

    /// The current level.
    pub fn level(&self) -> LogLevel {
        self.inner.state.lock().config.level
    }

    /// Turns logging on or off; the next event already obeys it.
    pub fn set_enabled(&self, on: bool) {
        let mut st = self.inner.state.lock();
        st.config.enabled = on;
        self.apply_filter(&st);
    }

    /// Whether logging is on.
    pub fn is_enabled(&self) -> bool {
        self.inner.state.lock().config.enabled
    }

    /// The log file, if there is one.
    pub fn file_path(&self) -> Option<PathBuf> {
        self.inner.state.lock().file.as_ref().map(|f| f.path())
    }

    /// The configuration in force (with every runtime change applied).
    pub fn config(&self) -> LogConfig {
        self.inner.state.lock().config.clone()
    }

    /// Applies a whole new configuration: level, filter, outputs, colours, timestamps,
    /// rotation. Nothing changes when it fails (bad filter, file that cannot be opened).
    pub fn reconfigure(&self, config: &LogConfig) -> Result<(), LogError> {
        let mut st = self.inner.state.lock();
        build_filter(config, true)?; // check the directives before changing anything
        let file = match (&config.file, &st.file) {
            (None, _) => None,
            (Some(path), Some(open)) if open.path() == *path => {
                open.set_limits(config.rotation_size, config.retention_count);
                Some(Arc::clone(open))
            }
            (Some(path), _) => Some(open_file(path, config)?),
        };
        let _ =
            self.inner
                .outputs
                .reload(build_outputs(config, &self.inner.console, file.as_ref()));
        st.config = config.clone();
        st.file = file;
        self.apply_filter(&st);
        Ok(())
    }

    /// Empties the log file (rotated files are kept). Nothing to do without a file.
    pub fn clear_log_file(&self) -> Result<(), LogError> {
        let file = self.inner.state.lock().file.clone();
        match file {
            Some(f) => f.clear().map_err(|source| LogError::File {
                path: f.path(),
                source,
            }),
            None => Ok(()),
        }
    }

    /// Pushes what was logged to the disk (the file is synced) and flushes stderr. Each event
    /// already reaches the OS when it is logged; call this before a planned exit or crash
    /// report.
    pub fn flush(&self) {
        use std::io::Write;
        let _ = std::io::stderr().flush();
        let file = self.inner.state.lock().file.clone();
        if let Some(f) = file {
            let _ = f.flush();
        }
    }

    /// Reloads the filter from the state. Its directives were checked when the configuration
    /// was accepted, so building cannot fail here.
    fn apply_filter(&self, st: &State) {
        let has_output = st.config.stderr || st.file.is_some();
        if let Ok(filter) = build_filter(&st.config, has_output) {
            let _ = self.inner.filter.reload(filter);
        }
        if self.inner.log_bridge.load(Ordering::Relaxed) {
            use tracing_log::AsLog;
            tracing_log::log::set_max_level(
                tracing::level_filters::LevelFilter::current().as_log(),
            );
        }
    }
}

impl fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogHandle")
            .field("config", &self.inner.state.lock().config)
            .finish_non_exhaustive()
    }
}

/// The handle of the subscriber [`init`] installed.
static GLOBAL: std::sync::Mutex<Option<LogHandle>> = std::sync::Mutex::new(None);

/// Installs the global `tracing` subscriber described by `config` and returns its handle.
///
/// Also forwards records of the `log` crate into it (unless a `log` logger exists already).
/// Called again, it reconfigures the subscriber it installed (as [`LogHandle::reconfigure`])
/// and returns the same handle. Fails with [`LogError::AlreadyInstalled`] when another
/// subscriber was installed first, and with the config errors of [`subscriber`].
pub fn init(config: &LogConfig) -> Result<LogHandle, LogError> {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = global.as_ref() {
        handle.reconfigure(config)?;
        return Ok(handle.clone());
    }
    let (stack, handle) = build(config, Console::Stderr)?;
    tracing::subscriber::set_global_default(stack).map_err(|_| LogError::AlreadyInstalled)?;
    if tracing_log::LogTracer::init().is_ok() {
        handle.inner.log_bridge.store(true, Ordering::Relaxed);
        let st = handle.inner.state.lock();
        handle.apply_filter(&st);
    }
    *global = Some(handle.clone());
    Ok(handle)
}

/// The handle of the subscriber installed by [`init`], if it was called and succeeded.
pub fn global() -> Option<LogHandle> {
    GLOBAL
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Builds the subscriber described by `config` without installing it, for
/// `tracing::subscriber::with_default` (tests) or to wrap in a `Dispatch`.
///
/// ```
/// use rats_log::{LogConfig, LogLevel};
/// let config = LogConfig { stderr: false, level: LogLevel::Warn, ..LogConfig::default() };
/// let (subscriber, log) = rats_log::subscriber(&config).unwrap();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!("not logged");
///     log.set_level(LogLevel::Info);
///     tracing::info!("logged");
/// });
/// ```
///
/// Fails with [`LogError::InvalidFilter`] for bad [`LogConfig::filter`] directives and with
/// [`LogError::File`] when the log file cannot be opened.
pub fn subscriber(
    config: &LogConfig,
) -> Result<(impl Subscriber + Send + Sync + 'static, LogHandle), LogError> {
    build(config, Console::Stderr)
}

fn build(config: &LogConfig, console: Console) -> Result<(Stack, LogHandle), LogError> {
    let has_output = config.stderr || config.file.is_some();
    let filter = build_filter(config, has_output)?;
    let file = config
        .file
        .as_deref()
        .map(|p| open_file(p, config))
        .transpose()?;
    let (filter, filter_handle) = reload::Layer::new(filter);
    let (outputs, outputs_handle) =
        reload::Layer::new(build_outputs(config, &console, file.as_ref()));
    let stack = Registry::default().with(filter).with(outputs);
    let handle = LogHandle {
        inner: Arc::new(Inner {
            state: Mutex::new(State {
                config: config.clone(),
                file,
            }),
            filter: filter_handle,
            outputs: outputs_handle,
            console,
            log_bridge: AtomicBool::new(false),
        }),
    };
    Ok((stack, handle))
}

fn open_file(path: &Path, config: &LogConfig) -> Result<Arc<RotatingFile>, LogError> {
    RotatingFile::open(path, config.rotation_size, config.retention_count)
        .map(Arc::new)
        .map_err(|source| LogError::File {
            path: path.to_path_buf(),
            source,
        })
}

/// The filter: `off` when disabled or without output, else the level then the extra
/// directives. Always checks the extra directives, so a bad one is reported even while off.
fn build_filter(config: &LogConfig, has_output: bool) -> Result<EnvFilter, LogError> {
    let mut directives = config.level.as_str().to_owned();
    if let Some(extra) = config
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        directives.push(',');
        directives.push_str(extra);
    }
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| LogError::InvalidFilter {
            directives: config.filter.clone().unwrap_or_default(),
            reason: e.to_string(),
        })?;
    if config.enabled && has_output {
        Ok(filter)
    } else {
        Ok(EnvFilter::new("off"))
    }
}

fn build_outputs(
    config: &LogConfig,
    console: &Console,
    file: Option<&Arc<RotatingFile>>,
) -> Outputs {
    let mut outputs: Outputs = Vec::new();
    if config.stderr {
        let ansi = config.colors.unwrap_or_else(|| console.auto_colors());
        outputs.push(fmt_layer(
            console.clone(),
            DefaultFields::new(),
            ansi,
            config.timestamps,
        ));
    }
    if let Some(file) = file {
        outputs.push(fmt_layer(
            FileMakeWriter(Arc::clone(file)),
            PlainFields::default(),
            false,
            config.timestamps,
        ));
    }
    outputs
}

fn fmt_layer<W, N>(
    writer: W,
    fields: N,
    ansi: bool,
    timestamps: bool,
) -> Box<dyn Layer<Filtered> + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
    N: for<'a> FormatFields<'a> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .fmt_fields(fields)
        .with_ansi(ansi)
        .with_ansi_sanitization(true)
        // A write error would be reported with `eprintln!`, which panics without stderr.
        .log_internal_errors(false);
    if timestamps {
        Box::new(layer)
    } else {
        Box::new(layer.without_time())
    }
}

/// The file's field formatter. The fmt layer caches a span's formatted fields in the span,
/// keyed by the formatter's type; with its own type the file never shows the fields the
/// console formatted with colours.
#[derive(Debug, Default)]
struct PlainFields(DefaultFields);

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        self.0.format_fields(writer, fields)
    }
}

#[cfg(test)]
mod tests;
