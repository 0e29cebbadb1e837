//! Coordinated hole punching (the `holepunch` NAT strategy), the DCUtR idea over any rats peer.
//!
//! When we want peer B and a plain dial fails (or we only reach B through a relay), we ask B,
//! through a peer both of us are connected to (or over the relayed connection itself), to
//! punch with us:
//!
//! ```text
//! A: fresh UDP socket, STUN -> mapped address (+ whether the mapping varies per destination)
//! A -> B  connect {id, addrs, varies}          (as a signal, passed on by a mutual peer)
//! B: fresh UDP socket, STUN;  B -> A  accept {id, addrs, varies, hold_ms}
//! A -> B  sync {id};  A waits half the measured round trip, B starts on receipt
//! both: spray a few UDP packets at the other's address (opens our NAT's filter), and one
//!       side dials QUIC (rats' Noise handshake runs on top) while the other accepts
//! ```
//!
//! The dialer is the side whose NAT maps per destination (symmetric) when only one does: its
//! packets must reach the other's stable mapping, not the other way round. When both do, no
//! direct path exists and we give up at once (the relay stays). Attempts are bounded: a few
//! sessions at a time, a fixed punch window, and the node's upgrade backoff between rounds.
//!
//! TCP is punched at the same time: each side reserves a TCP port (shared with SO_REUSEPORT),
//! learns its mapping with STUN over TCP, and at the start both connect from it to the other's
//! mapping (a TCP simultaneous open); the accepting side also listens on it. Whichever path the
//! dialer completes first carries the connection (`punched-udp` or `punched-tcp`).

mod config;
mod plugin;
mod punch;
mod socket;
pub(crate) mod wire;

pub use config::HolePunchConfig;
pub use plugin::HolePunch;

/// `PeerInfo::method` of a connection made by punching UDP.
pub const PUNCHED_UDP: &str = "punched-udp";
/// `PeerInfo::method` of a connection made by punching TCP.
pub const PUNCHED_TCP: &str = "punched-tcp";
