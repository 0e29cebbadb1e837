//! Messages: publishing ours (flood, mesh or fanout), taking in others' (screening, the
//! validators' verdicts, delivery once, forwarding to the mesh).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rats_core::PeerId;
use rats_core::SendError;

use super::{Host, Purpose, Router};
use crate::event::GossipEvent;
use crate::message::{MessageId, SignedMessage, signing_bytes};
use crate::wire::Rpc;

/// Why our own message was not published.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishError {
    /// The payload is larger than `max_message_size`.
    #[error("message of {size} bytes is larger than max_message_size ({max})")]
    TooLarge {
        /// The payload's size.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The topic is empty or longer than `max_topic_len`.
    #[error("topic empty or longer than max_topic_len")]
    BadTopic,
    /// The node could not sign it (it stopped).
    #[error("{0}")]
    Sign(#[from] SendError),
}

impl Router {
    /// Publishes our own message.
    pub(crate) fn publish(
        &mut self,
        now: Instant,
        host: &dyn Host,
        topic: &str,
        data: Bytes,
    ) -> Result<MessageId, PublishError> {
        if data.len() > self.config.max_message_size {
            return Err(PublishError::TooLarge {
                size: data.len(),
                max: self.config.max_message_size,
            });
        }
        if topic.is_empty() || topic.len() > self.config.max_topic_len {
            return Err(PublishError::BadTopic);
        }
        self.seqno = self.seqno.wrapping_add(1);
        let seqno = self.seqno;
        let signature = host.sign(&signing_bytes(topic, &self.local, seqno, &data))?;
        let msg = SignedMessage {
            from: self.local,
            seqno,
            topic: topic.to_string(),
            data,
            signature,
        };
        let id = self.message_id(&msg);
        self.seen.insert(id, now);
        let publish_threshold = self.score.config().publish_threshold;
        let targets: Vec<PeerId> = if self.config.flood_publish {
            let peers = self.topic_peers(topic);
            peers
                .into_iter()
                .filter(|p| self.score.score(p, now) >= publish_threshold)
                .collect()
        } else if self.subscribed.contains(topic) {
            self.mesh
                .get(topic)
                .map(|m| m.iter().copied().collect())
                .unwrap_or_default()
        } else {
            self.fanout_peers(now, topic)
        };
        self.mcache.put(id, msg.clone());
        let bytes = Rpc::Publish(msg).encode();
        for p in targets {
            self.send_encoded(p, bytes.clone(), Purpose::Copy { forwarded: false });
        }
        self.stats.published += 1;
        Ok(id)
    }

    /// The fanout of a topic we do not subscribe to (chosen now if there is none), its last
    /// publish set to now.
    fn fanout_peers(&mut self, now: Instant, topic: &str) -> Vec<PeerId> {
        let have = self.fanout.get(topic).map_or(0, |(p, _)| p.len());
        if have < self.config.mesh_n {
            let current: HashSet<PeerId> = self
                .fanout
                .get(topic)
                .map(|(p, _)| p.clone())
                .unwrap_or_default();
            let others: Vec<PeerId> = self
                .topic_peers(topic)
                .into_iter()
                .filter(|p| !current.contains(p))
                .collect();
            let more = self.sample(others, self.config.mesh_n - have);
            let entry = self
                .fanout
                .entry(topic.to_string())
                .or_insert_with(|| (HashSet::new(), now));
            entry.0.extend(more);
        }
        match self.fanout.get_mut(topic) {
            Some(entry) => {
                entry.1 = now;
                entry.0.iter().copied().collect()
            }
            None => Vec::new(),
        }
    }

    /// Fanouts of topics we stopped publishing to for `fanout_ttl_secs` are forgotten.
    pub(super) fn expire_fanout(&mut self, now: Instant) {
        let ttl = Duration::from_secs(self.config.fanout_ttl_secs);
        self.fanout
            .retain(|_, (_, last)| now.duration_since(*last) < ttl);
    }

    /// First look at a received message: its id if it is worth checking further (a topic we
    /// subscribe to, not our own, not a duplicate). Nothing is remembered here: an unwanted
    /// message cannot fill the seen cache.
    pub(crate) fn screen(&mut self, msg: &SignedMessage) -> Option<MessageId> {
        if !self.subscribed.contains(&msg.topic) || msg.from == self.local {
            return None;
        }
        let id = self.message_id(msg);
        if self.seen.contains(&id) {
            self.stats.duplicates += 1;
            return None;
        }
        Some(id)
    }

    /// An invalid message from `via` (forged, too large, or rejected by a validator).
    pub(crate) fn on_invalid(
        &mut self,
        now: Instant,
        via: PeerId,
        topic: &str,
        id: Option<MessageId>,
    ) {
        if let Some(id) = id {
            self.seen.insert(id, now);
        }
        self.stats.rejected += 1;
        self.score.invalid_message(via, topic);
    }

    /// A message a validator ignores: remembered (not validated again), not delivered, not
    /// forwarded, no penalty.
    pub(crate) fn on_ignored(&mut self, now: Instant, id: MessageId) {
        self.seen.insert(id, now);
        self.stats.ignored += 1;
    }

    /// A message from `via`, its signature already checked.
    pub(crate) fn on_message(&mut self, now: Instant, via: PeerId, msg: SignedMessage) {
        if !self.seen.insert(self.message_id(&msg), now) {
            self.stats.duplicates += 1;
            return;
        }
        self.accept(via, msg);
    }

    /// Delivers (once, to subscribers) and forwards a message whose id is already recorded as
    /// seen: after an asynchronous validator accepted it.
    pub(crate) fn accept(&mut self, via: PeerId, msg: SignedMessage) {
        let id = self.message_id(&msg);
        if !self.subscribed.contains(&msg.topic) {
            return;
        }
        self.stats.delivered += 1;
        self.score.first_delivery(via, &msg.topic);
        self.mcache.put(id, msg.clone());
        let topic = msg.topic.clone();
        let origin = msg.from;
        let data = msg.data.clone();
        // Forward to the mesh, except to where it came from and its origin.
        let targets: Vec<PeerId> = self
            .mesh
            .get(&topic)
            .map(|m| {
                m.iter()
                    .filter(|p| **p != via && **p != origin)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        if !targets.is_empty() {
            let bytes = Rpc::Publish(msg).encode();
            for p in targets {
                self.send_encoded(p, bytes.clone(), Purpose::Copy { forwarded: true });
            }
        }
        self.emit(GossipEvent::Message {
            topic,
            origin,
            via,
            id,
            data,
        });
    }
}
