//! What the mDNS plugin tells the application.

use std::net::SocketAddr;

use rats_core::PeerId;

/// A DNS-SD instance of our service type seen on the local network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdnsService {
    /// Full instance name, e.g. `rats-3f2a….​_rats._tcp.local.`.
    pub instance: String,
    /// The peer id from its TXT record (`None` if it has none: not a rats node, or a foreign
    /// implementation).
    pub peer: Option<PeerId>,
    /// Protocol version from its TXT record.
    pub version: Option<String>,
    /// Where it listens (addresses from its A/AAAA records, port from its SRV record).
    pub addrs: Vec<SocketAddr>,
    /// Whether it speaks our protocol and version (only those are dialed).
    pub compatible: bool,
}

/// mDNS events (also reflected on the node's bus as `PeerDiscovered` / `PeerLost` with
/// source `mdns`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MdnsEvent {
    /// An instance appeared or changed its addresses.
    Discovered(MdnsService),
    /// An instance said goodbye or its records expired.
    Lost {
        /// Full instance name.
        instance: String,
        /// Its peer id, if its TXT record had one.
        peer: Option<PeerId>,
    },
}
