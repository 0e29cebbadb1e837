//! The message cache: recent messages in history windows, shifted at each heartbeat. The
//! newest `gossip` windows are advertised with IHAVE; all `history` windows answer IWANT.

use std::collections::{HashMap, VecDeque};

use crate::message::{MessageId, SignedMessage};

pub(crate) struct MessageCache {
    msgs: HashMap<MessageId, SignedMessage>,
    /// Newest window first.
    windows: VecDeque<Vec<MessageId>>,
    gossip: usize,
}

impl MessageCache {
    pub(crate) fn new(history: usize, gossip: usize) -> Self {
        let mut windows = VecDeque::with_capacity(history.max(1));
        for _ in 0..history.max(1) {
            windows.push_back(Vec::new());
        }
        MessageCache {
            msgs: HashMap::new(),
            windows,
            gossip: gossip.min(history.max(1)),
        }
    }

    pub(crate) fn put(&mut self, id: MessageId, msg: SignedMessage) {
        if self.msgs.insert(id, msg).is_none()
            && let Some(w) = self.windows.front_mut()
        {
            w.push(id);
        }
    }

    pub(crate) fn get(&self, id: &MessageId) -> Option<&SignedMessage> {
        self.msgs.get(id)
    }

    /// Ids of `topic` in the gossip windows.
    pub(crate) fn gossip_ids(&self, topic: &str) -> Vec<MessageId> {
        self.windows
            .iter()
            .take(self.gossip)
            .flatten()
            .filter(|id| self.msgs.get(id).is_some_and(|m| m.topic == topic))
            .copied()
            .collect()
    }

    /// Starts a new window; the oldest one's messages are forgotten.
    pub(crate) fn shift(&mut self) {
        if let Some(old) = self.windows.pop_back() {
            for id in old {
                self.msgs.remove(&id);
            }
        }
        self.windows.push_front(Vec::new());
    }

    pub(crate) fn len(&self) -> usize {
        self.msgs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(seqno: u64, topic: &str) -> SignedMessage {
        SignedMessage {
            from: rats_core::Identity::from_secret([7; 32]).peer_id(),
            seqno,
            topic: topic.into(),
            data: Bytes::new(),
            signature: [0; 64],
        }
    }

    #[test]
    fn windows_age_out() {
        let mut c = MessageCache::new(3, 2);
        let first = msg(1, "a");
        c.put(first.id(), first);
        c.shift();
        for m in [msg(2, "a"), msg(3, "b")] {
            c.put(m.id(), m);
        }
        assert_eq!(c.gossip_ids("a").len(), 2);
        c.shift();
        // Message 1 is in the third window: kept for IWANT, no longer gossiped.
        assert_eq!(c.gossip_ids("a").len(), 1);
        assert!(c.get(&msg(1, "a").id()).is_some());
        c.shift();
        assert!(c.get(&msg(1, "a").id()).is_none());
        assert_eq!(c.len(), 2);
    }
}
