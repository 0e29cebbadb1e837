//! Message ids seen recently, so each message is handled once: bounded in time and count.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::message::MessageId;

/// A set of recent message ids.
pub(crate) struct SeenCache {
    ids: HashSet<MessageId>,
    order: VecDeque<(Instant, MessageId)>,
    ttl: Duration,
    max: usize,
}

impl SeenCache {
    pub(crate) fn new(ttl: Duration, max: usize) -> Self {
        SeenCache {
            ids: HashSet::new(),
            order: VecDeque::new(),
            ttl,
            max,
        }
    }

    /// Records `id`, seen at `now`; false if it was already there.
    pub(crate) fn insert(&mut self, id: MessageId, now: Instant) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back((now, id));
        while self.order.len() > self.max {
            if let Some((_, old)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        true
    }

    /// Whether `id` was seen.
    pub(crate) fn contains(&self, id: &MessageId) -> bool {
        self.ids.contains(id)
    }

    /// How many ids are kept.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Forgets ids older than the time to live at `now`.
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.order.front() {
            if now.duration_since(at) < self.ttl {
                break;
            }
            self.order.pop_front();
            self.ids.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_its_bounds() {
        let id = |n: u8| MessageId([n; 40]);
        let now = Instant::now();
        let mut seen = SeenCache::new(Duration::from_secs(60), 2);
        assert!(seen.insert(id(1), now));
        assert!(!seen.insert(id(1), now));
        assert!(seen.insert(id(2), now));
        assert!(seen.insert(id(3), now));
        // The oldest went to stay within two.
        assert!(seen.insert(id(1), now));
        let mut timed = SeenCache::new(Duration::from_secs(60), 10);
        timed.insert(id(1), now);
        timed.expire(now + Duration::from_secs(59));
        assert!(timed.contains(&id(1)), "kept within its time to live");
        timed.expire(now + Duration::from_secs(60));
        assert!(timed.insert(id(1), now), "forgotten after it");
    }
}
