//! The `holepunch` configuration section. STUN servers come from the `stun` section.

use serde::{Deserialize, Serialize};

/// Hole punching settings (config section `holepunch`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HolePunchConfig {
    /// How long one punch may take once both sides start, in milliseconds.
    pub window_ms: u64,
    /// How long to wait for the other side's answer to a punch request, in milliseconds.
    pub answer_ms: u64,
    /// Punch sessions in progress at most, ours and those peers asked for each (at most one
    /// per asking peer).
    pub max_sessions: usize,
    /// Answer other peers' punch requests (off: only our own connections are punched).
    pub respond: bool,
    /// Punch UDP (QUIC on the punched socket).
    pub udp: bool,
    /// Punch TCP (simultaneous open from a shared port).
    pub tcp: bool,
}

impl Default for HolePunchConfig {
    fn default() -> Self {
        HolePunchConfig {
            window_ms: 3_000,
            answer_ms: 3_000,
            max_sessions: 8,
            respond: true,
            udp: true,
            tcp: true,
        }
    }
}
