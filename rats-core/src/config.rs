//! Node configuration: limits and timeouts with sane defaults. Serializable so that
//! configuration files and environment layers (rats-persist) can fill it.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::encryption::ProtocolId;

/// A configuration value that breaks a rule: which key, and what the rule is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} {rule}")]
pub struct ConfigError {
    /// The key of the offending value (`max_peers`, `memory_per_ip`, ...).
    pub key: &'static str,
    /// The rule it breaks.
    pub rule: String,
}

/// Most peers one exchange message may list (a wire rule, not a setting, so that nodes
/// configured differently still agree).
pub const MAX_EXCHANGE_PEERS: usize = 64;

/// Default application protocol name.
pub const DEFAULT_PROTOCOL_NAME: &str = "rats";
/// Default application protocol version.
pub const DEFAULT_PROTOCOL_VERSION: &str = "1.0";

/// Everything a node needs besides its identity and plugins.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeConfig {
    /// Application protocol name; nodes with different names never connect.
    pub protocol_name: String,
    /// Application protocol version; nodes with different versions never connect.
    pub protocol_version: String,
    /// Addresses to listen on. `tcp:[::]:PORT` listens on IPv6 and IPv4.
    pub listen: Vec<Address>,
    /// Most connected peers; handshaking connections count too.
    pub max_peers: usize,
    /// Most connections in handshake at once.
    pub max_pending_handshakes: usize,
    /// Most connections in handshake from one IP address.
    pub max_pending_per_ip: usize,
    /// Most inbound connections (in handshake or established) from one IP address.
    pub max_connections_per_ip: usize,
    /// A connection that has not completed the handshake by then is closed.
    #[serde(with = "millis")]
    pub handshake_timeout: Duration,
    /// A dial that has not connected by then fails.
    #[serde(with = "millis")]
    pub dial_timeout: Duration,
    /// How long direct dials to a peer run alone before its relayed address joins the race
    /// (happy eyeballs: a direct path is preferred, but a peer behind a NAT that drops our
    /// connection attempts must not cost a whole dial timeout). Skipped when the peer said it
    /// is behind a NAT or firewall (its NAT kind comes with it in a peer exchange).
    #[serde(with = "millis")]
    pub relay_head_start: Duration,
    /// Send a ping when nothing was sent for this long.
    #[serde(with = "millis")]
    pub keepalive_interval: Duration,
    /// Close a connection when nothing was received for this long.
    #[serde(with = "millis")]
    pub idle_timeout: Duration,
    /// Close a connection whose peer has not taken our bytes for this long.
    #[serde(with = "millis")]
    pub write_timeout: Duration,
    /// Bytes queued per connection before senders wait (backpressure).
    pub send_queue_bytes: usize,
    /// Largest message accepted or sent.
    pub max_message_size: usize,
    /// Bytes that peers may make this node hold before the application sees them (partial
    /// messages being reassembled, messages queued for services), all peers together. See
    /// [`crate::budget`].
    pub memory_budget: usize,
    /// What one connection may make us hold (at least `max_message_size`, so that the
    /// largest message can arrive).
    pub memory_per_connection: usize,
    /// What all connections from one IP address may make us hold.
    pub memory_per_ip: usize,
    /// Exchange known peers' addresses with new peers.
    pub peer_exchange: bool,
    /// Which ways of connecting `connect_any` may use.
    pub connect_strategy: ConnectStrategy,
    /// Most peers listed in one peer-exchange message.
    pub max_exchange_peers: usize,
    /// Events buffered for the slowest event subscriber.
    pub event_capacity: usize,
    /// Agent string sent in the Hello.
    pub agent: String,
    /// Encryption plugin to use (`noise`).
    pub encryption: String,
    /// Plugins switched off by name even though they are linked.
    pub disabled_plugins: BTreeSet<String>,
    /// Per-plugin configuration sections (`dht`, `mdns`, `log`, ...): in a configuration file
    /// every key that is not one of the fields above is a plugin section, by plugin name.
    #[serde(flatten)]
    pub plugins: serde_json::Map<String, serde_json::Value>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            protocol_name: DEFAULT_PROTOCOL_NAME.into(),
            protocol_version: DEFAULT_PROTOCOL_VERSION.into(),
            listen: Vec::new(),
            max_peers: 128,
            max_pending_handshakes: 64,
            max_pending_per_ip: 16,
            max_connections_per_ip: 16,
            handshake_timeout: Duration::from_secs(10),
            dial_timeout: Duration::from_secs(10),
            relay_head_start: Duration::from_millis(750),
            keepalive_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            send_queue_bytes: 8 * 1024 * 1024,
            max_message_size: 16 * 1024 * 1024,
            memory_budget: 64 * 1024 * 1024,
            // A maximum-size message, and a file transfer's window of chunks beside it.
            memory_per_connection: 24 * 1024 * 1024,
            memory_per_ip: 32 * 1024 * 1024,
            peer_exchange: true,
            connect_strategy: ConnectStrategy::Auto,
            max_exchange_peers: 32,
            event_capacity: 1024,
            agent: concat!("rats/", env!("CARGO_PKG_VERSION")).into(),
            encryption: "noise".into(),
            disabled_plugins: BTreeSet::new(),
            plugins: serde_json::Map::new(),
        }
    }
}

/// Which ways of connecting to a peer are allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConnectStrategy {
    /// Direct addresses first (all at once), then relayed ones, then NAT strategies.
    #[default]
    Auto,
    /// Only direct addresses (no relay, no NAT strategies).
    DirectOnly,
    /// Only relayed addresses and NAT strategies.
    RelayOnly,
}

impl NodeConfig {
    /// The memory budget's limits.
    pub fn memory_limits(&self) -> crate::budget::MemoryLimits {
        crate::budget::MemoryLimits {
            total: self.memory_budget,
            per_connection: self.memory_per_connection,
            per_ip: self.memory_per_ip,
        }
    }

    /// The application protocol id.
    pub fn protocol(&self) -> ProtocolId {
        ProtocolId::new(&self.protocol_name, &self.protocol_version)
    }

    /// The names of the node's own settings (every other top-level key is a plugin section).
    pub fn field_names() -> Vec<String> {
        match serde_json::to_value(NodeConfig::default()) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Checks values that would make the node misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, rule: &str| {
            Err(ConfigError {
                key,
                rule: rule.to_string(),
            })
        };
        if self.protocol_name.contains('\0') {
            return bad("protocol_name", "must not contain NUL");
        }
        if self.protocol_version.contains('\0') {
            return bad("protocol_version", "must not contain NUL");
        }
        if self.protocol_name.trim().is_empty() {
            return bad("protocol_name", "must not be empty");
        }
        if self.max_peers == 0 {
            return bad("max_peers", "must be at least 1");
        }
        if self.max_message_size == 0 || self.max_message_size > u32::MAX as usize {
            return bad("max_message_size", "must be between 1 and 4 GiB - 1");
        }
        if self.memory_per_connection < self.max_message_size {
            return bad(
                "memory_per_connection",
                "must be at least max_message_size (the largest message must fit)",
            );
        }
        if self.memory_per_connection > self.memory_per_ip {
            return bad(
                "memory_per_ip",
                "memory limits must grow: memory_per_connection <= memory_per_ip <= memory_budget",
            );
        }
        if self.memory_per_ip > self.memory_budget {
            return bad(
                "memory_budget",
                "memory limits must grow: memory_per_connection <= memory_per_ip <= memory_budget",
            );
        }
        if self.send_queue_bytes < 64 * 1024 {
            return bad("send_queue_bytes", "must be at least 64 KiB");
        }
        if self.max_exchange_peers > MAX_EXCHANGE_PEERS {
            return bad(
                "max_exchange_peers",
                &format!("must be at most {MAX_EXCHANGE_PEERS}"),
            );
        }
        if self.keepalive_interval >= self.idle_timeout {
            return bad("keepalive_interval", "must be shorter than idle_timeout");
        }
        for (key, d) in [
            ("handshake_timeout", self.handshake_timeout),
            ("dial_timeout", self.dial_timeout),
            ("write_timeout", self.write_timeout),
            ("keepalive_interval", self.keepalive_interval),
        ] {
            if d < Duration::from_millis(10) {
                return bad(key, "must be at least 10 ms");
            }
        }
        Ok(())
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        // Past u64::MAX ms (about 585 million years) the longest writable: not a wrap.
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let c = NodeConfig::default();
        c.validate().expect("valid");
        let json = serde_json::to_string(&c).expect("ser");
        let back: NodeConfig = serde_json::from_str(&json).expect("de");
        assert_eq!(back.idle_timeout, c.idle_timeout);
        assert!(serde_json::from_str::<NodeConfig>(r#"{"max_peers":"x"}"#).is_err());
        let with_section: NodeConfig =
            serde_json::from_str(r#"{"max_peers":3,"dht":{"port":1}}"#).expect("section");
        assert_eq!(with_section.max_peers, 3);
        assert_eq!(with_section.plugins["dht"]["port"], 1);
        assert!(NodeConfig::field_names().contains(&"max_peers".to_string()));
        assert!(!NodeConfig::field_names().contains(&"plugins".to_string()));
    }

    #[test]
    fn invalid_values_say_which() {
        let bad = |edit: fn(&mut NodeConfig)| {
            let mut c = NodeConfig::default();
            edit(&mut c);
            c.validate().expect_err("invalid").key
        };
        assert_eq!(bad(|c| c.protocol_name = " ".into()), "protocol_name");
        assert_eq!(
            bad(|c| c.protocol_version = "1\0".into()),
            "protocol_version"
        );
        assert_eq!(bad(|c| c.max_peers = 0), "max_peers");
        assert_eq!(bad(|c| c.max_message_size = 0), "max_message_size");
        assert_eq!(
            bad(|c| c.memory_per_connection = c.max_message_size - 1),
            "memory_per_connection"
        );
        assert_eq!(
            bad(|c| c.memory_per_ip = c.memory_budget + 1),
            "memory_budget"
        );
        assert_eq!(
            bad(|c| c.memory_per_ip = c.memory_per_connection - 1),
            "memory_per_ip"
        );
        assert_eq!(bad(|c| c.send_queue_bytes = 1), "send_queue_bytes");
        assert_eq!(bad(|c| c.max_exchange_peers = 1000), "max_exchange_peers");
        assert_eq!(
            bad(|c| c.keepalive_interval = c.idle_timeout),
            "keepalive_interval"
        );
        assert_eq!(
            bad(|c| c.dial_timeout = Duration::from_millis(1)),
            "dial_timeout"
        );
        let e = NodeConfig {
            max_peers: 0,
            ..NodeConfig::default()
        }
        .validate()
        .expect_err("invalid");
        assert_eq!(e.to_string(), "max_peers must be at least 1");
    }
}
