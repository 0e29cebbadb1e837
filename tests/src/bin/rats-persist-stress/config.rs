//! `config` mode: `config.json`.

use std::path::Path;

use rats_persist::{CONFIG_FILE, load_config, write_atomic};
use serde_json::{Map, Value};

pub fn run(dir: &Path) {
    let path = dir.join(CONFIG_FILE);
    let mut round = 0u64;
    loop {
        round += 1;
        if round % 16 == 1 {
            // A first start: no file, the defaults are written.
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                super::fail(&format!("remove {}: {e}", path.display()));
            }
            if let Err(e) = load_config(dir, &Map::new(), rats::KNOWN_SECTIONS) {
                super::fail(&format!("load_config: {e}"));
            }
        } else {
            save_settings(&path, round);
        }
        if round == 2 {
            super::started();
        }
    }
}

/// What a settings save does: keep the file's other keys, set ours, write it atomically.
/// The plugin section grows and shrinks so that a torn write would be a truncated document.
fn save_settings(path: &Path, round: u64) {
    let mut obj = match std::fs::read(path) {
        Ok(b) => match serde_json::from_slice::<Value>(&b) {
            Ok(Value::Object(m)) => m,
            other => super::fail(&format!("{} unreadable: {other:?}", path.display())),
        },
        Err(e) => super::fail(&format!("read {}: {e}", path.display())),
    };
    obj.insert("max_peers".into(), (1 + round % 500).into());
    let trusted: Vec<Value> = (0..round % 40)
        .map(|i| Value::String(format!("{i:064x}")))
        .collect();
    obj.insert(
        "transfer".into(),
        serde_json::json!({ "window": 1 + round % 64, "trusted_peers": trusted }),
    );
    let text = serde_json::to_vec_pretty(&Value::Object(obj))
        .unwrap_or_else(|e| super::fail(&format!("encode: {e}")));
    if let Err(e) = write_atomic(path, &text) {
        super::fail(&format!("write {}: {e}", path.display()));
    }
}
