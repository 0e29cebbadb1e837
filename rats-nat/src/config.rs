//! The `stun` configuration section.

use serde::{Deserialize, Serialize};

/// Public STUN servers used when none are configured.
pub const PUBLIC_STUN_SERVERS: &[&str] = &["stun.l.google.com:19302", "stun.cloudflare.com:3478"];

/// STUN settings (config section `stun`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StunConfig {
    /// STUN servers as `host:port`; `None` = the public ones. The first to answer wins; NAT
    /// behaviour needs a server with an alternate address (RFC 5780, e.g. coturn with two IPs).
    pub servers: Option<Vec<String>>,
    /// Find our public address and NAT kind at start and every `refresh_secs` (only when the
    /// node listens beyond loopback).
    pub auto: bool,
    /// Seconds between automatic checks.
    pub refresh_secs: u64,
    /// First retransmission timeout in milliseconds (doubled on each try).
    pub rto_ms: u64,
    /// Requests per transaction.
    pub tries: u32,
}

impl Default for StunConfig {
    fn default() -> Self {
        StunConfig {
            servers: None,
            auto: true,
            refresh_secs: 300,
            rto_ms: 250,
            tries: 5,
        }
    }
}

impl StunConfig {
    /// The servers in effect.
    pub fn server_list(&self) -> Vec<String> {
        match &self.servers {
            Some(s) => s.clone(),
            None => PUBLIC_STUN_SERVERS.iter().map(|s| s.to_string()).collect(),
        }
    }
}
