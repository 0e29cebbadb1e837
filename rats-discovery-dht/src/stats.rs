//! Counters and status of a DHT node.

use std::net::SocketAddr;

use serde::Serialize;

/// Statistics of one DHT node (one address family).
#[derive(Clone, Debug, Default, Serialize)]
pub struct DhtStats {
    /// Our node id (hex).
    pub node_id: String,
    /// The UDP address we are bound to.
    pub local_addr: Option<SocketAddr>,
    /// Our address as other nodes see it (BEP 42 `ip` votes), once they agree.
    pub external_addr: Option<SocketAddr>,
    /// Nodes in the routing table.
    pub routing_table_size: usize,
    /// The first bootstrap lookup has finished with answers.
    pub bootstrapped: bool,
    /// Queries sent.
    pub queries_sent: u64,
    /// Responses received to our queries.
    pub responses_received: u64,
    /// Our queries that timed out.
    pub timeouts: u64,
    /// Queries received from other nodes.
    pub queries_received: u64,
    /// Queries not answered because of the inbound rate limits.
    pub rate_limited: u64,
    /// Datagrams dropped as malformed (bad bencode, wrong types, truncated node lists...).
    pub malformed_dropped: u64,
    /// Responses dropped: unknown transaction, or from another address than we asked.
    pub unexpected_responses: u64,
    /// announce_peer queries accepted and stored.
    pub announces_stored: u64,
    /// announce_peer queries refused (bad token, store full).
    pub announces_refused: u64,
    /// Info-hashes with stored peers.
    pub stored_hashes: usize,
    /// Lookups finished.
    pub lookups_done: u64,
    /// Lookups in progress.
    pub lookups_running: usize,
}
