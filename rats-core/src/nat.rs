//! The [`NatStrategy`] contract: ways to reach a peer that a plain dial cannot.

use async_trait::async_trait;

use crate::address::Address;
use crate::identity::PeerId;
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
/// relay...). The node tries strategies in order of [`cost`](NatStrategy::cost) when a direct
/// dial fails; the stream then goes through the usual encryption handshake.
#[async_trait]
pub trait NatStrategy: Send + Sync + 'static {
    /// Short name (`upnp`, `holepunch`, `turn`...).
    fn name(&self) -> &'static str;
    /// Lower is tried first (a relay is expensive, a mapped port is cheap).
    fn cost(&self) -> u32;
    /// Tries to produce a raw connection to the target.
    async fn connect(&self, target: &NatTarget) -> Result<RawConnection, NatError>;
}
