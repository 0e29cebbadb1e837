//! File transfer accounting. The soak writes a random file with a known SHA-256 into the
//! sender's share folder and tells the sender `send-file`; the receiver accepts it into its
//! accept folder. A transfer ends when the receiver reports it finished (the received file is
//! then hashed: right hash = completed, else corrupt) or either side reports a failure. A
//! transfer one of whose nodes was killed while it ran is "interrupted"; if it then completes
//! it "resumed" (the tool continues from what the receiver had verified).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Counters, cumulative.
#[derive(Clone, Debug, Default)]
pub struct TransferCounts {
    /// Files handed to a sender (`send-file` written).
    pub started: u64,
    /// The sender refused the command, or was killed before creating the transfer.
    pub not_created: u64,
    /// Completed, and the received file has the right SHA-256.
    pub completed: u64,
    /// ... of which the receiver never reported (killed between putting the file in place and
    /// saying so; found by the soak at its destination after the sender reported completion).
    pub unreported: u64,
    /// ... of which were interrupted by a kill of one side and resumed.
    pub resumed: u64,
    /// A side reported failure or cancellation.
    pub failed: u64,
    /// Completed with a wrong hash or size, or an offer with the wrong hash.
    pub corrupt: u64,
    /// Kills that hit a running transfer (either side).
    pub interruptions: u64,
}

/// One transfer.
#[derive(Debug)]
pub struct Transfer {
    pub from: usize,
    pub to: usize,
    pub size: u64,
    pub sha256: String,
    pub name: String,
    /// The source file (removed when the transfer ends).
    pub source: PathBuf,
    /// The tool's transfer id, once created.
    pub tid: Option<String>,
    /// When the sender was told.
    pub issued: Instant,
    /// Kills of either side while it ran.
    pub interrupted: u32,
    /// Where the receiver puts it.
    pub destination: Option<PathBuf>,
    /// When the sender reported it completed.
    pub sender_done: Option<Instant>,
    /// The receiver's file is being hashed.
    pub hashing: bool,
    /// ... found by the soak, not reported by the receiver.
    pub unreported: bool,
}

/// What to do after an event.
pub enum Next {
    Nothing,
    /// Hash this received file for transfer `id`.
    Hash {
        id: u64,
        path: PathBuf,
    },
    /// The transfer ended: remove its source file.
    Ended {
        source: PathBuf,
    },
}

/// The transfer ledger.
#[derive(Debug, Default)]
pub struct TransferLedger {
    open: HashMap<u64, Transfer>,
    by_tid: HashMap<String, u64>,
    next: u64,
    /// The counters.
    pub counts: TransferCounts,
    /// First problems, for the summary (bounded).
    pub problems: Vec<String>,
}

const PROBLEMS_KEPT: usize = 20;

impl TransferLedger {
    fn problem(&mut self, p: String) {
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(p);
        }
    }

    /// Transfers not ended.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// Whether `from` has a transfer whose file is still being written or whose `send-file`
    /// has not been answered (one at a time per sender).
    pub fn preparing_from(&self, from: usize) -> bool {
        self.open
            .values()
            .any(|t| t.from == from && t.tid.is_none())
    }

    /// Sender, receiver and source file of `id`.
    pub fn source_of(&self, id: u64) -> Option<(usize, usize, &std::path::Path)> {
        self.open
            .get(&id)
            .map(|t| (t.from, t.to, t.source.as_path()))
    }

    /// The SHA-256 of `id`'s source, once written.
    pub fn set_sha(&mut self, id: u64, sha256: String) {
        if let Some(t) = self.open.get_mut(&id) {
            t.sha256 = sha256;
        }
    }

    /// Sender and receiver of the tool's transfer `tid`, if it is one of ours and open.
    pub fn parties(&self, tid: &str) -> Option<(usize, usize)> {
        let t = self.open.get(self.by_tid.get(tid)?)?;
        Some((t.from, t.to))
    }

    /// Registers a file handed to `from` for `to`; returns its id.
    pub fn begin(&mut self, t: Transfer) -> u64 {
        let id = self.next;
        self.next += 1;
        self.open.insert(id, t);
        self.counts.started += 1;
        id
    }

    /// The `send-file` could not be queued: forget it.
    pub fn unqueued(&mut self, id: u64) -> Option<PathBuf> {
        let t = self.open.remove(&id)?;
        self.counts.started -= 1;
        Some(t.source)
    }

    /// The sender created transfer `tid` for our transfer `id`.
    pub fn created(&mut self, id: u64, tid: &str, name: &str) {
        let Some(t) = self.open.get_mut(&id) else {
            return;
        };
        t.tid = Some(tid.to_string());
        let wrong = (t.name != name).then(|| t.name.clone());
        self.by_tid.insert(tid.to_string(), id);
        if let Some(expected) = wrong {
            self.problem(format!(
                "transfer {id}: created as {name:?}, expected {expected:?}"
            ));
        }
    }

    /// Our transfer `id` never became one (refused, or its sender was killed first).
    pub fn not_created(&mut self, id: u64, why: &str) -> Next {
        let Some(t) = self.open.remove(&id) else {
            return Next::Nothing;
        };
        self.counts.not_created += 1;
        if !why.is_empty() && self.problems.len() < PROBLEMS_KEPT / 2 {
            self.problem(format!("transfer {id} not created: {why}"));
        }
        Next::Ended { source: t.source }
    }

    /// The receiver was offered `tid` with `sha256`, to be saved at `destination`.
    pub fn offered(&mut self, tid: &str, sha256: Option<&str>, destination: Option<&str>) {
        let Some(id) = self.by_tid.get(tid).copied() else {
            return;
        };
        let Some(t) = self.open.get_mut(&id) else {
            return;
        };
        t.destination = destination.map(PathBuf::from);
        if sha256 != Some(t.sha256.as_str()) {
            self.counts.corrupt += 1;
            let p = format!(
                "transfer {id}: offered with sha256 {sha256:?}, file has {}",
                t.sha256
            );
            self.problem(p);
        }
    }

    /// Node `node` was killed: transfers it takes part in are interrupted; one whose
    /// `send-file` was pending (`sending`) never becomes a transfer.
    pub fn killed(&mut self, node: usize, sending: Option<u64>) -> Vec<Next> {
        let mut out = Vec::new();
        if let Some(id) = sending {
            out.push(self.not_created(id, ""));
        }
        for t in self.open.values_mut() {
            if (t.from == node || t.to == node) && t.tid.is_some() && !t.hashing {
                t.interrupted += 1;
                self.counts.interruptions += 1;
            }
        }
        out
    }

    /// Node `node` reports `tid` finished in `state`.
    pub fn finished(
        &mut self,
        node: usize,
        tid: &str,
        incoming: bool,
        state: &str,
        path: &str,
        error: Option<&str>,
    ) -> Next {
        let Some(id) = self.by_tid.get(tid).copied() else {
            return Next::Nothing;
        };
        let Some(t) = self.open.get_mut(&id) else {
            return Next::Nothing;
        };
        match (state, incoming) {
            ("completed", true) if node == t.to => {
                t.hashing = true;
                Next::Hash {
                    id,
                    path: PathBuf::from(path),
                }
            }
            // The sender's side done: the receiver's word decides.
            ("completed", false) => {
                t.sender_done.get_or_insert(Instant::now());
                Next::Nothing
            }
            _ => {
                let p = format!(
                    "transfer {id} ({} -> {}, {} bytes, interrupted {}): {state} on node {node}: {}",
                    t.from,
                    t.to,
                    t.size,
                    t.interrupted,
                    error.unwrap_or("")
                );
                self.counts.failed += 1;
                self.problem(p);
                self.end(id)
            }
        }
    }

    /// Transfers the sender reported completed more than `wait` ago while the receiver said
    /// nothing: their files are looked for at the destination (hashed, or missing: lost).
    pub fn unreported(&mut self, now: Instant, wait: Duration) -> Vec<Next> {
        let mut out = Vec::new();
        for (id, t) in &mut self.open {
            if !t.hashing && t.sender_done.is_some_and(|d| d + wait <= now) {
                t.hashing = true;
                t.unreported = true;
                let path = t.destination.clone().unwrap_or_default();
                out.push(Next::Hash { id: *id, path });
            }
        }
        out
    }

    /// The received file of `id` hashed to `sha256` with `size` bytes (None: unreadable).
    pub fn hashed(&mut self, id: u64, got: Option<(String, u64)>) -> Next {
        let Some(t) = self.open.get(&id) else {
            return Next::Nothing;
        };
        if t.unreported && got.is_some() {
            self.counts.unreported += 1;
        }
        let ok = got
            .as_ref()
            .is_some_and(|(h, n)| *h == t.sha256 && *n == t.size);
        if ok {
            self.counts.completed += 1;
            if t.interrupted > 0 {
                self.counts.resumed += 1;
            }
        } else {
            self.counts.corrupt += 1;
            let p = format!(
                "transfer {id} ({} -> {}{}): received file {got:?}, sent {} ({} bytes)",
                t.from,
                t.to,
                if t.unreported {
                    ", completed for the sender, not reported by the receiver"
                } else {
                    ""
                },
                t.sha256,
                t.size
            );
            self.problem(p);
        }
        self.end(id)
    }

    fn end(&mut self, id: u64) -> Next {
        match self.open.remove(&id) {
            Some(t) => {
                if let Some(tid) = &t.tid {
                    self.by_tid.remove(tid);
                }
                Next::Ended { source: t.source }
            }
            None => Next::Nothing,
        }
    }

    /// Open transfers issued more than `deadline` ago whose two nodes were both up for all
    /// of the last `deadline` (`up(node, a, b)`): they should have ended.
    pub fn stuck(
        &self,
        now: Instant,
        deadline: Duration,
        up: impl Fn(usize, Instant, Instant) -> bool,
    ) -> Vec<String> {
        let Some(since) = now.checked_sub(deadline) else {
            return Vec::new();
        };
        self.open
            .iter()
            .filter(|(_, t)| t.issued <= since && up(t.from, since, now) && up(t.to, since, now))
            .map(|(id, t)| {
                format!(
                    "transfer {id} ({} -> {}, {} bytes, tool id {:?}, interrupted {}) open for {:.0} s",
                    t.from,
                    t.to,
                    t.size,
                    t.tid,
                    t.interrupted,
                    (now - t.issued).as_secs_f64()
                )
            })
            .collect()
    }
}
