//! Publish/subscribe accounting. Every node subscribes to [`TOPICS`]`[0]`, even-numbered ones
//! also to `[1]`. A published message is `g <number> <check>`. After a window, each message is
//! settled: it was expected at every subscriber (but the publisher) that was up from a grace
//! period before publishing to the end of the window; the ratio of those that printed it is
//! the delivery figure. Messages whose publisher went down right after publishing are left out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The topics.
pub const TOPICS: [&str; 2] = ["soak-a", "soak-b"];

/// Whether node `n` subscribes to topic `t` (an index into [`TOPICS`]).
pub fn subscribes(n: usize, t: usize) -> bool {
    t == 0 || n.is_multiple_of(2)
}

/// A subscriber that (re)started less than this before a message is not expected to get it
/// (it still has to subscribe and join the topic's mesh).
pub const JOIN_GRACE: Duration = Duration::from_secs(5);

/// The publisher must stay up this long after publishing for the message to count.
const PUBLISHER_UP: Duration = Duration::from_secs(2);

/// Counters, cumulative.
#[derive(Clone, Debug, Default)]
pub struct GossipCounts {
    /// `pub` commands written.
    pub published: u64,
    /// Settled messages counted (publisher stayed up).
    pub counted: u64,
    /// Left out: publisher went down right after.
    pub left_out: u64,
    /// Deliveries expected (sum over counted messages).
    pub expected: u64,
    /// Expected deliveries that happened within the window.
    pub got: u64,
    /// Deliveries to subscribers not expected (restarted during the window): fine, counted.
    pub extra: u64,
    /// Printed twice by one life of a node (its seen-cache should prevent that).
    pub duplicates: u64,
    /// Printed again by a node restarted since it first printed it (a new life has an empty
    /// seen-cache: allowed).
    pub again_after_restart: u64,
    /// Unreadable, wrong check, or on the wrong topic.
    pub corrupt: u64,
    /// Arrived after the window.
    pub late: u64,
}

#[derive(Debug)]
struct Published {
    topic: usize,
    publisher: usize,
    at: Instant,
    /// Nodes that printed it (bit per node).
    got: u128,
    /// The life of each node that printed it first.
    first_life: Vec<(usize, u32)>,
}

/// The gossip ledger.
#[derive(Debug)]
pub struct GossipLedger {
    open: HashMap<u64, Published>,
    next: u64,
    window: Duration,
    /// The counters.
    pub counts: GossipCounts,
}

fn check(n: u64, publisher: usize, topic: usize) -> String {
    let digest = Sha256::digest(format!("g{n}:{publisher}:{topic}").as_bytes());
    hex::encode(&digest[..8])
}

impl GossipLedger {
    /// A ledger settling each message `window` after it was published.
    pub fn new(window: Duration) -> Self {
        GossipLedger {
            open: HashMap::new(),
            next: 0,
            window,
            counts: GossipCounts::default(),
        }
    }

    /// A new message of `publisher` on topic `topic`: the text to publish.
    pub fn publish(&mut self, publisher: usize, topic: usize, now: Instant) -> String {
        let n = self.next;
        self.next += 1;
        self.open.insert(
            n,
            Published {
                topic,
                publisher,
                at: now,
                got: 0,
                first_life: Vec::new(),
            },
        );
        self.counts.published += 1;
        format!("g {n} {}", check(n, publisher, topic))
    }

    /// The `pub` could not be queued: forget it.
    pub fn unqueued(&mut self, text: &str) {
        if let Some(n) = text.split(' ').nth(1).and_then(|n| n.parse::<u64>().ok())
            && self.open.remove(&n).is_some()
        {
            self.counts.published -= 1;
        }
    }

    /// Node `node` (in life `life`) printed `text` on `topic`.
    pub fn delivered(&mut self, node: usize, life: u32, topic: &str, text: &str) {
        let mut it = text.split(' ');
        let parsed = match (it.next(), it.next(), it.next(), it.next()) {
            (Some("g"), Some(n), Some(chk), None) => n.parse::<u64>().ok().map(|n| (n, chk)),
            _ => None,
        };
        let Some((n, chk)) = parsed else {
            self.counts.corrupt += 1;
            return;
        };
        let Some(m) = self.open.get_mut(&n) else {
            if n < self.next {
                self.counts.late += 1;
            } else {
                self.counts.corrupt += 1;
            }
            return;
        };
        if check(n, m.publisher, m.topic) != chk || TOPICS[m.topic] != topic {
            self.counts.corrupt += 1;
            return;
        }
        let b = 1u128 << node;
        if m.got & b == 0 {
            m.got |= b;
            m.first_life.push((node, life));
        } else if m.first_life.contains(&(node, life)) {
            self.counts.duplicates += 1;
        } else {
            self.counts.again_after_restart += 1;
        }
    }

    /// Settles messages whose window ended (all of them with `all`). `up(node, a, b)`: was
    /// the node up throughout `[a, b]`.
    pub fn settle(
        &mut self,
        now: Instant,
        all: bool,
        nodes: usize,
        up: impl Fn(usize, Instant, Instant) -> bool,
    ) {
        let due: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, m)| all || m.at + self.window <= now)
            .map(|(n, _)| *n)
            .collect();
        for n in due {
            let Some(m) = self.open.remove(&n) else {
                continue;
            };
            let c = &mut self.counts;
            if !up(m.publisher, m.at, m.at + PUBLISHER_UP) {
                c.left_out += 1;
                continue;
            }
            c.counted += 1;
            let from = m.at.checked_sub(JOIN_GRACE).unwrap_or(m.at);
            for r in (0..nodes).filter(|r| *r != m.publisher && subscribes(*r, m.topic)) {
                let got = m.got & (1u128 << r) != 0;
                if up(r, from, m.at + self.window) {
                    c.expected += 1;
                    c.got += u64::from(got);
                } else {
                    c.extra += u64::from(got);
                }
            }
        }
    }

    /// Delivered over expected (1.0 before anything was expected).
    pub fn ratio(&self) -> f64 {
        if self.counts.expected == 0 {
            1.0
        } else {
            self.counts.got as f64 / self.counts.expected as f64
        }
    }
}
