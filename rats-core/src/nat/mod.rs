//! The [`NatStrategy`] contract: ways to reach a peer that a plain dial cannot.

use async_trait::async_trait;

mod context;

pub use crate::reachability::NatType;
pub use context::NatContext;

use crate::address::Address;
use crate::identity::PeerId;
use crate::transport::RawConnection;

/// Largest signal payload (a wire rule).
pub const MAX_SIGNAL_PAYLOAD: usize = 2048;
/// Longest NAT strategy name in a signal.
pub const MAX_SIGNAL_NAME: usize = 32;

/// What is known of the peer we want.
#[derive(Clone, Debug)]
pub struct NatTarget {
    /// The peer, when known.
    pub peer: Option<PeerId>,
    /// Addresses it is believed to have.
    pub addrs: Vec<Address>,
}

/// A payload from another peer for this strategy (see [`NatContext::send_signal`]).
#[derive(Clone, Debug)]
pub struct Signal {
    /// Who wrote it.
    pub from: PeerId,
    /// The connected peer that delivered it: `from` itself, or a peer passing it on.
    pub via: PeerId,
    /// The payload (at most [`MAX_SIGNAL_PAYLOAD`] bytes).
    pub payload: Vec<u8>,
}

/// What a strategy produced.
pub enum NatConnection {
    /// A byte stream the node runs its handshake on, as the initiator.
    Raw {
        /// The stream.
        raw: RawConnection,
        /// How it was made, for `PeerInfo::method` (`mapped`, `punched-udp`, ...).
        method: &'static str,
    },
    /// The strategy already handed a connection to the node (through
    /// [`NatContext::establish`]), e.g. because the other side dialed it: the peer is
    /// connected.
    Established(PeerId),
}

impl std::fmt::Debug for NatConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatConnection::Raw { raw, method } => f
                .debug_struct("Raw")
                .field("remote", &raw.remote_addr)
                .field("method", method)
                .finish(),
            NatConnection::Established(p) => f.debug_tuple("Established").field(p).finish(),
        }
    }
}

/// Errors of NAT strategies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatError {
    /// This strategy does not apply to the target.
    #[error("strategy does not apply: {0}")]
    NotApplicable(String),
    /// It applied and failed (the strategy's own error, as the source).
    #[error(transparent)]
    Failed(crate::BoxError),
}

/// One way of getting a byte stream to a peer through NATs (port mapping, hole punching,
/// relay...), or knowledge about our NAT (STUN). The node tries strategies in order of
/// [`cost`](NatStrategy::cost) when a direct dial fails; the stream then goes through the usual
/// encryption handshake.
///
/// `Any` is a supertrait so an application can reach a plugin's own API
/// (`Node::nat_plugin::<T>()`).
#[async_trait]
pub trait NatStrategy: std::any::Any + Send + Sync + 'static {
    /// Short name (`upnp`, `holepunch`, `turn`...).
    fn name(&self) -> &'static str;
    /// Lower is tried first (a relay is expensive, a mapped port is cheap).
    fn cost(&self) -> u32;
    /// Tries to produce a connection to the target.
    async fn connect(&self, target: &NatTarget) -> Result<NatConnection, NatError>;
    /// Whether the node should also try this strategy on a connection that was made through a
    /// relay, to replace it with a direct one in the background (hole punching does).
    fn upgrades_relayed(&self) -> bool {
        false
    }
    /// A payload another peer sent this strategy. Called on the connection's reader: must not
    /// block (spawn work through the context instead).
    fn on_signal(&self, signal: Signal) {
        let _ = signal;
    }
    /// Called once when the node starts (background work: probing, mapping, keepalives).
    /// The context's source name is the strategy's name.
    async fn start(&self, ctx: NatContext) -> Result<(), NatError> {
        let _ = ctx;
        Ok(())
    }
    /// Called when the node stops.
    async fn stop(&self) {}
}
