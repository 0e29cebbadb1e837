//! What the router asks of the node (actions out) and what it reads from it (the [`Host`]).
//! The router never touches the network or the clock: the service runs these.

use bytes::Bytes;
use rats_core::SendError;
use rats_core::{Address, PeerId};

use crate::event::GossipEvent;

/// One thing the router wants done, in the order it was decided.
#[derive(Debug)]
pub(crate) enum Action {
    /// Queue one encoded RPC to `peer` without waiting; the outcome goes back to
    /// [`Router::on_send_result`](super::Router::on_send_result) with `purpose`.
    Send {
        /// The receiver.
        peer: PeerId,
        /// The encoded RPC (shared by every copy of one message).
        bytes: Bytes,
        /// Why it is sent, so a failure can be accounted for.
        purpose: Purpose,
    },
    /// Publish an event on the node's bus.
    Emit(GossipEvent),
    /// Dial a peer offered by peer exchange.
    Dial {
        /// The peer.
        peer: PeerId,
        /// Where it says it listens.
        addrs: Vec<Address>,
    },
    /// Disconnect a peer whose send queue kept refusing copies.
    DisconnectSlow(PeerId),
}

/// Why a [`Action::Send`] is sent: what its outcome changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Subscriptions, PRUNE, IHAVE, IWANT: a failure is only counted as a drop.
    Control,
    /// A GRAFT: the peer joined the topic's mesh when it was decided; a failed send takes
    /// it out again.
    Graft(String),
    /// A copy of a message (published, forwarded, or answering IWANT): counted once sent.
    Copy {
        /// Forwarded from another peer (counted in `forwarded` too).
        forwarded: bool,
    },
}

/// What became of an [`Action::Send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendOutcome {
    /// Queued.
    Sent,
    /// The peer's queue is full: it is falling behind.
    QueueFull,
    /// Not sent for another reason (the peer is gone).
    Failed,
}

/// What the router reads from the node: implemented by the service's context, and by a fake
/// in the unit tests.
pub(crate) trait Host {
    /// How full `peer`'s send queue is (0 to 1); `None` if it is not connected.
    fn queue_load(&self, peer: &PeerId) -> Option<f32>;
    /// Where `peer` listens, as text (offered to others by peer exchange).
    fn listen_addrs(&self, peer: &PeerId) -> Vec<String>;
    /// `message` signed with our identity key.
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SendError>;
}
