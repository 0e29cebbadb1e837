//! What the service reports on the node's event bus and in its statistics.

use std::collections::BTreeMap;

use bytes::Bytes;
use rats_core::PeerId;

use crate::message::MessageId;

/// A gossipsub event, published as `Event::Service { service: "gossipsub", .. }` (downcast
/// the payload to `GossipEvent`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum GossipEvent {
    /// A message on a topic we subscribe to, delivered once.
    Message {
        /// The topic.
        topic: String,
        /// Who published it (checked by its signature).
        origin: PeerId,
        /// The peer that forwarded it to us.
        via: PeerId,
        /// Its id.
        id: MessageId,
        /// The payload.
        data: Bytes,
    },
    /// A peer subscribed to a topic.
    PeerJoined {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
    /// A peer left a topic (unsubscribed or disconnected).
    PeerLeft {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
}

impl GossipEvent {
    /// A topic message's payload as text (invalid UTF-8 replaced); `None` for other events.
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            GossipEvent::Message { data, .. } => Some(String::from_utf8_lossy(data)),
            _ => None,
        }
    }

    /// A topic message's payload parsed as JSON (as `publish_json` sends it); `None` for other
    /// events or a payload that is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        match self {
            GossipEvent::Message { data, .. } => serde_json::from_slice(data).ok(),
            _ => None,
        }
    }
}

/// Counters since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GossipStats {
    /// Messages we published.
    pub published: u64,
    /// Messages delivered to us (once each).
    pub delivered: u64,
    /// Messages forwarded to mesh peers (one per copy sent).
    pub forwarded: u64,
    /// Copies of messages we had already seen.
    pub duplicates: u64,
    /// Messages refused: bad signature, too large, or rejected by a validator.
    pub rejected: u64,
    /// Messages a validator chose to ignore (neither delivered nor forwarded, no penalty).
    pub ignored: u64,
    /// Copies not sent because a peer's queue was full.
    pub dropped: u64,
    /// Copies of messages sent (published, forwarded, or answering IWANT).
    pub copies_sent: u64,
    /// Messages ignored because their sender's score was below the graylist threshold.
    pub graylisted: u64,
    /// Messages in the message cache (answering IWANT).
    pub cached_messages: usize,
    /// Mesh size per subscribed topic.
    pub mesh_sizes: BTreeMap<String, usize>,
}
