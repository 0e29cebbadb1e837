//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): the configuration file with
//! `RATS_*` environment values, and the peer files, as the node loads them from its data
//! directory. Reached as `rats_persist::__fuzz`; not public API (no stability promise).

use std::path::PathBuf;

use serde_json::Map;

use crate::config::{CONFIG_FILE, load_config_with_env};
use crate::peer_files::{PeersEverFile, PeersFile, parse};

/// A data directory of this process for the config target (recreated for every input).
fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("rats-fuzz-config-{}", std::process::id()))
}

/// `config.json`'s bytes, then (after a NUL byte) `NAME=value` lines taken as environment
/// variables (`RATS_` is put in front of each name). A configuration that loads is valid,
/// and saved as the file it loads the same without the environment.
pub fn config(data: &[u8]) {
    let mut parts = data.splitn(2, |&b| b == 0);
    let file = parts.next().unwrap_or_default();
    let env: Vec<(String, String)> = String::from_utf8_lossy(parts.next().unwrap_or_default())
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (format!("RATS_{k}"), v.to_string()))
        .collect();
    let dir = scratch_dir();
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err()
        || std::fs::write(dir.join(CONFIG_FILE), file).is_err()
    {
        return;
    }
    let Ok(loaded) = load_config_with_env(&dir, &Map::new(), &[], &env) else {
        return;
    };
    assert!(loaded.config.validate().is_ok());
    let saved = serde_json::to_vec(&loaded.config).unwrap_or_default();
    assert!(std::fs::write(dir.join(CONFIG_FILE), &saved).is_ok());
    let again = load_config_with_env(&dir, &Map::new(), &[], &[]);
    let Ok(again) = again else {
        panic!("a saved configuration does not load: {again:?}");
    };
    assert_eq!(
        serde_json::to_value(&again.config).ok(),
        serde_json::to_value(&loaded.config).ok()
    );
}

/// `peers.rats` or `peers_ever.rats`: what parses saves as bytes that parse the same.
pub fn peer_files(data: &[u8]) {
    if let Ok(f) = parse::<PeersFile>(data) {
        let bytes = serde_json::to_vec(&f).unwrap_or_default();
        assert_eq!(parse::<PeersFile>(&bytes).ok(), Some(f));
    }
    if let Ok(f) = parse::<PeersEverFile>(data) {
        let bytes = serde_json::to_vec(&f).unwrap_or_default();
        assert_eq!(parse::<PeersEverFile>(&bytes).ok(), Some(f));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_points_accept_valid_and_garbage_input() {
        super::config(b"{\"max_peers\": 7}\0MAX_PEERS=9\nLOG__LEVEL=debug");
        super::peer_files(br#"{"version":1,"saved_at":0,"peers":[]}"#);
        for garbage in [
            &b""[..],
            b"\0",
            b"[",
            b"{\"max_peers\":-1}",
            b"{}\0=\n__=1\nX__=2",
        ] {
            super::config(garbage);
            super::peer_files(garbage);
        }
        let _ = std::fs::remove_dir_all(super::scratch_dir());
    }
}
