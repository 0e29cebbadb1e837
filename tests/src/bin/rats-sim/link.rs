//! The link model: one-way latency per pair of nodes, each node's upload bandwidth, and loss.
//! Frames travel over a stream (as rats' connections do), so a lost segment is not a lost
//! frame: it arrives after a retransmission timeout, and frames behind it on the same link
//! wait for it (head-of-line blocking).

use std::collections::HashMap;

use crate::rng;
use crate::sched::Micros;

/// Bytes a frame costs on the wire beyond its RPC: the frame header (7 bytes) and the share
/// of a Noise record's length prefix and tag (18 bytes) of a lone frame.
pub const FRAME_OVERHEAD: usize = 7 + 18;

/// What the links are like.
#[derive(Clone, Debug)]
pub struct LinkModel {
    /// Shortest one-way latency.
    pub min_latency_us: Micros,
    /// Longest one-way latency; latencies are log-uniform between the two.
    pub max_latency_us: Micros,
    /// Each node's upload rate, bits per second (0: unlimited).
    pub uplink_bps: u64,
    /// Probability that a frame's segment is lost once and sent again.
    pub loss: f64,
}

impl LinkModel {
    /// Internet-like: one-way 5–150 ms (round trips 10–300 ms), 20 Mbit/s up, 0.5 % loss.
    pub fn wan() -> Self {
        LinkModel {
            min_latency_us: 5_000,
            max_latency_us: 150_000,
            uplink_bps: 20_000_000,
            loss: 0.005,
        }
    }

    /// Like loopback: 30 µs one way, no bandwidth limit, no loss.
    pub fn loopback() -> Self {
        LinkModel {
            min_latency_us: 30,
            max_latency_us: 30,
            uplink_bps: 0,
            loss: 0.0,
        }
    }
}

/// The links of one run: the model, plus each node's upload queue and each link's last
/// arrival (frames of one link arrive in order).
pub struct Links {
    model: LinkModel,
    seed: u64,
    uplink_free: Vec<Micros>,
    last_arrival: HashMap<(u32, u32), Micros>,
    loss_draws: u64,
    /// Frames and bytes put on the wire, per node.
    pub sent_bytes: Vec<u64>,
}

impl Links {
    /// Links for `nodes` nodes.
    pub fn new(model: LinkModel, seed: u64, nodes: usize) -> Self {
        Links {
            model,
            seed,
            uplink_free: vec![0; nodes],
            last_arrival: HashMap::new(),
            loss_draws: 0,
            sent_bytes: vec![0; nodes],
        }
    }

    /// The one-way latency between `a` and `b` (the same both ways, fixed for the run).
    pub fn latency(&self, a: u32, b: u32) -> Micros {
        let (lo, hi) = (a.min(b), a.max(b));
        let u = rng::unit(rng::derive(
            self.seed,
            "latency",
            (u64::from(lo) << 32) | u64::from(hi),
        ));
        let (min, max) = (
            self.model.min_latency_us.max(1) as f64,
            self.model.max_latency_us.max(1) as f64,
        );
        (min * (max / min).powf(u)).round() as Micros
    }

    /// Sends one datagram of `len` bytes (UDP: a lost one is gone, none waits for another);
    /// when it arrives, if it does.
    pub fn datagram(&mut self, from: u32, to: u32, len: usize, now: Micros) -> Option<Micros> {
        // IPv4 and UDP headers.
        let wire = len + 28;
        self.sent_bytes[from as usize] += wire as u64;
        let start = now.max(self.uplink_free[from as usize]);
        let sent = start
            + (wire as u64 * 8 * 1_000_000)
                .checked_div(self.model.uplink_bps)
                .unwrap_or(0);
        self.uplink_free[from as usize] = sent;
        if self.model.loss > 0.0 {
            self.loss_draws += 1;
            if rng::unit(rng::derive(self.seed, "loss", self.loss_draws)) < self.model.loss {
                return None;
            }
        }
        Some(sent + self.latency(from, to))
    }

    /// Sends `len` bytes from `from` to `to` at `now`; when they arrive.
    pub fn transmit(&mut self, from: u32, to: u32, len: usize, now: Micros) -> Micros {
        let wire = len + FRAME_OVERHEAD;
        self.sent_bytes[from as usize] += wire as u64;
        let start = now.max(self.uplink_free[from as usize]);
        let serialise = (wire as u64 * 8 * 1_000_000)
            .checked_div(self.model.uplink_bps)
            .unwrap_or(0);
        let sent = start + serialise;
        self.uplink_free[from as usize] = sent;
        let latency = self.latency(from, to);
        let mut arrival = sent + latency;
        if self.model.loss > 0.0 {
            self.loss_draws += 1;
            let u = rng::unit(rng::derive(self.seed, "loss", self.loss_draws));
            if u < self.model.loss {
                // A TCP retransmission timeout: at least 200 ms, or twice the round trip.
                arrival += (4 * latency).max(200_000);
            }
        }
        let last = self.last_arrival.entry((from, to)).or_insert(0);
        arrival = arrival.max(*last);
        *last = arrival;
        arrival
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_symmetric_in_range_and_frames_keep_their_order() {
        let mut l = Links::new(LinkModel::wan(), 9, 4);
        for (a, b) in [(0, 1), (2, 3), (1, 3)] {
            let d = l.latency(a, b);
            assert_eq!(d, l.latency(b, a));
            assert!((5_000..=150_000).contains(&d), "{d}");
        }
        let mut last = 0;
        for i in 0..2_000 {
            let t = l.transmit(0, 1, 300, i * 10);
            assert!(t >= last, "out of order");
            last = t;
        }
        // 2,000 frames of 325 bytes at 20 Mbit/s take 260 ms of upload.
        assert!(last >= 260_000, "{last}");
    }
}
