//! The [`NatStrategy`] contract: ways to reach a peer that a plain dial cannot.

use async_trait::async_trait;

use crate::address::Address;
use crate::identity::PeerId;
use crate::node::DiscoveryContext;
use crate::transport::RawConnection;

/// What is known of the peer we want.
#[derive(Clone, Debug)]
pub struct NatTarget {
    /// The peer, when known.
    pub peer: Option<PeerId>,
    /// Addresses it is believed to have.
    pub addrs: Vec<Address>,
}

/// Errors of NAT strategies.
#[derive(Debug, thiserror::Error)]
pub enum NatError {
    /// This strategy does not apply to the target.
    #[error("strategy does not apply: {0}")]
    NotApplicable(String),
    /// It applied and failed.
    #[error("{0}")]
    Failed(String),
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
    /// Tries to produce a raw connection to the target.
    async fn connect(&self, target: &NatTarget) -> Result<RawConnection, NatError>;
    /// Called once when the node starts (background work: probing, mapping, keepalives).
    /// The context's source name is the strategy's name.
    async fn start(&self, ctx: DiscoveryContext) -> Result<(), NatError> {
        let _ = ctx;
        Ok(())
    }
    /// Called when the node stops.
    async fn stop(&self) {}
}
