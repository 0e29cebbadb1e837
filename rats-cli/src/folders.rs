//! The `--accept-dir` and `--share-dir` folders: checked, created, and put into the
//! configuration.

use std::path::{Path, PathBuf};

use crate::error::CliError;

use crate::args::Args;

/// The `--accept-dir` folder, created if missing, as an absolute path.
#[cfg(feature = "transfer")]
pub fn accept_dir(args: &Args) -> Result<Option<PathBuf>, CliError> {
    let Some(dir) = &args.accept_dir else {
        return Ok(None);
    };
    let bad = |e: std::io::Error| CliError::Usage(format!("--accept-dir {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(bad)?;
    std::fs::canonicalize(dir).map(Some).map_err(bad)
}

/// Without file transfer, `--accept-dir` is an error.
#[cfg(not(feature = "transfer"))]
pub fn accept_dir(args: &Args) -> Result<Option<PathBuf>, CliError> {
    match &args.accept_dir {
        None => Ok(None),
        Some(_) => Err(CliError::Usage(
            "--accept-dir: this rats was built without file transfer".into(),
        )),
    }
}

/// The `--share-dir` folder as a configuration value (an absolute path).
#[cfg(feature = "transfer")]
pub fn shared_root(dir: &Path) -> Result<serde_json::Value, CliError> {
    let bad = |why: String| CliError::Usage(format!("--share-dir {}: {why}", dir.display()));
    let root = std::fs::canonicalize(dir).map_err(|e| bad(e.to_string()))?;
    if !root.is_dir() {
        return Err(bad("not a directory".into()));
    }
    serde_json::to_value(&root).map_err(|_| bad("the path is not valid UTF-8".into()))
}

/// Without file transfer, `--share-dir` is an error.
#[cfg(not(feature = "transfer"))]
pub fn shared_root(_dir: &Path) -> Result<serde_json::Value, CliError> {
    Err(CliError::Usage(
        "--share-dir: this rats was built without file transfer".into(),
    ))
}

/// Sets `key` in the plugin section `section`, keeping the section's other settings.
pub fn set_section_key(
    plugins: &mut serde_json::Map<String, serde_json::Value>,
    section: &str,
    key: &str,
    value: serde_json::Value,
) {
    let entry = plugins
        .entry(section)
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !entry.is_object() {
        *entry = serde_json::Value::Object(Default::default());
    }
    if let Some(m) = entry.as_object_mut() {
        m.insert(key.to_string(), value);
    }
}
