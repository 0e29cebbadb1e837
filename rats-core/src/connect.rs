//! Why a connection could not be made: the errors of dialing, shared by the runtime and the
//! plugin contexts that dial.

use crate::address::Address;
use crate::encryption::EncryptionError;
use crate::identity::PeerId;
use crate::transport::TransportError;

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The text given is not an address.
    #[error(transparent)]
    BadAddress(#[from] crate::address::AddressError),
    /// No linked transport handles the address.
    #[error("no transport for address {0}")]
    NoTransport(Address),
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The handshake failed (including a protocol mismatch or a remote rejection).
    #[error("handshake: {0}")]
    Handshake(#[from] EncryptionError),
    /// No connection within the dial timeout.
    #[error("no connection within {0:?} (dial_timeout)")]
    DialTimeout(std::time::Duration),
    /// Connected, but the handshake did not finish in time.
    #[error(
        "connected, but no handshake within {0:?} (handshake_timeout): is it a rats node, and \
         reachable both ways?"
    )]
    HandshakeTimeout(std::time::Duration),
    /// The address is our own node.
    #[error("refusing to connect to ourselves")]
    SelfConnection,
    /// A connection limit refused it.
    #[error("{0}")]
    Limit(#[from] LimitError),
    /// The peer's Hello was malformed.
    #[error("bad hello from peer: {0}")]
    BadHello(#[source] HelloError),
    /// The node is shutting down.
    #[error("node is shutting down")]
    ShuttingDown,
    /// No address to try, or none that the connect strategy allows.
    #[error("no address to connect to that the connect strategy allows")]
    NoAddress,
    /// The connection reached another peer than the one wanted (and was closed).
    #[error("reached another peer ({})", .0.short())]
    UnexpectedPeer(PeerId),
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// `max_peers` reached.
    #[error("too many peers")]
    TooManyPeers,
    /// `max_pending_handshakes` reached.
    #[error("too many pending handshakes")]
    TooManyPending,
    /// `max_pending_per_ip` reached for this IP.
    #[error("too many pending handshakes from this address")]
    TooManyFromIp,
    /// `max_connections_per_ip` reached for this IP.
    #[error("too many connections from this address")]
    TooManyConnectionsFromIp,
}

/// Why a peer's Hello (sent inside the handshake) was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelloError {
    /// Not the expected JSON.
    #[error("not a hello: {0}")]
    Json(#[source] serde_json::Error),
    /// More addresses or services than a Hello may list.
    #[error("hello lists too many addresses or services")]
    TooMany,
}
