//! Private chat accounting. Each (sender, receiver) pair numbers its messages; a message is
//! `m <seq> <check> <payload>` where `check` is a SHA-256 prefix of the pair, the number and
//! the payload. The receiver's output line is the delivery; the soak then makes the receiver
//! send `a <seq> <check>` back, and the sender's output line for that is the
//! acknowledgment. A message is settled some time after it was sent: acknowledged (it must have
//! been delivered exactly once, intact), delivered but not acknowledged, or lost (allowed only
//! around a kill; counted apart when no kill was near).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

/// Counters, cumulative over the run.
#[derive(Clone, Debug, Default)]
pub struct ChatCounts {
    /// `send` commands written.
    pub sent: u64,
    /// ... that the sender's tool confirmed (`sent`).
    pub confirmed: u64,
    /// ... that the tool refused (peer gone...).
    pub refused: u64,
    /// Delivered (first time).
    pub delivered: u64,
    /// Delivered again.
    pub duplicates: u64,
    /// Delivered with a wrong check, unknown number or from an unknown peer.
    pub corrupt: u64,
    /// Acknowledged (first ack).
    pub acked: u64,
    /// Acknowledgments that did not match what was sent, or repeated.
    pub bad_acks: u64,
    /// Acknowledged, but not delivered exactly once intact: lost or duplicated acknowledged.
    pub acked_broken: u64,
    /// Settled delivered without an acknowledgment (acknowledgment lost around a kill).
    pub delivered_unacked: u64,
    /// Settled confirmed, never delivered.
    pub lost_unacked: u64,
    /// ... of which neither end was killed or restarted near the send.
    pub lost_no_kill: u64,
    /// Settled never confirmed by the sender's tool (killed before it answered).
    pub unconfirmed: u64,
    /// Delivered after being settled as lost.
    pub late: u64,
}

#[derive(Debug)]
struct Msg {
    sent_at: Instant,
    check: String,
    confirmed: Option<bool>,
    deliveries: u32,
    corrupt: bool,
    acked: bool,
}

/// One direction between two nodes.
#[derive(Debug, Default)]
struct Pair {
    next_seq: u64,
    open: BTreeMap<u64, Msg>,
    /// One bit per sequence number: delivered (to catch duplicates after settling).
    delivered: Vec<u64>,
    /// One bit per sequence number: acknowledged.
    acked: Vec<u64>,
}

fn bit(bits: &[u64], n: u64) -> bool {
    bits.get((n / 64) as usize)
        .is_some_and(|w| w & (1 << (n % 64)) != 0)
}

fn set_bit(bits: &mut Vec<u64>, n: u64) {
    let i = (n / 64) as usize;
    if bits.len() <= i {
        bits.resize(i + 1, 0);
    }
    bits[i] |= 1 << (n % 64);
}

/// The check of message `seq` from `from` to `to` with `payload`.
pub fn check(from: usize, to: usize, seq: u64, payload: &str) -> String {
    let digest = Sha256::digest(format!("{from}>{to}#{seq}:{payload}").as_bytes());
    hex::encode(&digest[..8])
}

/// The chat ledger.
#[derive(Debug)]
pub struct ChatLedger {
    pairs: HashMap<(usize, usize), Pair>,
    settle_after: Duration,
    /// The counters.
    pub counts: ChatCounts,
    /// First problems seen, for the summary (bounded).
    pub problems: Vec<String>,
}

const PROBLEMS_KEPT: usize = 20;

impl ChatLedger {
    /// A ledger that settles messages `settle_after` after sending.
    pub fn new(settle_after: Duration) -> Self {
        ChatLedger {
            pairs: HashMap::new(),
            settle_after,
            counts: ChatCounts::default(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(p);
        }
    }

    /// A new message from `from` to `to`: its number and text.
    pub fn new_message(
        &mut self,
        from: usize,
        to: usize,
        now: Instant,
        rng: &mut impl Rng,
    ) -> (u64, String) {
        let len = rng.gen_range(8..64);
        let payload: String = rng
            .sample_iter(&Alphanumeric)
            .take(len)
            .map(char::from)
            .collect();
        let pair = self.pairs.entry((from, to)).or_default();
        let seq = pair.next_seq;
        pair.next_seq += 1;
        let check = check(from, to, seq, &payload);
        let text = format!("m {seq} {check} {payload}");
        pair.open.insert(
            seq,
            Msg {
                sent_at: now,
                check,
                confirmed: None,
                deliveries: 0,
                corrupt: false,
                acked: false,
            },
        );
        self.counts.sent += 1;
        (seq, text)
    }

    /// The message could not even be queued to the sender's process: forget it.
    pub fn unqueued(&mut self, from: usize, to: usize, seq: u64) {
        if let Some(pair) = self.pairs.get_mut(&(from, to)) {
            pair.open.remove(&seq);
        }
        self.counts.sent -= 1;
    }

    /// The sender's tool answered our `send`: `ok` is `sent`, else an error.
    pub fn confirmed(&mut self, from: usize, to: usize, seq: u64, ok: bool) {
        if ok {
            self.counts.confirmed += 1;
        } else {
            self.counts.refused += 1;
        }
        if let Some(m) = self
            .pairs
            .get_mut(&(from, to))
            .and_then(|p| p.open.get_mut(&seq))
        {
            m.confirmed = Some(ok);
        }
    }

    /// Node `to` printed `text` from node `from` (None: a peer id we do not know). Returns the
    /// acknowledgment text to send back, if the message is intact and new.
    pub fn delivered(&mut self, from: Option<usize>, to: usize, text: &str) -> Option<String> {
        let parsed = parse(text);
        let (Some(from), Some((seq, chk, payload))) = (from, parsed) else {
            self.counts.corrupt += 1;
            self.problem(format!("node {to}: unreadable chat line {text:?}"));
            return None;
        };
        let intact = check(from, to, seq, payload) == chk;
        let pair = self.pairs.entry((from, to)).or_default();
        if !intact || seq >= pair.next_seq {
            if let Some(m) = pair.open.get_mut(&seq) {
                m.corrupt = true;
            }
            self.counts.corrupt += 1;
            self.problem(format!(
                "node {to}: corrupt message {seq} from node {from}: {text:?}"
            ));
            return None;
        }
        if bit(&pair.delivered, seq) {
            let acked = bit(&pair.acked, seq);
            if let Some(m) = pair.open.get_mut(&seq) {
                m.deliveries += 1;
            }
            self.counts.duplicates += 1;
            if acked {
                self.counts.acked_broken += 1;
            }
            self.problem(format!(
                "node {to}: message {seq} from node {from} delivered again (acknowledged: {acked})"
            ));
            return None;
        }
        set_bit(&mut pair.delivered, seq);
        self.counts.delivered += 1;
        match pair.open.get_mut(&seq) {
            Some(m) => m.deliveries += 1,
            None => self.counts.late += 1,
        }
        Some(format!("a {seq} {chk}"))
    }

    /// Node `sender` printed acknowledgment `text` from node `receiver`.
    pub fn acked(&mut self, sender: usize, receiver: Option<usize>, text: &str) {
        let Some(receiver) = receiver else {
            self.counts.bad_acks += 1;
            return;
        };
        let Some((seq, chk)) = parse_ack(text) else {
            self.counts.bad_acks += 1;
            self.problem(format!("node {sender}: unreadable ack {text:?}"));
            return;
        };
        let pair = self.pairs.entry((sender, receiver)).or_default();
        if bit(&pair.acked, seq) || seq >= pair.next_seq {
            self.counts.bad_acks += 1;
            self.problem(format!(
                "node {sender}: repeated or unknown ack {seq} from node {receiver}"
            ));
            return;
        }
        match pair.open.get_mut(&seq) {
            Some(m) if m.check != chk => {
                let p = format!(
                    "node {sender}: ack {seq} from node {receiver} with check {chk}, sent {}",
                    m.check
                );
                self.counts.bad_acks += 1;
                self.problem(p);
                return;
            }
            Some(m) => m.acked = true,
            // Settled already: its fate was counted; the delivery bit still tells.
            None => {}
        }
        set_bit(&mut pair.acked, seq);
        self.counts.acked += 1;
        if !bit(&pair.delivered, seq) {
            self.counts.acked_broken += 1;
            self.problem(format!(
                "node {sender}: ack {seq} from node {receiver} for a message never delivered"
            ));
        }
    }

    /// Settles the messages sent before `now - settle_after` (all of them with `all`).
    /// `disturbed(node, a, b)` tells whether a node was killed or restarted within `[a, b]`.
    pub fn settle(
        &mut self,
        now: Instant,
        all: bool,
        disturbed: impl Fn(usize, Instant, Instant) -> bool,
    ) {
        let mut problems = Vec::new();
        for ((from, to), pair) in &mut self.pairs {
            while let Some(entry) = pair.open.first_entry() {
                let m = entry.get();
                if !all && m.sent_at + self.settle_after > now {
                    break;
                }
                let (seq, m) = entry.remove_entry();
                let c = &mut self.counts;
                if m.acked {
                    if m.deliveries != 1 || m.corrupt {
                        c.acked_broken += 1;
                        problems.push(format!(
                            "message {seq} {from}->{to} acknowledged, delivered {} time(s), corrupt {}",
                            m.deliveries, m.corrupt
                        ));
                    }
                } else if m.deliveries > 0 {
                    c.delivered_unacked += 1;
                } else if m.confirmed == Some(true) {
                    c.lost_unacked += 1;
                    let (a, b) = (
                        m.sent_at
                            .checked_sub(Duration::from_secs(2))
                            .unwrap_or(m.sent_at),
                        m.sent_at + self.settle_after,
                    );
                    if !disturbed(*from, a, b) && !disturbed(*to, a, b) {
                        c.lost_no_kill += 1;
                        problems.push(format!(
                            "message {seq} {from}->{to} confirmed, never delivered, no kill near"
                        ));
                    }
                } else if m.confirmed.is_none() {
                    c.unconfirmed += 1;
                }
            }
        }
        for p in problems {
            self.problem(p);
        }
    }

    /// Messages not settled yet.
    pub fn open(&self) -> usize {
        self.pairs.values().map(|p| p.open.len()).sum()
    }
}

fn parse(text: &str) -> Option<(u64, &str, &str)> {
    let mut it = text.splitn(4, ' ');
    if it.next()? != "m" {
        return None;
    }
    let seq = it.next()?.parse().ok()?;
    Some((seq, it.next()?, it.next()?))
}

fn parse_ack(text: &str) -> Option<(u64, &str)> {
    let mut it = text.split(' ');
    if it.next()? != "a" {
        return None;
    }
    let seq = it.next()?.parse().ok()?;
    let chk = it.next()?;
    it.next().is_none().then_some((seq, chk))
}
