//! Configuration merging support for the builder: where each value came from, so a refused
//! value names its file or environment variable, and warnings logged once.

use std::collections::BTreeSet;

use rats_core::{NodeConfig, NodeError};

use crate::RatsError;

/// Logs each distinct configuration warning once per process: an application that starts
/// again on the same directory (a retry on another port, say) does not repeat them.
pub(crate) fn log_warnings_once(warnings: &[String]) {
    static LOGGED: std::sync::Mutex<BTreeSet<String>> = std::sync::Mutex::new(BTreeSet::new());
    let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
    for w in warnings {
        // Bounded: past a few hundred distinct warnings, repeats are logged again.
        if logged.len() >= 256 {
            logged.clear();
        }
        if logged.insert(w.clone()) {
            tracing::warn!("{w}");
        }
    }
}

/// Where configuration values came from (with `persist` and a data directory).
#[cfg(feature = "persist")]
pub(crate) type Origins = Option<rats_persist::LoadedConfig>;
/// Where configuration values came from (nothing to say without `persist`).
#[cfg(not(feature = "persist"))]
pub(crate) type Origins = Option<()>;

/// A plugin that refuses a value of its section: the error also says where the value came
/// from (the file or the environment variable), so the user knows what to fix.
pub(crate) fn name_origin(e: NodeError, origins: &Origins) -> RatsError {
    if let NodeError::Plugin(rats_core::registry::PluginError::Config {
        key: Some(key),
        error,
        ..
    }) = &e
        && let Some(origin) = origin_of(origins, key)
    {
        return RatsError::Config {
            key: key.clone(),
            origin: Some(origin),
            source: error.clone().into(),
        };
    }
    RatsError::Node(e)
}

/// The file or variable a value came from, when it came from one.
pub(crate) fn origin_of(origins: &Origins, key: &str) -> Option<String> {
    #[cfg(feature = "persist")]
    if let Some(origin) = origins.as_ref().and_then(|o| o.origin_of(key)) {
        return Some(origin);
    }
    let _ = (origins, key);
    None
}

/// The configuration as a JSON object (its top-level keys).
pub(crate) fn to_map(c: &NodeConfig) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}
