//! Configuration layers, lowest first: defaults ← `<data_dir>/config.json` ← `RATS_*`
//! environment variables ← values set in code. Nested keys in the environment use `__`:
//! `RATS_MAX_PEERS=20`, `RATS_LOG__LEVEL=debug`. Unknown keys are warnings; a wrong type is an
//! error naming the key and where it came from; a `config.json` that is not JSON at all is
//! moved aside with a warning and the node starts without it.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Json, Serialized};
use rats_core::NodeConfig;
use serde_json::{Map, Value};

use crate::atomic::{Loaded, load_or_quarantine, remove_stale_temp_files, write_atomic};

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
    /// A value breaks one of the node's rules (which key, which rule).
    #[error("invalid configuration: {0}")]
    Rule(#[from] rats_core::config::ConfigError),
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
    /// The configuration file (absolute).
    pub file: PathBuf,
    /// What the file held, to tell where a value came from.
    file_values: Option<Map<String, Value>>,
}

impl LoadedConfig {
    /// Where the value at `key` (dotted: `transfer.window`) came from: its environment
    /// variable, or the configuration file; `None` for values from code or the defaults.
    /// Plugins read their sections after loading, so their errors name the key and this
    /// says where to fix it.
    pub fn origin_of(&self, key: &str) -> Option<String> {
        let var = env_var_name(key.split('.'));
        if std::env::var_os(&var).is_some() {
            return Some(format!("environment variable {var}"));
        }
        let mut at = self.file_values.as_ref()?.get(key.split('.').next()?)?;
        for part in key.split('.').skip(1) {
            at = match at {
                Value::Object(m) => m.get(part)?,
                Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(self.file.display().to_string())
    }
}

/// The environment variable for a key path: `RATS_TRANSFER__WINDOW`.
fn env_var_name<'a>(path: impl Iterator<Item = &'a str>) -> String {
    let parts: Vec<String> = path.map(str::to_uppercase).collect();
    format!("{ENV_PREFIX}{}", parts.join("__"))
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
    load_config_with_env(data_dir, overrides, known_sections, &process_env())
}

/// [`load_config`] with the `RATS_*` variables given (name, value) instead of read from the
/// process environment.
pub(crate) fn load_config_with_env(
    data_dir: &Path,
    overrides: &Map<String, Value>,
    known_sections: &[&str],
    env: &[(String, String)],
) -> Result<LoadedConfig, ConfigError> {
    let file = std::path::absolute(data_dir.join(CONFIG_FILE))
        .unwrap_or_else(|_| data_dir.join(CONFIG_FILE));
    let io = |source| ConfigError::Io {
        path: file.clone(),
        source,
    };
    let mut warnings = Vec::new();
    // What a writer killed part-way (a settings save, a first start) left beside the file.
    remove_stale_temp_files(&file);
    let parse = |b: &[u8]| match serde_json::from_slice::<Value>(b) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("not a JSON object".to_string()),
        Err(e) => Err(e.to_string()),
    };
    let file_values = match load_or_quarantine(&file, parse).map_err(io)? {
        Loaded::Ok(m) => Some(m),
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
    if file_values.is_some() {
        figment = figment.merge(Json::file(&file));
    }
    let figment = figment
        .merge(EnvLayer::from_vars(env))
        .merge(Serialized::defaults(Value::Object(overrides.clone())));
    let config: NodeConfig = figment
        .extract()
        .map_err(|e| ConfigError::Invalid(describe(e, &file)))?;
    config.validate()?;

    let known = |k: &str| {
        NodeConfig::field_names().iter().any(|f| f == k)
            || known_sections.contains(&k)
            || rats_core::registry::factories().any(|f| f.name == k)
    };
    for k in file_values
        .iter()
        .flat_map(|m| m.keys())
        .filter(|k| !known(k))
    {
        warnings.push(format!("unknown key {k:?} in {} (ignored)", file.display()));
    }
    for (var, _) in env {
        let Some(key) = env_key(var).and_then(|path| path.into_iter().next()) else {
            continue;
        };
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
        file_values,
    })
}

/// Settings whose values are text even when they look like numbers (`RATS_PROTOCOL_VERSION=2.0`).
const TEXT_KEYS: &[&str] = &["protocol_name", "protocol_version", "agent", "encryption"];

/// The `RATS_*` environment as a configuration layer. Values are JSON where they parse as JSON
/// (`7`, `true`, `["a"]`), text otherwise, and always text for [`TEXT_KEYS`].
struct EnvLayer {
    dict: figment::value::Dict,
}

/// The `RATS_*` variables of the process environment. Names or values that are not UTF-8 are
/// skipped (`std::env::vars` would panic on them, wherever they are in the environment).
fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| env_key(k).is_some())
        .collect()
}

/// The key path a configuration variable sets (`RATS_LOG__LEVEL` is `["log", "level"]`);
/// `None` for other variables and for names with an empty part. The prefix matches in any
/// case, and keys are lowercase, as figment's `Env::prefixed` did.
fn env_key(var: &str) -> Option<Vec<String>> {
    let prefix = var.get(..ENV_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(ENV_PREFIX) {
        return None;
    }
    let path: Vec<String> = var[ENV_PREFIX.len()..]
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    (!path.iter().any(String::is_empty)).then_some(path)
}

impl EnvLayer {
    fn from_vars(vars: &[(String, String)]) -> Self {
        let mut root = Map::new();
        for (var, raw) in vars {
            let Some(path) = env_key(var) else {
                continue;
            };
            let raw = raw.clone();
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

/// Every error figment found, each as `key: what is wrong (where it came from)`: the
/// environment variable itself, or the configuration file's absolute path.
fn describe(e: figment::Error, file: &Path) -> String {
    e.into_iter()
        .map(|e| {
            let source = match e.metadata.as_ref().map(|m| m.name.as_ref()) {
                Some(name) if name.contains("environment") && !e.path.is_empty() => {
                    format!(
                        "environment variable {}",
                        env_var_name(e.path.iter().map(String::as_str))
                    )
                }
                Some(name) if name.contains("JSON") => file.display().to_string(),
                _ => "set in code".to_string(),
            };
            if e.path.is_empty() {
                format!("{} ({source})", e.kind)
            } else {
                format!("{}: {} ({source})", e.path.join("."), e.kind)
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
        let abs = std::path::absolute(d.join(CONFIG_FILE)).expect("absolute");
        assert!(err.contains("max_peers: invalid type"), "{err}");
        assert!(err.contains(&format!("({})", abs.display())), "{err}");
        assert!(
            !err.contains("default."),
            "no figment profile in the key: {err}"
        );
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_plugin_key_s_origin_is_the_file_that_holds_it() {
        let d = dir();
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::write(
            d.join(CONFIG_FILE),
            r#"{"transfer": {"window": "big", "list": [1, {"x": 2}]}}"#,
        )
        .expect("write");
        let loaded = load_config(&d, &Map::new(), &["transfer"]).expect("loads");
        let abs = std::path::absolute(d.join(CONFIG_FILE)).expect("absolute");
        let file = Some(abs.display().to_string());
        assert_eq!(loaded.origin_of("transfer.window"), file);
        assert_eq!(loaded.origin_of("transfer.list.1.x"), file);
        assert_eq!(loaded.origin_of("transfer.chunk_size"), None);
        assert_eq!(loaded.origin_of("dht.bootstrap"), None);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn temporary_files_of_a_killed_writer_are_removed_and_ours_kept() {
        let d = dir();
        load_config(&d, &Map::new(), &[]).expect("defaults");
        let dead = d.join(format!(".{CONFIG_FILE}.tmp-4194305-17"));
        let ours = d.join(format!(".{CONFIG_FILE}.tmp-{}-18", std::process::id()));
        std::fs::write(&dead, "{\"max_pe").expect("write");
        std::fs::write(&ours, "{").expect("write");
        let loaded = load_config(&d, &Map::new(), &[]).expect("loads");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(
            !dead.exists(),
            "a killed writer's temporary file is removed"
        );
        assert!(ours.exists(), "a write of this process may be in flight");
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
