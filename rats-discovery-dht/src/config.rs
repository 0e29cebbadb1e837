//! The `dht` configuration section.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Well-known public DHT routers, used when no bootstrap nodes are configured.
pub const PUBLIC_ROUTERS: &[&str] = &[
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
    "dht.libtorrent.org:25401",
];

/// DHT settings (config section `dht`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DhtConfig {
    /// UDP port of the DHT node (0 = any free port). The same port is used on IPv4 and IPv6
    /// when both are on and it is free on both.
    pub port: u16,
    /// Run an IPv4 node.
    pub ipv4: bool,
    /// Run an IPv6 node too (BEP 32).
    pub ipv6: bool,
    /// IPv4 address to bind (default all interfaces).
    pub bind_v4: Ipv4Addr,
    /// IPv6 address to bind (default all interfaces).
    pub bind_v6: Ipv6Addr,
    /// Bootstrap nodes as `host:port`; `None` = the public routers.
    pub bootstrap: Option<Vec<String>>,
    /// Seconds between lookups of our discovery hash while we have enough peers.
    pub interval_secs: u64,
    /// Seconds between lookups while we have fewer than `few_peers` peers.
    pub fast_interval_secs: u64,
    /// Below this many connected peers, look up at the fast interval.
    pub few_peers: usize,
    /// Seconds between announces of our discovery hash (BEP 5 peers expire after ~30 min).
    pub announce_interval_secs: u64,
    /// Milliseconds before an unanswered query counts as failed.
    pub request_timeout_ms: u64,
    /// Most queries we send per second (all lookups, pings and announces together).
    pub max_queries_per_sec: u32,
    /// Most queries we answer per second from one IP address.
    pub max_inbound_per_ip_per_sec: u32,
    /// Most queries we answer per second in all.
    pub max_inbound_per_sec: u32,
    /// Most bytes of answers we send per second (answers beyond it are not sent).
    pub max_reply_bytes_per_sec: u32,
    /// At most one routing-table node per public IP per bucket.
    pub restrict_routing_ips: bool,
    /// Take a BEP 42 node id for our public address once peers agree on it.
    pub secure_node_id: bool,
    /// Save good nodes in the data directory and start from them next time.
    pub save_nodes: bool,
    /// Most info-hashes whose announces we store.
    pub max_stored_hashes: usize,
    /// Most peers stored per info-hash.
    pub max_peers_per_hash: usize,
    /// Announce our discovery hash and look it up periodically (the discovery loop). Off: the
    /// node still serves the DHT and answers `find_peers`/`announce` calls.
    pub discover: bool,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            port: 0,
            ipv4: true,
            ipv6: true,
            bind_v4: Ipv4Addr::UNSPECIFIED,
            bind_v6: Ipv6Addr::UNSPECIFIED,
            bootstrap: None,
            interval_secs: 300,
            fast_interval_secs: 15,
            few_peers: 3,
            announce_interval_secs: 15 * 60,
            request_timeout_ms: 2000,
            max_queries_per_sec: 200,
            max_inbound_per_ip_per_sec: 50,
            max_inbound_per_sec: 1000,
            max_reply_bytes_per_sec: 64 * 1024,
            restrict_routing_ips: true,
            secure_node_id: true,
            save_nodes: true,
            max_stored_hashes: 2000,
            max_peers_per_hash: 100,
            discover: true,
        }
    }
}

impl DhtConfig {
    /// The bootstrap list in effect.
    pub fn bootstrap_nodes(&self) -> Vec<String> {
        match &self.bootstrap {
            Some(list) => list.clone(),
            None => PUBLIC_ROUTERS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.clamp(50, 60_000))
    }

    /// Checks values that would make the node misbehave; the error names the broken rule.
    pub fn validate(&self) -> Result<(), DhtConfigError> {
        if !self.ipv4 && !self.ipv6 {
            return Err(DhtConfigError::NoAddressFamily);
        }
        if self.max_queries_per_sec == 0 {
            return Err(DhtConfigError::NoQueries);
        }
        if self.max_reply_bytes_per_sec < MIN_REPLY_BYTES_PER_SEC {
            return Err(DhtConfigError::ReplyBudgetTooSmall(
                self.max_reply_bytes_per_sec,
            ));
        }
        if self.interval_secs == 0 {
            return Err(DhtConfigError::ZeroInterval("interval_secs"));
        }
        if self.fast_interval_secs == 0 {
            return Err(DhtConfigError::ZeroInterval("fast_interval_secs"));
        }
        Ok(())
    }
}

/// The least `max_reply_bytes_per_sec`: below it, not even one full answer fits in a second.
pub const MIN_REPLY_BYTES_PER_SEC: u32 = 2048;

/// A `dht` section that would make the node misbehave ([`DhtConfig::validate`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DhtConfigError {
    /// `ipv4` and `ipv6` are both off: the node would have no socket.
    #[error("ipv4 and ipv6 are both off")]
    NoAddressFamily,
    /// `max_queries_per_sec` is 0: the node could not send a single query.
    #[error("max_queries_per_sec must be at least 1")]
    NoQueries,
    /// `max_reply_bytes_per_sec` (the value given) is below [`MIN_REPLY_BYTES_PER_SEC`].
    #[error("max_reply_bytes_per_sec must be at least {MIN_REPLY_BYTES_PER_SEC}, not {0}")]
    ReplyBudgetTooSmall(u32),
    /// A lookup interval (the key named) is 0 seconds.
    #[error("{0} must be at least 1 second")]
    ZeroInterval(&'static str),
}

impl DhtConfigError {
    /// The key of the `dht` section that breaks the rule (`None` when two keys do together).
    pub fn key(&self) -> Option<&'static str> {
        match self {
            DhtConfigError::NoAddressFamily => None,
            DhtConfigError::NoQueries => Some("max_queries_per_sec"),
            DhtConfigError::ReplyBudgetTooSmall(_) => Some("max_reply_bytes_per_sec"),
            DhtConfigError::ZeroInterval(key) => Some(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_broken_rule() {
        assert_eq!(DhtConfig::default().validate(), Ok(()));
        let check = |edit: fn(&mut DhtConfig)| {
            let mut c = DhtConfig::default();
            edit(&mut c);
            c.validate().expect_err("invalid")
        };
        let e = check(|c| {
            c.ipv4 = false;
            c.ipv6 = false;
        });
        assert_eq!(
            (e.clone(), e.key()),
            (DhtConfigError::NoAddressFamily, None)
        );
        assert_eq!(
            check(|c| c.max_queries_per_sec = 0),
            DhtConfigError::NoQueries
        );
        let e = check(|c| c.max_reply_bytes_per_sec = 2047);
        assert_eq!(e, DhtConfigError::ReplyBudgetTooSmall(2047));
        assert_eq!(e.key(), Some("max_reply_bytes_per_sec"));
        assert_eq!(
            check(|c| c.interval_secs = 0),
            DhtConfigError::ZeroInterval("interval_secs")
        );
        let e = check(|c| c.fast_interval_secs = 0);
        assert_eq!(e, DhtConfigError::ZeroInterval("fast_interval_secs"));
        assert_eq!(
            e.to_string(),
            "fast_interval_secs must be at least 1 second"
        );
    }
}
