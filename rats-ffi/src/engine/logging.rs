//! Logging through rats-log, the process-wide logger (as librats' logger is a singleton):
//! every change reads the current configuration, changes it and applies it, installing
//! rats-log on first use.

use std::io::IsTerminal;
use std::path::PathBuf;

use rats_engine::rats_log::{self, LogConfig};

/// Applies `f` to the logging configuration; false if rats-log cannot be installed (another
/// `tracing` subscriber was installed first) or the configuration is refused (a file that
/// cannot be opened).
pub(crate) fn change(f: impl FnOnce(&mut LogConfig)) -> bool {
    let handle = rats_log::global();
    let mut cfg = handle.as_ref().map(|h| h.config()).unwrap_or_default();
    f(&mut cfg);
    match handle {
        Some(h) => h.reconfigure(&cfg).is_ok(),
        None => rats_log::init(&cfg).is_ok(),
    }
}

/// The configuration in effect (rats-log's defaults before first use).
pub(crate) fn config() -> LogConfig {
    rats_log::global().map(|h| h.config()).unwrap_or_default()
}

/// Parses a level name (`DEBUG`, `INFO`, `WARN`/`WARNING`, `ERROR`, `TRACE`; any case).
pub(crate) fn parse_level(s: &str) -> Option<rats_log::LogLevel> {
    s.parse().ok()
}

/// Whether lines on stderr get colours (`colors` unset: when stderr is a terminal and
/// `NO_COLOR` is unset).
pub(crate) fn colors_on(cfg: &LogConfig) -> bool {
    cfg.colors.unwrap_or_else(|| {
        std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
            && std::env::var("TERM").map_or(true, |t| t != "dumb")
    })
}

/// The log file, if one is set.
pub(crate) fn file(cfg: &LogConfig) -> Option<PathBuf> {
    cfg.file.clone()
}

/// Empties the log file (rotated files are kept).
pub(crate) fn clear_file() -> bool {
    rats_log::global().is_none_or(|h| h.clear_log_file().is_ok())
}

/// Writes what is buffered to the file.
pub(crate) fn flush() {
    if let Some(h) = rats_log::global() {
        h.flush();
    }
}
