//! The `transfer` configuration section.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Smallest chunk size accepted from configuration or from a peer.
pub const MIN_CHUNK_SIZE: u32 = 4 * 1024;
/// Largest chunk size accepted from configuration or from a peer.
pub const MAX_CHUNK_SIZE: u32 = 4 * 1024 * 1024;

/// Configuration of the transfer service (config section `transfer`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TransferConfig {
    /// Bytes per chunk sent (each chunk is hashed and acknowledged on its own).
    pub chunk_size: u32,
    /// Chunks in flight (sent, not yet acknowledged) per transfer.
    pub window: u32,
    /// Largest single file accepted from a peer.
    pub max_file_size: u64,
    /// Largest total of one incoming transfer (all files of a directory).
    pub max_transfer_size: u64,
    /// Most files (and directories) in one incoming transfer; also the most entries of a
    /// directory we send.
    pub max_files: u32,
    /// Most offers and requests of one peer waiting for an answer at once.
    pub max_pending_per_peer: u32,
    /// Most transfers (both directions, all peers) alive at once, including paused and
    /// waiting-for-reconnect ones.
    pub max_transfers: u32,
    /// Bytes of free space kept on the destination's file system beyond the announced size.
    pub free_space_margin: u64,
    /// How long an offer waits for the accept callback (and a pull request for the serve
    /// callback) before it is rejected, in ms.
    pub offer_timeout_ms: u64,
    /// How long sent chunks wait for an acknowledgement before they are sent again, in ms.
    pub chunk_timeout_ms: u64,
    /// Least time between two progress events of one transfer, in ms.
    pub progress_interval_ms: u64,
    /// How often a receiving transfer saves its resume state, in ms.
    pub save_interval_ms: u64,
    /// Saved transfers whose state was last saved longer ago than this are removed at
    /// start, in seconds.
    pub resume_ttl_secs: u64,
    /// Where partial data and resume state live (default: `<data dir>/transfers`, or
    /// `rats-transfers/<local peer id>` in the system temp directory without a data
    /// directory).
    pub temp_dir: Option<PathBuf>,
    /// A folder served to every peer that pulls (`request_file`); nothing outside it is ever
    /// served. Unset (the default): pulls are refused unless a serve callback decides.
    pub shared_root: Option<PathBuf>,
    /// The only peers that may push (offer) or pull (request) anything. Empty (the default):
    /// every connected peer may, and the accept and serve callbacks (or `shared_root`) decide.
    pub trusted_peers: Vec<rats_core::PeerId>,
}

impl Default for TransferConfig {
    fn default() -> Self {
        TransferConfig {
            chunk_size: 256 * 1024,
            window: 32,
            max_file_size: 1 << 40,
            max_transfer_size: 1 << 40,
            max_files: 100_000,
            max_pending_per_peer: 8,
            max_transfers: 256,
            free_space_margin: 64 * 1024 * 1024,
            offer_timeout_ms: 120_000,
            chunk_timeout_ms: 30_000,
            progress_interval_ms: 250,
            save_interval_ms: 1_000,
            resume_ttl_secs: 7 * 24 * 3600,
            temp_dir: None,
            shared_root: None,
            trusted_peers: Vec::new(),
        }
    }
}

impl TransferConfig {
    /// Whether `peer` may push or pull (see [`trusted_peers`](Self::trusted_peers)).
    pub fn trusts(&self, peer: &rats_core::PeerId) -> bool {
        self.trusted_peers.is_empty() || self.trusted_peers.contains(peer)
    }

    /// How long a sender waits for the answer to its offer, and a requester for the offer:
    /// the other side's decision time plus a minute for hashing what it serves.
    pub fn answer_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.offer_timeout_ms.saturating_add(60_000))
    }

    /// Checks the values; the error names the key that is out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size) {
            return Err(ConfigError::ChunkSize(self.chunk_size));
        }
        if !(1..=MAX_WINDOW).contains(&self.window) {
            return Err(ConfigError::Window(self.window));
        }
        for (key, ms) in [
            ("offer_timeout_ms", self.offer_timeout_ms),
            ("chunk_timeout_ms", self.chunk_timeout_ms),
            ("save_interval_ms", self.save_interval_ms),
        ] {
            if !(MIN_TIMER_MS..=DAY_MS).contains(&ms) {
                return Err(ConfigError::Timer { key, ms });
            }
        }
        if self.progress_interval_ms > DAY_MS {
            return Err(ConfigError::ProgressInterval(self.progress_interval_ms));
        }
        for (key, n) in [
            ("max_pending_per_peer", self.max_pending_per_peer),
            ("max_transfers", self.max_transfers),
        ] {
            if n == 0 {
                return Err(ConfigError::Zero { key });
            }
        }
        Ok(())
    }
}

/// Most chunks in flight a configuration may ask for.
const MAX_WINDOW: u32 = 1024;
/// Shortest timeout or save interval accepted, in ms.
const MIN_TIMER_MS: u64 = 100;
/// Longest timer accepted, in ms.
const DAY_MS: u64 = 24 * 3600 * 1000;

/// Why [`TransferConfig::validate`] refused a configuration: each variant is one rule, and
/// [`key`](Self::key) names the value that broke it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `chunk_size` is outside [`MIN_CHUNK_SIZE`]..=[`MAX_CHUNK_SIZE`].
    #[error("chunk_size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE}, not {0}")]
    ChunkSize(u32),
    /// `window` is outside 1..=1024.
    #[error("window must be between 1 and {MAX_WINDOW}, not {0}")]
    Window(u32),
    /// A timeout or interval (`offer_timeout_ms`, `chunk_timeout_ms`, `save_interval_ms`) is
    /// outside 100 ms..=one day.
    #[error("{key} must be between {MIN_TIMER_MS} ms and one day, not {ms} ms")]
    Timer {
        /// The key.
        key: &'static str,
        /// Its value.
        ms: u64,
    },
    /// `progress_interval_ms` is longer than one day.
    #[error("progress_interval_ms must be at most one day, not {0} ms")]
    ProgressInterval(u64),
    /// A limit that must be at least 1 (`max_pending_per_peer`, `max_transfers`) is 0.
    #[error("{key} must be at least 1")]
    Zero {
        /// The key.
        key: &'static str,
    },
}

impl ConfigError {
    /// The key of the `transfer` section whose value was refused.
    pub fn key(&self) -> &'static str {
        match self {
            ConfigError::ChunkSize(_) => "chunk_size",
            ConfigError::Window(_) => "window",
            ConfigError::Timer { key, .. } | ConfigError::Zero { key } => key,
            ConfigError::ProgressInterval(_) => "progress_interval_ms",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_refused_by_the_rule_they_break() {
        assert_eq!(TransferConfig::default().validate(), Ok(()));
        let check = |bad: TransferConfig, key: &str| {
            let e = bad.validate().expect_err("refused");
            assert_eq!(e.key(), key, "{e}");
            assert!(e.to_string().contains(key), "{e}");
            e
        };
        let e = check(
            TransferConfig {
                chunk_timeout_ms: 0,
                ..TransferConfig::default()
            },
            "chunk_timeout_ms",
        );
        assert!(matches!(e, ConfigError::Timer { ms: 0, .. }));
        let e = check(
            TransferConfig {
                offer_timeout_ms: u64::MAX,
                ..TransferConfig::default()
            },
            "offer_timeout_ms",
        );
        assert!(matches!(e, ConfigError::Timer { ms: u64::MAX, .. }));
        let e = check(
            TransferConfig {
                window: 0,
                ..TransferConfig::default()
            },
            "window",
        );
        assert_eq!(e, ConfigError::Window(0));
        let e = check(
            TransferConfig {
                chunk_size: 1,
                ..TransferConfig::default()
            },
            "chunk_size",
        );
        assert_eq!(e, ConfigError::ChunkSize(1));
        let e = check(
            TransferConfig {
                progress_interval_ms: u64::MAX,
                ..TransferConfig::default()
            },
            "progress_interval_ms",
        );
        assert_eq!(e, ConfigError::ProgressInterval(u64::MAX));
        let e = check(
            TransferConfig {
                max_transfers: 0,
                ..TransferConfig::default()
            },
            "max_transfers",
        );
        assert!(matches!(e, ConfigError::Zero { .. }));
    }
}
