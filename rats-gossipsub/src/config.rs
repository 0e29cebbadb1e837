//! The `gossipsub` configuration section.

use serde::{Deserialize, Serialize};

pub use crate::score::ScoreConfig;

/// Configuration of the publish/subscribe service (config section `gossipsub`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct GossipsubConfig {
    /// Target number of mesh peers per topic (D).
    pub mesh_n: usize,
    /// Below this many mesh peers the heartbeat grafts more (D_low).
    pub mesh_n_low: usize,
    /// Above this many mesh peers the heartbeat prunes some (D_high).
    pub mesh_n_high: usize,
    /// Time between two heartbeats, in ms.
    pub heartbeat_ms: u64,
    /// How long a message id is remembered, so each message is delivered once, in seconds.
    pub seen_ttl_secs: u64,
    /// Most message ids remembered at once.
    pub seen_max: usize,
    /// Largest payload accepted or published.
    pub max_message_size: usize,
    /// Longest topic name, in bytes.
    pub max_topic_len: usize,
    /// Most topics one peer may announce.
    pub max_peer_topics: usize,
    /// Send our own messages to every peer subscribed to the topic, not only the mesh (or the
    /// fanout, for topics we publish to without subscribing).
    pub flood_publish: bool,
    /// How long the fanout of a topic we publish to without subscribing lives after our last
    /// publish, in seconds.
    pub fanout_ttl_secs: u64,
    /// How long a pruned peer must wait before grafting again, in seconds.
    pub prune_backoff_secs: u64,
    /// Peers outside the mesh told what we have (IHAVE) per topic at each heartbeat (D_lazy).
    pub gossip_lazy: usize,
    /// Heartbeats a message stays in the message cache (answering IWANT).
    pub history_length: usize,
    /// Of those, the newest ones advertised with IHAVE.
    pub history_gossip: usize,
    /// IHAVE messages taken from one peer per heartbeat.
    pub max_ihave_messages: usize,
    /// Message ids asked from one peer (IWANT) per heartbeat.
    pub max_iwant_ids: usize,
    /// Times one message is sent again to one peer per heartbeat on IWANT.
    pub gossip_retransmission: u8,
    /// Peers offered with a PRUNE that refuses a full mesh or trims one (peer exchange).
    pub prune_peers: usize,
    /// Peers from a PRUNE we dial at most (0: ignore peer exchange).
    pub px_connect_max: usize,
    /// Least score of the pruning peer for its peer list to be used.
    pub accept_px_threshold: f64,
    /// Peer scoring.
    pub score: ScoreConfig,
}

impl Default for GossipsubConfig {
    fn default() -> Self {
        GossipsubConfig {
            mesh_n: 6,
            mesh_n_low: 5,
            mesh_n_high: 12,
            heartbeat_ms: 1000,
            seen_ttl_secs: 120,
            seen_max: 100_000,
            max_message_size: 1 << 20,
            max_topic_len: 256,
            max_peer_topics: 1024,
            flood_publish: true,
            fanout_ttl_secs: 60,
            prune_backoff_secs: 60,
            gossip_lazy: 6,
            history_length: 5,
            history_gossip: 3,
            max_ihave_messages: 10,
            max_iwant_ids: 5000,
            gossip_retransmission: 3,
            prune_peers: 16,
            px_connect_max: 8,
            accept_px_threshold: 0.0,
            score: ScoreConfig::default(),
        }
    }
}

/// Which rule a [`GossipsubConfig`] breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The mesh bounds are out of order, or D is 0.
    #[error("need 0 < mesh_n and mesh_n_low <= mesh_n <= mesh_n_high")]
    MeshBounds,
    /// `heartbeat_ms` is below 10 ms or above one hour.
    #[error("heartbeat_ms must be between 10 ms and one hour")]
    Heartbeat,
    /// `max_topic_len` does not fit the wire's u16 length.
    #[error("max_topic_len must be at most 65535")]
    TopicLenTooLarge,
    /// A limit that must be at least 1 is 0.
    #[error("{field} must be at least 1")]
    Zero {
        /// The setting.
        field: &'static str,
    },
}

impl GossipsubConfig {
    /// Checks the values; the error names the rule broken.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.mesh_n_low <= self.mesh_n && self.mesh_n <= self.mesh_n_high) || self.mesh_n == 0
        {
            return Err(ConfigError::MeshBounds);
        }
        if !(10..=3_600_000).contains(&self.heartbeat_ms) {
            return Err(ConfigError::Heartbeat);
        }
        if self.max_topic_len > u16::MAX as usize {
            return Err(ConfigError::TopicLenTooLarge);
        }
        for (field, value) in [
            ("seen_max", self.seen_max),
            ("max_topic_len", self.max_topic_len),
            ("max_peer_topics", self.max_peer_topics),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { field });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_broken_rule_is_named() {
        assert_eq!(GossipsubConfig::default().validate(), Ok(()));
        let cases = [
            (
                GossipsubConfig {
                    mesh_n_low: 7,
                    ..GossipsubConfig::default()
                },
                ConfigError::MeshBounds,
            ),
            (
                GossipsubConfig {
                    mesh_n: 0,
                    mesh_n_low: 0,
                    ..GossipsubConfig::default()
                },
                ConfigError::MeshBounds,
            ),
            (
                GossipsubConfig {
                    heartbeat_ms: 9,
                    ..GossipsubConfig::default()
                },
                ConfigError::Heartbeat,
            ),
            (
                GossipsubConfig {
                    max_topic_len: 65_536,
                    ..GossipsubConfig::default()
                },
                ConfigError::TopicLenTooLarge,
            ),
            (
                GossipsubConfig {
                    max_peer_topics: 0,
                    ..GossipsubConfig::default()
                },
                ConfigError::Zero {
                    field: "max_peer_topics",
                },
            ),
        ];
        for (config, want) in cases {
            assert_eq!(config.validate(), Err(want));
        }
    }
}
