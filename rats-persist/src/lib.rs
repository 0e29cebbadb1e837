//! # rats-persist
//!
//! Persistence for rats nodes, the way librats users know it, in the node's data directory:
//!
//! - `config.json`: the node configuration, merged with figment in the order defaults ←
//!   `config.json` ← `RATS_*` environment variables ← values set in code ([`load_config`]);
//! - `peers.rats`: the peers connected at the last stop; `peers_ever.rats`: every peer ever
//!   seen (bounded), with last-seen times and success counts;
//! - the [`PeerStore`] discovery plugin: reconnects to remembered peers on start, and to a peer
//!   whose connection dropped without a goodbye (timeouts, socket errors), with backoff and
//!   jitter; saves periodically and on shutdown.
//!
//! Every file is written crash-safely (temporary file, flush, rename); a corrupt file is moved
//! aside with a warning and the node starts without it. The identity key lives in its own file
//! with owner-only permissions (`rats_core::Identity::load_or_create`).
//!
//! Linking this crate registers the `peerstore` plugin; its settings are the `persist` section.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("rats-persist-doc-{}", std::process::id()));
//! let mut code = serde_json::Map::new();
//! code.insert("max_peers".into(), 12.into());
//! let loaded = rats_persist::load_config(&dir, &code, &[])?;
//! assert_eq!(loaded.config.max_peers, 12);
//! assert!(dir.join("config.json").exists());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod atomic;
mod backoff;
mod config;
mod peer_files;
mod store;

/// Entry points of the fuzz targets (`fuzz/`). Not public API: no stability promise.
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;

use rats_core::registry::{Plugin, PluginConfig, PluginError, PluginFactory, PluginKind};

pub use atomic::{Loaded, load_or_quarantine, quarantine, remove_stale_temp_files, write_atomic};
pub use backoff::Backoff;
pub use config::{CONFIG_FILE, ConfigError, ENV_PREFIX, LoadedConfig, load_config};
pub use peer_files::{
    EverPeer, FORMAT_VERSION, KnownPeer, PEERS_EVER_FILE, PEERS_FILE, PeerFileError, PeersEverFile,
    PeersFile, Versioned, parse as parse_peer_file,
};
pub use store::{PeerStore, PersistSettings};

/// The config section read by the peer store.
pub const SECTION: &str = "persist";

fn create(cfg: &PluginConfig) -> Result<Plugin, PluginError> {
    let settings: PersistSettings = cfg.parse()?;
    Ok(Plugin::Discovery(PeerStore::new(
        cfg.data_dir.clone(),
        settings,
    )))
}

rats_core::inventory::submit! {
    PluginFactory { name: "persist", kind: PluginKind::Discovery, create }
}
#[cfg(test)]
mod roundtrip_tests;
