//! What the node knows about a connected peer, shared by the runtime and its plugins.

use std::time::{Duration, SystemTime};

use crate::address::Address;
use crate::identity::PeerId;
use crate::reachability::NatType;

/// How a connection was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionMethod {
    /// A plain dial or an accepted connection.
    Direct,
    /// Through a relaying transport (TURN).
    Relay,
    /// Made by a NAT strategy: its name for the way (`mapped`, `punched-udp`,
    /// `punched-tcp`, `ice`, ...).
    Nat(&'static str),
}

impl ConnectionMethod {
    /// The name used in events and the tool's output (`direct`, `relay`, `punched-udp`...).
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnectionMethod::Direct => "direct",
            ConnectionMethod::Relay => "relay",
            ConnectionMethod::Nat(name) => name,
        }
    }
}

impl ConnectionMethod {
    /// `direct` and `relay` as themselves, any other name as a NAT strategy's way.
    pub fn from_name(name: &'static str) -> Self {
        match name {
            "direct" => ConnectionMethod::Direct,
            "relay" => ConnectionMethod::Relay,
            other => ConnectionMethod::Nat(other),
        }
    }
}

impl std::fmt::Display for ConnectionMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ConnectionMethod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for ConnectionMethod {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What we know about a connected peer.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// Authenticated id (from the encryption handshake).
    pub peer_id: PeerId,
    /// Remote address of the connection.
    pub remote_addr: Address,
    /// Whether we dialed it.
    pub outbound: bool,
    /// Its agent string.
    pub agent: String,
    /// Where it listens (unspecified IPs replaced by the IP we reach it at).
    pub listen_addrs: Vec<Address>,
    /// Services it runs.
    pub services: Vec<String>,
    /// Whether the connection is encrypted.
    pub encrypted: bool,
    /// How the peer sees our address.
    pub observed_addr: Option<Address>,
    /// The NAT kind the peer says it is behind (its Hello), if it knows.
    pub nat: Option<NatType>,
    /// When it connected.
    pub connected_at: SystemTime,
    /// Last measured round-trip time (keepalive pings), if any.
    pub rtt: Option<Duration>,
    /// How the connection was made. A relayed connection may later be replaced by a direct
    /// one: the method then changes.
    pub method: ConnectionMethod,
    /// The transport carrying it (`tcp`, `quic`, `turn`, ...).
    pub transport: String,
}

impl PeerInfo {
    /// Whether the connection goes through a relay.
    pub fn is_relayed(&self) -> bool {
        self.method == ConnectionMethod::Relay || self.transport == "turn"
    }
}
