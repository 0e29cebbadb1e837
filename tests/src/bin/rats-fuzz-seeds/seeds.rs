//! Where seeds go: `<out>/<target>/<name>`, one file per input, duplicates (same bytes for the
//! same target) dropped, and the size limits the fuzzer's corpora should keep.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// Largest seed (libFuzzer's default `-max_len` territory; bigger inputs only slow it down).
pub const MAX_SEED: usize = 64 * 1024;
/// Largest seed of the `frames` target (a recorded stream, with its cut-size byte).
pub const MAX_FRAMES_SEED: usize = 256 * 1024;

/// Every target the fuzz crate has (`fuzz/fuzz_targets/*.rs`).
pub const TARGETS: &[&str] = &[
    "frames",
    "reassembly",
    "control",
    "hello",
    "message",
    "address",
    "handshake_payload",
    "identity_key_file",
    "transfer_wire",
    "transfer_path",
    "transfer_state",
    "gossip_wire",
    "gossip_router",
    "dht_krpc",
    "dht_compact",
    "dht_saved_nodes",
    "mdns_txt",
    "stun",
    "turn",
    "holepunch",
    "ice_offer",
    "config",
    "peer_files",
];

/// The seed directory being written.
pub struct Seeds {
    root: PathBuf,
    seen: HashSet<(String, Vec<u8>)>,
    names: BTreeMap<String, BTreeSet<String>>,
}

impl Seeds {
    /// Starts `<root>/<target>` afresh for every target (old seeds of a target are removed so
    /// a regeneration leaves no stale ones); other files in `root` are left alone.
    pub fn create(root: &Path) -> std::io::Result<Seeds> {
        for t in TARGETS {
            let dir = root.join(t);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            std::fs::create_dir_all(&dir)?;
        }
        Ok(Seeds {
            root: root.to_path_buf(),
            seen: HashSet::new(),
            names: BTreeMap::new(),
        })
    }

    /// Writes one seed; the same bytes twice for one target are kept once, a name used twice
    /// gets `-2`, `-3`, ... Returns whether it was written. Panics on a seed over the limit or
    /// an unknown target (a bug of this program, not of the traffic).
    pub fn add(&mut self, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<bool> {
        assert!(TARGETS.contains(&target), "unknown fuzz target {target}");
        let limit = if target == "frames" {
            MAX_FRAMES_SEED
        } else {
            MAX_SEED
        };
        assert!(
            bytes.len() <= limit,
            "seed {target}/{name} is {} bytes (limit {limit})",
            bytes.len()
        );
        if !self.seen.insert((target.to_string(), bytes.to_vec())) {
            return Ok(false);
        }
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let taken = self.names.entry(target.to_string()).or_default();
        let mut file = clean.clone();
        let mut n = 2;
        while taken.contains(&file) {
            file = format!("{clean}-{n}");
            n += 1;
        }
        taken.insert(file.clone());
        std::fs::write(self.root.join(target).join(&file), bytes)?;
        Ok(true)
    }

    /// Seeds written per target.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        TARGETS
            .iter()
            .map(|t| (*t, self.names.get(*t).map_or(0, BTreeSet::len)))
            .collect()
    }
}
