//! The soak's state and what it does with each node event, each action of the workload, each
//! kill and restart. The main loop (main.rs) calls into it; it owns no task of its own.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::chat::ChatLedger;
use crate::churn::Churn;
use crate::events::NodeEvent;
use crate::fleet::{Fleet, Owed};
use crate::gossip::{GossipLedger, TOPICS, subscribes};
use crate::journal::Journal;
use crate::logs::LogScan;
use crate::node::{Report, ReportKind, RunningNode};
use crate::reconnect::Reconnects;
use crate::resources::{Resources, sample};
use crate::transfers::{Next, Transfer, TransferLedger};
use crate::workload::{Action, Workload, hash_file, write_random_file};

/// First problems of the soak itself (crashes, identities, refused commands), bounded.
const PROBLEMS_KEPT: usize = 20;

/// A transfer the sender reported completed and the receiver did not within this is looked
/// for at its destination.
const UNREPORTED_AFTER: Duration = Duration::from_secs(10);

/// A received file hashed: (our transfer id, its SHA-256 and size, or None if unreadable).
pub type Hashed = (u64, Option<(String, u64)>);

/// A source file written: (our transfer id, its SHA-256, or the error).
pub type Written = (u64, Result<String, String>);

/// Where the soak's helpers (node readers, hashing and file-writing threads) report to the
/// main loop.
pub struct ToLoop {
    pub reports: mpsc::Sender<Report>,
    pub hashed: mpsc::Sender<Hashed>,
    pub written: mpsc::Sender<Written>,
}

/// Counters of the soak itself.
#[derive(Clone, Debug, Default)]
pub struct SoakCounts {
    /// Nodes killed by the soak.
    pub kills: u64,
    /// ... of which aimed at a transfer that had just started.
    pub aimed_kills: u64,
    /// Restarts.
    pub restarts: u64,
    /// Processes that ended without being killed.
    pub crashes: u64,
    /// Restarts that came back with another peer id.
    pub identity_lost: u64,
    /// Restarts that failed to spawn.
    pub spawn_failures: u64,
    /// Commands dropped because a node's input queue was full or it was down.
    pub dropped_commands: u64,
    /// Notices of lagged events in a node (its printer missed events).
    pub lag_notices: u64,
    /// Commands the tool answered with an error, other than chat and transfer (counted there).
    pub command_errors: u64,
}

/// The soak.
pub struct Soak {
    pub fleet: Fleet,
    pub work: Workload,
    pub chat: ChatLedger,
    pub gossip: GossipLedger,
    pub transfers: TransferLedger,
    pub reconnects: Reconnects,
    pub resources: Resources,
    pub logs: LogScan,
    pub counts: SoakCounts,
    /// The kill schedule (none before the warm-up and while draining).
    pub churn: Option<Churn>,
    pub problems: Vec<String>,
    /// What happened, for a post-mortem.
    pub journal: Journal,
    reports: mpsc::Sender<Report>,
    hashed: mpsc::Sender<Hashed>,
    written: mpsc::Sender<Written>,
    /// Peers of each node when it was last killed.
    peers_before: Vec<usize>,
    /// Pause between a kill and the restart.
    down: Duration,
}

impl Soak {
    /// A soak over `fleet`.
    pub fn new(
        journal: Journal,
        fleet: Fleet,
        work: Workload,
        settle: Duration,
        down: Duration,
        to_loop: ToLoop,
    ) -> Self {
        let ToLoop {
            reports,
            hashed,
            written,
        } = to_loop;
        let n = fleet.nodes.len();
        Soak {
            fleet,
            work,
            chat: ChatLedger::new(settle),
            gossip: GossipLedger::new(settle.min(Duration::from_secs(15))),
            transfers: TransferLedger::default(),
            reconnects: Reconnects::new(n),
            resources: Resources::new(n),
            logs: LogScan::default(),
            counts: SoakCounts::default(),
            churn: None,
            problems: Vec::new(),
            journal,
            reports,
            hashed,
            written,
            peers_before: vec![0; n],
            down,
        }
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(p);
        }
    }

    /// Sends `line` to node `n`; counts it when dropped.
    fn command(&mut self, n: usize, line: String) -> bool {
        let ok = self.fleet.nodes[n].command(line);
        if !ok {
            self.counts.dropped_commands += 1;
        }
        ok
    }

    /// Starts (or restarts) node `n`.
    pub fn spawn(&mut self, n: usize, now: Instant) {
        let node = &mut self.fleet.nodes[n];
        let life = node.lives_started;
        match node.spec.spawn(life, &self.reports) {
            Ok(p) => {
                self.journal
                    .note(format_args!("node {n} life {life} spawned, pid {}", p.pid));
                node.lives_started += 1;
                node.proc = Some(p);
                node.down_until = None;
                if life > 0 {
                    self.counts.restarts += 1;
                    self.reconnects.restarted(n, now, self.peers_before[n]);
                }
            }
            Err(e) => {
                self.counts.spawn_failures += 1;
                node.down_until = Some(now + self.down);
                self.problem(format!("node {n}: cannot start rats: {e}"));
            }
        }
    }

    /// Restarts the nodes whose pause is over (`all`: every node that is down).
    pub fn restart_due(&mut self, now: Instant, all: bool) {
        for n in 0..self.fleet.nodes.len() {
            let node = &self.fleet.nodes[n];
            if node.proc.is_none() && node.down_until.is_some_and(|t| all || t <= now) {
                self.spawn(n, now);
            }
        }
    }

    /// Takes node `n` down in the books; returns its process to be killed.
    fn take_down(&mut self, n: usize, now: Instant) -> Option<RunningNode> {
        let node = &mut self.fleet.nodes[n];
        let proc = node.proc.take()?;
        self.peers_before[n] = node.connected.len();
        node.up = false;
        node.connected.clear();
        node.lives.end(now);
        node.down_until = Some(now + self.down);
        // Commands it had not answered: their fate stays unknown ("unconfirmed").
        node.owed.clear();
        let sending = node.sending_file.take();
        for next in self.transfers.killed(n, sending) {
            self.follow(next);
        }
        self.reconnects.killed(n);
        self.resources.ended(n);
        Some(proc)
    }

    /// Kills the node the schedule says is due, if any.
    pub async fn churn(&mut self, now: Instant) {
        let victim = match &mut self.churn {
            Some(c) => c.due(now, &self.fleet, &mut self.work.rng),
            None => None,
        };
        if let Some((v, aimed)) = victim {
            self.counts.aimed_kills += u64::from(aimed);
            let peers = self.fleet.nodes[v].connected.len();
            self.journal.note(format_args!(
                "kill node {v} (aimed at a transfer: {aimed}, {peers} peers)"
            ));
            self.kill(v, now).await;
        }
    }

    /// `kill -9` node `n`; it is restarted after the pause.
    pub async fn kill(&mut self, n: usize, now: Instant) {
        if let Some(proc) = self.take_down(n, now) {
            self.counts.kills += 1;
            proc.kill().await;
        }
    }

    /// Handles one report of a node's readers.
    pub async fn handle(&mut self, r: Report, now: Instant) {
        let current = self.fleet.nodes[r.node].life() == Some(r.life);
        match r.what {
            ReportKind::Log(line) => self.logs.line(r.node, &line),
            ReportKind::Closed if current => {
                // It ended without being killed: a crash (or an exit of its own).
                let status = self.fleet.nodes[r.node]
                    .proc
                    .as_mut()
                    .and_then(RunningNode::try_status);
                self.counts.crashes += 1;
                self.journal.note(format_args!(
                    "node {} life {} ended by itself",
                    r.node, r.life
                ));
                self.problem(format!(
                    "node {} (life {}) ended by itself: {status:?}",
                    r.node, r.life
                ));
                if let Some(proc) = self.take_down(r.node, now) {
                    proc.kill().await;
                }
            }
            ReportKind::Closed => {}
            ReportKind::Event(e) => self.event(r.node, r.life, current, e, now),
        }
    }

    fn event(&mut self, n: usize, life: u32, current: bool, e: NodeEvent, now: Instant) {
        match e {
            NodeEvent::Started { peer_id } if current => self.started(n, &peer_id, now),
            NodeEvent::PeerConnected { peer_id } if current => {
                if let Some(p) = self.fleet.index_of(&peer_id) {
                    self.fleet.nodes[n].connected.insert(p);
                    self.peers_changed(n, now);
                }
            }
            NodeEvent::PeerDisconnected { peer_id } if current => {
                if let Some(p) = self.fleet.index_of(&peer_id) {
                    self.fleet.nodes[n].connected.remove(&p);
                }
            }
            NodeEvent::Peers { peer_ids } if current => {
                let set = peer_ids
                    .iter()
                    .filter_map(|p| self.fleet.index_of(p))
                    .collect();
                self.fleet.nodes[n].connected = set;
                self.peers_changed(n, now);
            }
            // Lines printed by a life before it was killed still count as printed.
            NodeEvent::Private { from, text } => self.private(n, &from, &text),
            NodeEvent::Sent if current => self.answered(n, true),
            NodeEvent::CommandError { command, message } if current => {
                self.command_error(n, &command, &message)
            }
            NodeEvent::TopicMessage { topic, text } => {
                self.gossip.delivered(n, life, &topic, &text)
            }
            NodeEvent::TransferCreated { id, name } => {
                self.journal
                    .note(format_args!("node {n} created transfer {id} {name}"));
                if let Some(t) = self.fleet.nodes[n].sending_file.take() {
                    self.transfers.created(t, &id, &name);
                }
            }
            NodeEvent::TransferOffer {
                id,
                sha256,
                destination,
            } => {
                self.journal.note(format_args!("node {n} accepted {id}"));
                self.transfers
                    .offered(&id, sha256.as_deref(), destination.as_deref())
            }
            NodeEvent::TransferStarted { id, bytes_done } => {
                self.journal
                    .note(format_args!("node {n} started {id} at {bytes_done}"));
                if let Some(churn) = &mut self.churn
                    && let Some((from, to)) = self.transfers.parties(&id)
                {
                    churn.transfer_started(from, to, now, &mut self.work.rng);
                }
            }
            NodeEvent::TransferFinished {
                id,
                incoming,
                state,
                path,
                error,
            } => {
                self.journal.note(format_args!(
                    "node {n} finished {id}: {state} {}",
                    error.as_deref().unwrap_or("")
                ));
                let next =
                    self.transfers
                        .finished(n, &id, incoming, &state, &path, error.as_deref());
                self.follow(next);
            }
            NodeEvent::Notice { message }
                if message.contains("lag") || message.contains("missed") =>
            {
                self.counts.lag_notices += 1;
                self.problem(format!("node {n}: {message}"));
            }
            NodeEvent::Unparsed(line) => self.logs.line(n, &line),
            _ => {}
        }
    }

    fn started(&mut self, n: usize, peer_id: &str, now: Instant) {
        if !self.fleet.set_peer_id(n, peer_id) {
            self.counts.identity_lost += 1;
            self.problem(format!("node {n} came back with another peer id {peer_id}"));
        }
        let node = &mut self.fleet.nodes[n];
        node.up = true;
        node.lives.start(now);
        self.resources.started(n, now);
        for (t, topic) in TOPICS.iter().enumerate() {
            if subscribes(n, t) {
                self.command(n, format!("sub {topic}"));
            }
        }
    }

    fn peers_changed(&mut self, n: usize, now: Instant) {
        let others_up = self.fleet.up_count().saturating_sub(1);
        let peers = self.fleet.nodes[n].connected.len();
        self.reconnects.peers(n, peers, others_up, now);
    }

    fn private(&mut self, n: usize, from: &str, text: &str) {
        let sender = self.fleet.index_of(from);
        if text.starts_with("a ") {
            self.chat.acked(n, sender, text);
            return;
        }
        // Intact and new (from a known node): the receiver answers with an acknowledgment,
        // whose `sent`/error reply is owed like any other.
        if let Some(ack) = self.chat.delivered(sender, n, text)
            && self.command(n, format!("send {from} {ack}"))
        {
            self.fleet.nodes[n].owed.push_back(Owed::Ack);
        }
    }

    /// The node answered the oldest `send` it owed: `ok` is `sent`.
    fn answered(&mut self, n: usize, ok: bool) {
        match self.fleet.nodes[n].owed.pop_front() {
            Some(Owed::Chat { to, seq }) => self.chat.confirmed(n, to, seq, ok),
            Some(Owed::Ack) | None => {}
        }
    }

    fn command_error(&mut self, n: usize, command: &str, message: &str) {
        match command {
            "send" => self.answered(n, false),
            "send-file" => {
                if let Some(t) = self.fleet.nodes[n].sending_file.take() {
                    let next = self.transfers.not_created(t, message);
                    self.follow(next);
                }
            }
            // Dials fail while their target is down: routine under churn.
            "connect" => {}
            _ => {
                self.counts.command_errors += 1;
                self.problem(format!("node {n}: {command}: {message}"));
            }
        }
    }

    /// Does what a transfer ledger answer asks for.
    fn follow(&mut self, next: Next) {
        match next {
            Next::Nothing => {}
            Next::Hash { id, path } => {
                self.journal
                    .note(format_args!("hash transfer {id} at {}", path.display()));
                let tx = self.hashed.clone();
                tokio::task::spawn_blocking(move || {
                    let got = hash_file(&path).ok();
                    let _ = std::fs::remove_file(&path);
                    let _ = tx.blocking_send((id, got));
                });
            }
            Next::Ended { source } => {
                let _ = std::fs::remove_file(source);
            }
        }
    }

    /// A received file was hashed.
    pub fn hashed(&mut self, h: Hashed) {
        let next = self.transfers.hashed(h.0, h.1);
        self.follow(next);
    }

    /// A source file was written: hand it to its sender.
    pub fn written(&mut self, w: Written) {
        let (id, result) = w;
        let Some((from, to, path)) = self
            .transfers
            .source_of(id)
            .map(|(f, t, p)| (f, t, p.to_path_buf()))
        else {
            return;
        };
        let sha = match result {
            Ok(sha) => sha,
            Err(e) => {
                let next = self.transfers.not_created(id, &e);
                self.follow(next);
                return;
            }
        };
        self.transfers.set_sha(id, sha);
        let busy = self.fleet.nodes[from].sending_file.is_some();
        let to_id = self.fleet.nodes[to].peer_id.clone();
        match to_id {
            Some(to_id) if !busy && self.fleet.linked(from, to) => {
                let line = format!("send-file {to_id} {}", path.display());
                if self.command(from, line) {
                    self.journal
                        .note(format_args!("node {from}: send-file {id} to node {to}"));
                    self.fleet.nodes[from].sending_file = Some(id);
                } else if let Some(src) = self.transfers.unqueued(id) {
                    let _ = std::fs::remove_file(src);
                }
            }
            // The pair came apart while the file was written: try another time.
            _ => {
                if let Some(src) = self.transfers.unqueued(id) {
                    let _ = std::fs::remove_file(src);
                }
            }
        }
    }

    /// Does one action of the workload.
    pub fn act(&mut self, a: Action, now: Instant) {
        match a {
            Action::Chat { from, to } => {
                let Some(to_id) = self.fleet.nodes[to].peer_id.clone() else {
                    return;
                };
                let (seq, text) = self.chat.new_message(from, to, now, &mut self.work.rng);
                if self.command(from, format!("send {to_id} {text}")) {
                    self.fleet.nodes[from]
                        .owed
                        .push_back(Owed::Chat { to, seq });
                } else {
                    self.chat.unqueued(from, to, seq);
                }
            }
            Action::Publish { from, topic } => {
                let text = self.gossip.publish(from, topic, now);
                if !self.command(from, format!("pub {} {text}", TOPICS[topic])) {
                    self.gossip.unqueued(&text);
                }
            }
            Action::Transfer { from, to, size } => {
                if self.transfers.preparing_from(from) {
                    return;
                }
                let name = format!("x{from}-{}.bin", self.transfers.counts.started);
                let source: PathBuf = self.fleet.nodes[from].spec.share_dir.join(&name);
                let id = self.transfers.begin(Transfer {
                    from,
                    to,
                    size,
                    sha256: String::new(),
                    name,
                    source: source.clone(),
                    tid: None,
                    issued: now,
                    interrupted: 0,
                    destination: None,
                    sender_done: None,
                    hashing: false,
                    unreported: false,
                });
                let seed = rand::Rng::r#gen::<u64>(&mut self.work.rng);
                let tx = self.written.clone();
                tokio::task::spawn_blocking(move || {
                    let r = write_random_file(&source, size, seed).map_err(|e| e.to_string());
                    let _ = tx.blocking_send((id, r));
                });
            }
        }
    }

    /// Reads every running node's RSS and descriptors; asks each for its peers (to correct
    /// the connected sets kept from events).
    pub fn sample(&mut self, now: Instant) {
        for n in 0..self.fleet.nodes.len() {
            let node = &self.fleet.nodes[n];
            let Some(pid) = node.proc.as_ref().map(|p| p.pid) else {
                continue;
            };
            if !node.up {
                continue;
            }
            if let Some(s) = sample(pid) {
                self.resources.record(n, s, now);
            }
            self.command(n, "peers".into());
        }
    }

    /// Settles what is due.
    pub fn settle(&mut self, now: Instant, all: bool) {
        let fleet = &self.fleet;
        self.chat.settle(now, all, |n, a, b| {
            fleet.nodes[n].lives.disturbed_within(a, b)
        });
        let nodes = fleet.nodes.len();
        self.gossip.settle(now, all, nodes, |n, a, b| {
            fleet.nodes[n].lives.alive_throughout(a, b)
        });
        self.reconnects.expire(now);
        for next in self.transfers.unreported(now, UNREPORTED_AFTER) {
            self.follow(next);
        }
    }
}
