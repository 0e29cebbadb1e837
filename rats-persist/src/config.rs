//! Configuration layers, lowest first: defaults ← `<data_dir>/config.json` ← `RATS_*`
//! environment variables ← values set in code. Nested keys in the environment use `__`:
//! `RATS_MAX_PEERS=20`, `RATS_LOG__LEVEL=debug`. Unknown keys are warnings; a wrong type is an
//! error naming the key and where it came from; a `config.json` that is not JSON at all is
//! moved aside with a warning and the node starts without it.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Json, Serialized};
use rats_core::NodeConfig;
use serde_json::{Map, Value};

use crate::atomic::{Loaded, load_or_quarantine, write_atomic};

/// The configuration file's name inside the data directory.
pub const CONFIG_FILE: &str = "config.json";
/// Prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "RATS_";

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value has the wrong type or is out of range; the message names the key and source.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The merged configuration and what was odd about it.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration in force.
    pub config: NodeConfig,
    /// Warnings for the user (unknown keys, a corrupt file moved aside, ...).
    pub warnings: Vec<String>,
    /// The configuration file.
    pub file: PathBuf,
}

/// Loads the configuration of the node whose data directory is `data_dir`.
///
/// `overrides` are the values set in code (they win); `known_sections` names plugin sections
/// that are expected besides the linked registry plugins (for example `log`). When the file
/// does not exist, it is created with the defaults so users can see and edit every setting.
pub fn load_config(
    data_dir: &Path,
    overrides: &Map<String, Value>,
    known_sections: &[&str],
) -> Result<LoadedConfig, ConfigError> {
    let file = data_dir.join(CONFIG_FILE);
    let io = |source| ConfigError::Io {
        path: file.clone(),
        source,
    };
    let mut warnings = Vec::new();
    let parse = |b: &[u8]| match serde_json::from_slice::<Value>(b) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("not a JSON object".to_string()),
        Err(e) => Err(e.to_string()),
    };
    let file_keys = match load_or_quarantine(&file, parse).map_err(io)? {
        Loaded::Ok(m) => Some(m.keys().cloned().collect::<Vec<_>>()),
        Loaded::Missing => {
            let defaults = serde_json::to_vec_pretty(&NodeConfig::default())
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
            if let Err(e) = write_atomic(&file, &defaults) {
                warnings.push(format!("could not write default {}: {e}", file.display()));
            }
            None
        }
        Loaded::Corrupt { error, moved_to } => {
            warnings.push(format!(
                "{} is corrupt ({error}); moved it to {} and started without it",
                file.display(),
                moved_to.display()
            ));
            None
        }
    };
    let mut figment = Figment::from(Serialized::defaults(NodeConfig::default()));
    if file_keys.is_some() {
        figment = figment.merge(Json::file(&file));
    }
    let figment = figment
        .merge(EnvLayer::from_env())
        .merge(Serialized::defaults(Value::Object(overrides.clone())));
    let config: NodeConfig = figment
        .extract()
        .map_err(|e| ConfigError::Invalid(describe(e)))?;
    config.validate().map_err(ConfigError::Invalid)?;

    let known = |k: &str| {
        NodeConfig::field_names().iter().any(|f| f == k)
            || known_sections.contains(&k)
            || rats_core::registry::factories().any(|f| f.name == k)
    };
    for k in file_keys.iter().flatten().filter(|k| !known(k)) {
        warnings.push(format!("unknown key {k:?} in {} (ignored)", file.display()));
    }
    for (var, _) in std::env::vars() {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = rest
            .split("__")
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !known(&key) {
            warnings.push(format!(
                "unknown key {key:?} from environment variable {var} (ignored)"
            ));
        }
    }
    Ok(LoadedConfig {
        config,
        warnings,
        file,
    })
}

/// Settings whose values are text even when they look like numbers (`RATS_PROTOCOL_VERSION=2.0`).
const TEXT_KEYS: &[&str] = &["protocol_name", "protocol_version", "agent", "encryption"];

/// The `RATS_*` environment as a configuration layer. Values are JSON where they parse as JSON
/// (`7`, `true`, `["a"]`), text otherwise, and always text for [`TEXT_KEYS`].
struct EnvLayer {
    dict: figment::value::Dict,
}

impl EnvLayer {
    fn from_env() -> Self {
        let mut root = Map::new();
        for (key, raw) in Env::prefixed(ENV_PREFIX).split("__").iter() {
            let path: Vec<String> = key.as_str().split('.').map(str::to_string).collect();
            let value = if path.len() == 1 && TEXT_KEYS.contains(&path[0].as_str()) {
                Value::String(raw)
            } else {
                serde_json::from_str(&raw).unwrap_or(Value::String(raw))
            };
            insert_path(&mut root, &path, value);
        }
        let dict = serde_json::from_value(Value::Object(root)).unwrap_or_default();
        EnvLayer { dict }
    }
}

fn insert_path(map: &mut Map<String, Value>, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

impl figment::Provider for EnvLayer {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(format!("{ENV_PREFIX}* environment variables"))
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Ok(figment::Profile::Default.collect(self.dict.clone()))
    }
}

/// Figment's errors name the key and the source; keep every one of them, and name the
/// environment variable itself when that is where a bad value came from.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let from_env = e
                .metadata
                .as_ref()
                .is_some_and(|m| m.name.contains("environment"));
            if from_env && !e.path.is_empty() {
                let var = format!("{ENV_PREFIX}{}", e.path.join("__").to_uppercase());
                format!("{} in environment variable {var}", e.kind)
            } else {
                e.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        std::env::temp_dir().join(format!("rats-cfg-{}", rand::random::<u64>()))
    }

    #[test]
    fn file_then_code_and_defaults_are_written() {
        let d = dir();
        let loaded = load_config(&d, &Map::new(), &[]).expect("defaults");
        assert_eq!(loaded.config.max_peers, NodeConfig::default().max_peers);
        assert!(d.join(CONFIG_FILE).exists(), "defaults written");
        std::fs::write(
            d.join(CONFIG_FILE),
            r#"{"max_peers": 7, "protocol_name": "fromfile", "dht": {"x": 1}, "bogus": 1}"#,
        )
        .expect("write");
        let mut code = Map::new();
        code.insert("protocol_name".into(), "fromcode".into());
        let loaded = load_config(&d, &code, &[]).expect("load");
        assert_eq!(loaded.config.max_peers, 7);
        assert_eq!(loaded.config.protocol_name, "fromcode");
        assert_eq!(loaded.config.plugins["dht"]["x"], 1);
        assert!(
            loaded.warnings.iter().any(|w| w.contains("\"bogus\"")),
            "{:?}",
            loaded.warnings
        );
        assert!(!loaded.warnings.iter().any(|w| w.contains("\"max_peers\"")));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn wrong_type_names_key_and_file() {
        let d = dir();
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::write(d.join(CONFIG_FILE), r#"{"max_peers": "many"}"#).expect("write");
        let err = load_config(&d, &Map::new(), &[])
            .expect_err("wrong type")
            .to_string();
        assert!(err.contains("max_peers"), "{err}");
        assert!(err.contains(CONFIG_FILE), "{err}");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn corrupt_file_is_moved_aside_with_a_warning() {
        let d = dir();
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::write(d.join(CONFIG_FILE), "{\"max_peers\": 3,").expect("write");
        let loaded = load_config(&d, &Map::new(), &[]).expect("still loads");
        assert_eq!(loaded.config.max_peers, NodeConfig::default().max_peers);
        assert!(
            loaded.warnings.iter().any(|w| w.contains("corrupt")),
            "{:?}",
            loaded.warnings
        );
        let moved = std::fs::read_dir(&d)
            .expect("dir")
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
        assert!(moved);
        let _ = std::fs::remove_dir_all(d);
    }
}
