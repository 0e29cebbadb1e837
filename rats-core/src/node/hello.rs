//! The Hello: what each side tells the other inside the handshake (as early data).

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::connect::HelloError;
use crate::reachability::NatType;

/// Most listen addresses accepted in a Hello.
pub const MAX_HELLO_ADDRS: usize = 16;
/// Most services accepted in a Hello.
pub const MAX_HELLO_SERVICES: usize = 64;

/// A service a peer runs, as announced in its Hello.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceAd {
    /// Service name.
    pub name: String,
    /// Its channel.
    pub channel: u16,
}

/// The Hello message (JSON inside the encrypted handshake payload).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hello {
    /// Software name and version, e.g. `rats/0.1.0`.
    pub agent: String,
    /// Addresses the sender listens on (an unspecified IP means "the IP you reached me at").
    pub listen: Vec<Address>,
    /// Services the sender runs.
    pub services: Vec<ServiceAd>,
    /// The sender's view of the receiver's address (helps the receiver learn its public address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Address>,
    /// The NAT kind the sender found itself behind (STUN), when it knows: a dialer that
    /// learns the sender's addresses from a third peer skips the direct dial's head start
    /// when this says inbound connections are filtered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<NatType>,
}

impl Hello {
    /// Parses and bounds a Hello from a peer.
    pub fn decode(bytes: &[u8]) -> Result<Self, HelloError> {
        let mut h: Hello = serde_json::from_slice(bytes).map_err(HelloError::Json)?;
        if h.listen.len() > MAX_HELLO_ADDRS || h.services.len() > MAX_HELLO_SERVICES {
            return Err(HelloError::TooMany);
        }
        h.agent.truncate(h.agent.floor_char_boundary(128));
        Ok(h)
    }
}
