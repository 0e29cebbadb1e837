//! What the nodes are asked to do, and when: chat lines, publications, file transfers. Rates are per node with random jitter; everything comes from the
//! seeded generator, so a seed repeats the same choices (timing still varies).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::fleet::Fleet;
use crate::gossip::{TOPICS, subscribes};

/// How much work to make.
#[derive(Clone, Debug)]
pub struct Rates {
    /// Mean seconds between two chat lines of one node.
    pub chat_every: f64,
    /// Mean seconds between two publications of one node.
    pub pub_every: f64,
    /// Transfers running at once.
    pub transfers: usize,
    /// Mean seconds between two transfers starting.
    pub transfer_every: f64,
    /// Largest file, in MiB (smallest: 1 MiB).
    pub max_file_mib: u64,
}

/// One thing to do.
#[derive(Debug)]
pub enum Action {
    Chat { from: usize, to: usize },
    Publish { from: usize, topic: usize },
    Transfer { from: usize, to: usize, size: u64 },
}

/// The schedule.
pub struct Workload {
    pub rng: StdRng,
    rates: Rates,
    next_chat: Vec<Instant>,
    next_pub: Vec<Instant>,
    next_transfer: Instant,
}

/// `mean` seconds, uniformly jittered by ±50 %.
fn jittered(rng: &mut StdRng, mean: f64) -> Duration {
    Duration::from_secs_f64(mean * rng.gen_range(0.5..1.5))
}

impl Workload {
    /// A schedule for `nodes` nodes from `seed`, starting at `now`.
    pub fn new(seed: u64, rates: Rates, nodes: usize, now: Instant) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let next_chat = (0..nodes)
            .map(|_| now + jittered(&mut rng, rates.chat_every))
            .collect();
        let next_pub = (0..nodes)
            .map(|_| now + jittered(&mut rng, rates.pub_every))
            .collect();
        Workload {
            rng,
            rates,
            next_chat,
            next_pub,
            next_transfer: now,
        }
    }

    /// The actions due at `now`. Work only goes between nodes that are up and connected;
    /// a new transfer only when fewer than the allowed number run (`open_transfers`).
    pub fn due(&mut self, now: Instant, fleet: &Fleet, open_transfers: usize) -> Vec<Action> {
        let mut out = Vec::new();
        let n = fleet.nodes.len();
        for from in 0..n {
            if self.next_chat[from] <= now {
                self.next_chat[from] = now + jittered(&mut self.rng, self.rates.chat_every);
                if let Some(to) = self.pick_peer(fleet, from) {
                    out.push(Action::Chat { from, to });
                }
            }
            if self.next_pub[from] <= now {
                self.next_pub[from] = now + jittered(&mut self.rng, self.rates.pub_every);
                if fleet.nodes[from].up {
                    let topics: Vec<usize> =
                        (0..TOPICS.len()).filter(|t| subscribes(from, *t)).collect();
                    if let Some(topic) = topics.choose(&mut self.rng) {
                        out.push(Action::Publish {
                            from,
                            topic: *topic,
                        });
                    }
                }
            }
        }
        let mut tries = 0;
        while open_transfers < self.rates.transfers && self.next_transfer <= now && tries < 4 {
            tries += 1;
            let from = self.rng.gen_range(0..n);
            if fleet.nodes[from].sending_file.is_some() {
                continue;
            }
            if let Some(to) = self.pick_peer(fleet, from) {
                let size = self.rng.gen_range(1..=self.rates.max_file_mib.max(1)) << 20;
                // Not always whole MiB: the last chunk is a partial one.
                let size = size - self.rng.gen_range(0..4096);
                out.push(Action::Transfer { from, to, size });
                self.next_transfer = now + jittered(&mut self.rng, self.rates.transfer_every);
            }
        }
        out
    }

    /// A peer `from` is connected to (both up), at random.
    fn pick_peer(&mut self, fleet: &Fleet, from: usize) -> Option<usize> {
        if !fleet.nodes[from].up {
            return None;
        }
        let peers: Vec<usize> = fleet.nodes[from]
            .connected
            .iter()
            .copied()
            .filter(|p| fleet.nodes[*p].up)
            .collect();
        peers.choose(&mut self.rng).copied()
    }
}

/// Writes `size` random bytes from `seed` to `path`; returns their SHA-256 (hex).
pub fn write_random_file(path: &Path, size: u64, seed: u64) -> std::io::Result<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    file.flush()?;
    Ok(hex::encode(hasher.finalize()))
}

/// The SHA-256 (hex) and size of the file at `path`.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let n = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), n))
}
