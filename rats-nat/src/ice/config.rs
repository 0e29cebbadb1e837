//! Which servers an ICE session gathers candidates from.

use serde::{Deserialize, Serialize};

/// A TURN server for relay candidates (UDP allocations, long-term credentials).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IceTurnServer {
    /// `host:port`.
    pub server: String,
    /// Long-term credential user name.
    pub username: String,
    /// Long-term credential password.
    pub password: String,
}

/// ICE session settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IceConfig {
    /// STUN servers (`host:port`) for server-reflexive candidates.
    pub stun: Vec<String>,
    /// A TURN server for relay candidates.
    pub turn: Option<IceTurnServer>,
    /// Longest wait for candidate gathering, in milliseconds.
    pub gather_ms: u64,
    /// Longest wait for a nominated pair, in milliseconds.
    pub connect_ms: u64,
    /// Host candidates on loopback addresses only (tests on one machine).
    pub loopback_only: bool,
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            stun: Vec::new(),
            turn: None,
            gather_ms: 5_000,
            connect_ms: 20_000,
            loopback_only: false,
        }
    }
}

impl IceConfig {
    /// Servers from a node's `stun` and `turn` sections (a `turn` section without a server
    /// gives no relay candidates).
    pub fn from_sections(stun: &crate::StunConfig, turn: &crate::TurnConfig) -> IceConfig {
        IceConfig {
            stun: stun.server_list(),
            turn: turn.server.as_ref().map(|server| IceTurnServer {
                server: server.clone(),
                username: turn.username.clone(),
                password: turn.password.clone(),
            }),
            ..IceConfig::default()
        }
    }
}
