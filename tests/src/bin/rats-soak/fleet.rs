//! What the soak knows about each node: its process, identity, which peers it says it is
//! connected to, when it was up, and the replies it still owes to our commands.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use crate::node::{NodeSpec, RunningNode};

/// Spans of a node's life kept for "was it up between a and b" (older ones are forgotten;
/// questions are only asked about the last minute or so).
const SPANS_KEPT: usize = 32;

/// When a node was up: (started, ended) spans, the last one open while it runs.
#[derive(Debug, Default)]
pub struct Lives {
    spans: VecDeque<(Instant, Option<Instant>)>,
}

impl Lives {
    /// The node printed `started` at `t`.
    pub fn start(&mut self, t: Instant) {
        if self.spans.len() == SPANS_KEPT {
            self.spans.pop_front();
        }
        self.spans.push_back((t, None));
    }

    /// The node was killed (or ended) at `t`.
    pub fn end(&mut self, t: Instant) {
        if let Some((_, end @ None)) = self.spans.back_mut() {
            *end = Some(t);
        }
    }

    /// Whether one life covered all of `[a, b]`.
    pub fn alive_throughout(&self, a: Instant, b: Instant) -> bool {
        self.spans
            .iter()
            .any(|(s, e)| *s <= a && e.is_none_or(|e| e >= b))
    }

    /// Whether a life ended (a kill) within `[a, b]`, or one started within it.
    pub fn disturbed_within(&self, a: Instant, b: Instant) -> bool {
        self.spans
            .iter()
            .any(|(s, e)| (*s >= a && *s <= b) || e.is_some_and(|e| e >= a && e <= b))
    }
}

/// A command whose reply (`sent` or an error) the node still owes, in order.
#[derive(Clone, Copy, Debug)]
pub enum Owed {
    /// A chat message to node `to`, sequence `seq`.
    Chat { to: usize, seq: u64 },
    /// An acknowledgment.
    Ack,
}

/// One node as the soak sees it.
pub struct Node {
    pub spec: NodeSpec,
    /// The running process (none while down).
    pub proc: Option<RunningNode>,
    /// Lives started so far (the current one is `lives_started - 1`).
    pub lives_started: u32,
    /// Its peer id (hex), once it said.
    pub peer_id: Option<String>,
    /// The current life printed `started`.
    pub up: bool,
    /// Nodes it reports being connected to.
    pub connected: BTreeSet<usize>,
    /// When it was up.
    pub lives: Lives,
    /// Down (killed) until then.
    pub down_until: Option<Instant>,
    /// Replies owed to `send` commands.
    pub owed: VecDeque<Owed>,
    /// Our transfer whose `send-file` waits for `transfer_created`.
    pub sending_file: Option<u64>,
}

impl Node {
    /// A node not started yet.
    pub fn new(spec: NodeSpec) -> Self {
        Node {
            spec,
            proc: None,
            lives_started: 0,
            peer_id: None,
            up: false,
            connected: BTreeSet::new(),
            lives: Lives::default(),
            down_until: None,
            owed: VecDeque::new(),
            sending_file: None,
        }
    }

    /// The current life's number.
    pub fn life(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.life)
    }

    /// Queues a command; false if it could not be (down, or its queue is full).
    pub fn command(&self, line: String) -> bool {
        self.proc.as_ref().is_some_and(|p| p.command(line))
    }
}

/// All nodes, and peer id to node.
pub struct Fleet {
    pub nodes: Vec<Node>,
    by_id: HashMap<String, usize>,
}

impl Fleet {
    /// The fleet of `specs`, none started.
    pub fn new(specs: Vec<NodeSpec>) -> Self {
        Fleet {
            nodes: specs.into_iter().map(Node::new).collect(),
            by_id: HashMap::new(),
        }
    }

    /// The node with peer id `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// Records node `i`'s peer id; false if it had another one before (identity lost).
    pub fn set_peer_id(&mut self, i: usize, id: &str) -> bool {
        let node = &mut self.nodes[i];
        match &node.peer_id {
            Some(old) if old != id => {
                self.by_id.remove(old);
                node.peer_id = Some(id.to_string());
                self.by_id.insert(id.to_string(), i);
                false
            }
            Some(_) => true,
            None => {
                node.peer_id = Some(id.to_string());
                self.by_id.insert(id.to_string(), i);
                true
            }
        }
    }

    /// Nodes up now.
    pub fn up_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.up).count()
    }

    /// Whether `a` is up and reports `b` (up too) as connected.
    pub fn linked(&self, a: usize, b: usize) -> bool {
        self.nodes[a].up && self.nodes[b].up && self.nodes[a].connected.contains(&b)
    }
}
