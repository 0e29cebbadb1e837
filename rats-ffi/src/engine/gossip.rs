//! GossipSub through `RatsClient::gossip()` (`rats_gossipsub::GossipsubService`).

use std::any::Any;
use std::sync::Arc;

use rats_engine::RatsClient;
use rats_engine::rats_gossipsub::{GossipError, GossipEvent, GossipsubService, SERVICE_NAME};

/// A GossipSub event copied out of the node's event bus.
pub(crate) enum GossipEv {
    /// A message on a topic we subscribe to (`peer`: its origin, checked by its signature).
    Message {
        peer: String,
        topic: String,
        data: Vec<u8>,
    },
    /// A peer subscribed to (`joined`) or left a topic.
    Peer {
        peer: String,
        topic: String,
        joined: bool,
    },
}

/// The GossipSub event in a service event, if it is one.
pub(crate) fn from_event(service: &str, event: &Arc<dyn Any + Send + Sync>) -> Option<GossipEv> {
    if service != SERVICE_NAME {
        return None;
    }
    Some(match event.downcast_ref::<GossipEvent>()? {
        GossipEvent::Message {
            topic,
            origin,
            data,
            ..
        } => GossipEv::Message {
            peer: origin.to_string(),
            topic: topic.clone(),
            data: data.to_vec(),
        },
        GossipEvent::PeerJoined { peer, topic } => GossipEv::Peer {
            peer: peer.to_string(),
            topic: topic.clone(),
            joined: true,
        },
        GossipEvent::PeerLeft { peer, topic } => GossipEv::Peer {
            peer: peer.to_string(),
            topic: topic.clone(),
            joined: false,
        },
        _ => return None,
    })
}

/// Why a GossipSub call failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GossipFail {
    /// The plugin is disabled (or not running).
    Unavailable,
    /// The topic is empty or too long.
    BadTopic,
    /// The message could not be published (too large).
    Failed,
}

fn service(rc: &RatsClient) -> Result<Arc<GossipsubService>, GossipFail> {
    rc.gossip().ok_or(GossipFail::Unavailable)
}

fn fail(e: GossipError) -> GossipFail {
    match e {
        GossipError::BadTopic(_) => GossipFail::BadTopic,
        GossipError::NotRunning => GossipFail::Unavailable,
        _ => GossipFail::Failed,
    }
}

/// Whether the running client has the GossipSub service.
pub(crate) fn is_running(rc: &RatsClient) -> bool {
    rc.gossip().is_some()
}

/// Subscribes (already subscribed is fine).
pub(crate) fn subscribe(rc: &RatsClient, topic: &str) -> Result<(), GossipFail> {
    service(rc)?.subscribe(topic).map(|_| ()).map_err(fail)
}

/// Unsubscribes (not subscribed is fine).
pub(crate) fn unsubscribe(rc: &RatsClient, topic: &str) -> Result<(), GossipFail> {
    service(rc)?.unsubscribe(topic).map(|_| ()).map_err(fail)
}

/// Whether we subscribe to `topic`.
pub(crate) fn is_subscribed(rc: &RatsClient, topic: &str) -> bool {
    rc.gossip().is_some_and(|g| g.is_subscribed(topic))
}

/// Our topics, sorted.
pub(crate) fn subscribed_topics(rc: &RatsClient) -> Vec<String> {
    rc.gossip()
        .map(|g| g.subscribed_topics())
        .unwrap_or_default()
}

/// Publishes bytes on `topic`.
pub(crate) fn publish(rc: &RatsClient, topic: &str, data: Vec<u8>) -> Result<(), GossipFail> {
    service(rc)?.publish(topic, data).map(|_| ()).map_err(fail)
}

/// Publishes a JSON value on `topic`.
pub(crate) fn publish_json(
    rc: &RatsClient,
    topic: &str,
    value: &serde_json::Value,
) -> Result<(), GossipFail> {
    service(rc)?
        .publish_json(topic, value)
        .map(|_| ())
        .map_err(fail)
}

/// Connected peers subscribed to `topic`.
pub(crate) fn topic_peers(rc: &RatsClient, topic: &str) -> Vec<String> {
    rc.gossip()
        .map(|g| g.topic_peers(topic).iter().map(|p| p.to_string()).collect())
        .unwrap_or_default()
}

/// Our mesh peers for `topic`.
pub(crate) fn topic_mesh_peers(rc: &RatsClient, topic: &str) -> Vec<String> {
    rc.gossip()
        .map(|g| {
            g.topic_mesh_peers(topic)
                .iter()
                .map(|p| p.to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// rats' GossipSub counters as JSON, with the subscribed topics, and per topic its
/// subscribed peers and mesh size.
pub(crate) fn statistics_json(rc: &RatsClient) -> Option<String> {
    let g = rc.gossip()?;
    let s = g.stats();
    let topics = g.subscribed_topics();
    let per_topic: serde_json::Map<String, serde_json::Value> = topics
        .iter()
        .map(|t| {
            (
                t.clone(),
                serde_json::json!({
                    "peers": g.topic_peers(t).len(),
                    "mesh_peers": g.topic_mesh_peers(t).len(),
                }),
            )
        })
        .collect();
    let v = serde_json::json!({
        "running": true,
        "subscribed_topics": topics,
        "topics": per_topic,
        "messages_published": s.published,
        "messages_delivered": s.delivered,
        "messages_forwarded": s.forwarded,
        "duplicates": s.duplicates,
        "rejected": s.rejected,
        "ignored": s.ignored,
        "dropped": s.dropped,
        "copies_sent": s.copies_sent,
        "graylisted": s.graylisted,
        "cached_messages": s.cached_messages,
        "mesh_sizes": s.mesh_sizes,
    });
    Some(v.to_string())
}
