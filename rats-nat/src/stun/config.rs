//! The `stun` configuration section.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stun::Retransmit;

/// Longest wait for resolving a server name.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

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

    /// The servers in effect, resolved (names with a timeout, IPv4 only; IP literals at once).
    pub async fn resolved_servers(&self) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for s in self.server_list() {
            if let Ok(a) = s.parse::<SocketAddr>() {
                out.push(a);
                continue;
            }
            if let Ok(Ok(addrs)) =
                tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(s.as_str())).await
            {
                out.extend(addrs.filter(SocketAddr::is_ipv4).take(1));
            }
        }
        out
    }

    /// The retransmission timing in effect (clamped to sane bounds).
    pub fn timing(&self) -> Retransmit {
        Retransmit {
            rto: Duration::from_millis(self.rto_ms.clamp(10, 10_000)),
            tries: self.tries.clamp(1, 10),
        }
    }
}
