//! Logging (feature `log`): installing rats-log from code and the `log` section, and the
//! client's run-time controls.

use crate::config::{Origins, origin_of};
use crate::{RatsClient, RatsError};

/// Installs rats-log when asked for in code or in the configuration's `log` section: the
/// section's keys over the code defaults over rats-log's defaults.
pub(crate) fn install_logging(
    defaults: Option<&rats_log::LogConfig>,
    section: Option<&serde_json::Value>,
    origins: &Origins,
) -> Result<(), RatsError> {
    if defaults.is_none() && section.is_none() {
        return Ok(());
    }
    let bad = |source: rats_core::BoxError| RatsError::Config {
        key: "log".into(),
        origin: None,
        source,
    };
    let mut merged =
        serde_json::to_value(defaults.cloned().unwrap_or_default()).map_err(|e| bad(e.into()))?;
    if let (Some(base), Some(serde_json::Value::Object(over))) = (merged.as_object_mut(), section) {
        for (k, v) in over {
            base.insert(k.clone(), v.clone());
        }
    }
    let cfg: rats_log::LogConfig = serde_path_to_error::deserialize(merged).map_err(|e| {
        let key = format!("log.{}", e.path());
        RatsError::Config {
            origin: origin_of(origins, &key),
            key,
            source: e.into_inner().into(),
        }
    })?;
    rats_log::init(&cfg)?;
    Ok(())
}

impl RatsClient {
    /// The logging handle, when logging was installed (by this or another client).
    pub fn log_handle(&self) -> Option<rats_log::LogHandle> {
        rats_log::global()
    }

    /// Changes the log level at run time (`trace`..`error`, any case); effective on the next
    /// line.
    pub fn set_log_level(&self, level: &str) -> Result<(), RatsError> {
        let level = level
            .parse()
            .map_err(|e: rats_log::LogError| RatsError::Log(e))?;
        let handle = self.log_handle().ok_or(RatsError::NotRunning("logging"))?;
        handle.set_level(level);
        Ok(())
    }

    /// Switches logging on or off at run time.
    pub fn set_logging_enabled(&self, on: bool) {
        if let Some(h) = self.log_handle() {
            h.set_enabled(on);
        }
    }

    /// Empties the log file (rotated files are kept).
    pub fn clear_log_file(&self) -> Result<(), RatsError> {
        match self.log_handle() {
            Some(h) => h.clear_log_file().map_err(RatsError::from),
            None => Ok(()),
        }
    }
}
