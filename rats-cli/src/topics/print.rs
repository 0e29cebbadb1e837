//! What the tool prints about topics: human lines, or one JSON object per line with `--json`.
//! Topics and payloads come from peers and are printed with control characters escaped.

use rats::PeerId;
use rats::rats_gossipsub::MessageId;
use serde_json::json;

use crate::output::{Output, clean, line, say};

/// A message id as hex (origin's peer id, then its sequence number).
fn id_hex(id: &MessageId) -> String {
    id.0.iter().map(|b| format!("{b:02x}")).collect()
}

impl Output {
    /// A message on one of our topics.
    pub fn topic_message(
        &self,
        topic: &str,
        origin: &PeerId,
        via: &PeerId,
        id: &MessageId,
        data: &[u8],
    ) {
        let text = String::from_utf8_lossy(data);
        if self.json {
            line(json!({
                "event": "topic_message", "topic": topic, "from": origin, "via": via,
                "id": id_hex(id), "text": text,
            }));
            return;
        }
        let hop = if via == origin {
            String::new()
        } else {
            format!(" (via {})", via.short())
        };
        say!(
            "[{}] {}{hop}: {}",
            clean(topic),
            origin.short(),
            clean(&text)
        );
    }

    /// A peer joined or left a topic. Without `--json`, said only for our topics.
    pub fn topic_peer(&self, peer: &PeerId, topic: &str, joined: bool, ours: bool) {
        if self.json {
            let event = if joined {
                "topic_peer_joined"
            } else {
                "topic_peer_left"
            };
            line(json!({"event": event, "peer_id": peer, "topic": topic}));
        } else if ours {
            let (sign, what) = if joined {
                ('+', "joined")
            } else {
                ('-', "left")
            };
            say!("{sign} {} {what} [{}]", peer.short(), clean(topic));
        }
    }

    /// The answer to `sub`; `new` is false when we were subscribed already.
    pub fn subscribed(&self, topic: &str, new: bool) {
        if self.json {
            line(json!({"event": "subscribed", "topic": topic, "already": !new}));
        } else if new {
            say!("* subscribed to [{}]", clean(topic));
        } else {
            say!("* already subscribed to [{}]", clean(topic));
        }
    }

    /// The answer to `unsub`.
    pub fn unsubscribed(&self, topic: &str) {
        if self.json {
            line(json!({"event": "unsubscribed", "topic": topic}));
        } else {
            say!("* left [{}]", clean(topic));
        }
    }

    /// A message was published; `peers` subscribe to its topic.
    pub fn published(&self, topic: &str, id: &MessageId, peers: usize) {
        if self.json {
            line(json!({
                "event": "published", "topic": topic, "id": id_hex(id), "topic_peers": peers,
            }));
        } else if peers == 0 {
            say!("* no connected peer subscribes to [{}]", clean(topic));
        }
    }

    /// The answer to `topics`: (topic, topic peers, mesh peers).
    pub fn topics(&self, topics: &[(String, usize, usize)]) {
        if self.json {
            let list: Vec<_> = topics
                .iter()
                .map(|(t, peers, mesh)| json!({"topic": t, "peers": peers, "mesh_peers": mesh}))
                .collect();
            line(json!({"event": "topics", "count": topics.len(), "topics": list}));
            return;
        }
        say!("{} topic(s)", topics.len());
        for (t, peers, mesh) in topics {
            say!("  [{}]  {peers} peer(s), {mesh} in mesh", clean(t));
        }
    }
}
