//! [`NatContext`], a NAT strategy's handle on the node: everything a discovery plugin can do
//! (it dereferences to a [`DiscoveryContext`]), plus talking to the same strategy on other
//! peers and handing the node the connections it makes.

use std::ops::Deref;
use std::sync::Arc;

use crate::connect::ConnectError;
use crate::discovery::DiscoveryContext;
use crate::identity::PeerId;
use crate::nat::{MAX_SIGNAL_NAME, MAX_SIGNAL_PAYLOAD};
use crate::transport::{DatagramPath, PathEndpoint, RawConnection, TransportError};

/// A NAT strategy's handle on the node. Its source name is the strategy's name, which is also
/// the name its signals travel under.
#[derive(Clone, Debug)]
pub struct NatContext {
    pub(crate) base: DiscoveryContext,
}

impl Deref for NatContext {
    type Target = DiscoveryContext;

    fn deref(&self) -> &DiscoveryContext {
        &self.base
    }
}

impl NatContext {
    /// The connected peer that told us about `peer` (peer exchange), if we know one: likely
    /// connected to it, so a good peer to pass signals through.
    pub fn introducer(&self, peer: &PeerId) -> Option<PeerId> {
        self.base.host()?.introducer(peer)
    }

    /// Sends `payload` to the NAT strategy of the same name (this context's source) on peer
    /// `to`: directly when `via == to`, otherwise passed on by the connected peer `via`, which
    /// must itself be connected to `to`. Fire and forget (peers drop signals beyond a small
    /// budget per connection); false when `via` is not connected, its queue is full, or the
    /// payload is over [`MAX_SIGNAL_PAYLOAD`] bytes.
    pub fn send_signal(&self, via: &PeerId, to: &PeerId, payload: &[u8]) -> bool {
        let name = self.base.source;
        if payload.len() > MAX_SIGNAL_PAYLOAD || name.len() > MAX_SIGNAL_NAME {
            return false;
        }
        self.base
            .host()
            .is_some_and(|h| h.send_signal(via, to, name, payload))
    }

    /// Runs a linked transport that can (QUIC) over a datagram path the strategy opened (a
    /// punched UDP socket, an ICE pair): dial or accept byte streams on it, then
    /// [`establish`](Self::establish) them. With `accept` false, sessions the other end opens
    /// are refused. Fails with [`TransportError::NoDatagramTransport`] when no linked
    /// transport can.
    pub fn bind_path(
        &self,
        path: DatagramPath,
        accept: bool,
    ) -> Result<Arc<dyn PathEndpoint>, TransportError> {
        let host = self.base.host().ok_or(TransportError::Closed)?;
        host.bind_path(path, accept)
    }

    /// Whether a linked transport runs over datagram paths (see [`bind_path`](Self::bind_path)).
    pub fn runs_over_datagrams(&self) -> bool {
        self.base.host().is_some_and(|h| h.runs_over_datagrams())
    }

    /// Runs the node's handshake on a byte stream the strategy produced, as the initiator
    /// (`inbound == false`, we opened it) or the responder (the other side opened it), and
    /// registers the peer with `method` as its [`ConnectionMethod::Nat`] name. Connection
    /// limits apply. When the handshake shows another peer than `expected`, that connection is
    /// closed and the result is an error.
    ///
    /// [`ConnectionMethod::Nat`]: crate::peer::ConnectionMethod::Nat
    pub async fn establish(
        &self,
        raw: RawConnection,
        inbound: bool,
        method: &'static str,
        expected: Option<PeerId>,
    ) -> Result<PeerId, ConnectError> {
        let host = self.base.host().ok_or(ConnectError::ShuttingDown)?;
        host.establish(raw, inbound, method, expected).await
    }
}
