//! Runs every seed written through its fuzz target's entry point (the same functions the
//! `fuzz/` targets call), so a seed that already breaks an assertion is reported here rather
//! than by the first fuzzing run.

use std::path::Path;

type Entry = fn(&[u8]);

/// The entry point of each target.
const ENTRIES: &[(&str, Entry)] = &[
    ("frames", rats_core::__fuzz::frames),
    ("reassembly", rats_core::__fuzz::reassembly),
    ("control", rats_core::__fuzz::control),
    ("hello", rats_core::__fuzz::hello),
    ("message", rats_core::__fuzz::message),
    ("address", rats_core::__fuzz::address),
    ("handshake_payload", rats_core::__fuzz::handshake_payload),
    ("identity_key_file", rats_core::__fuzz::identity_key_file),
    ("transfer_wire", rats_transfer::__fuzz::wire),
    ("transfer_path", rats_transfer::__fuzz::path),
    ("transfer_state", rats_transfer::__fuzz::state),
    ("gossip_wire", rats_gossipsub::__fuzz::wire),
    ("gossip_router", rats_gossipsub::__fuzz::router),
    ("dht_krpc", rats_discovery_dht::__fuzz::krpc),
    ("dht_compact", rats_discovery_dht::__fuzz::compact),
    ("dht_saved_nodes", rats_discovery_dht::__fuzz::saved_nodes),
    ("mdns_txt", rats::rats_discovery_mdns::__fuzz::txt),
    ("stun", rats_nat::__fuzz::stun),
    ("turn", rats_nat::__fuzz::turn),
    ("holepunch", rats_nat::__fuzz::holepunch),
    ("ice_offer", rats_nat::__fuzz::ice_offer),
    ("config", rats::rats_persist::__fuzz::config),
    ("peer_files", rats::rats_persist::__fuzz::peer_files),
];

/// Replays every seed below `root`; returns the seeds that panicked (`target/name`).
pub fn replay_all(root: &Path) -> std::io::Result<Vec<String>> {
    let mut failed = Vec::new();
    for (target, entry) in ENTRIES {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f)?;
            let entry = *entry;
            if std::panic::catch_unwind(move || entry(&bytes)).is_err() {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
                failed.push(format!("{target}/{}", name.unwrap_or_default()));
            }
        }
    }
    // The config target's scratch directory.
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("rats-fuzz-config-{}", std::process::id())),
    );
    Ok(failed)
}
