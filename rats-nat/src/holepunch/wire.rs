//! Punch coordination messages, carried as signals (JSON, at most a couple hundred bytes).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Addresses one message may offer at most.
pub(crate) const MAX_ADDRS: usize = 2;

/// One step of the coordination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum PunchMessage {
    /// The initiator asks for a punch and offers its addresses.
    Connect {
        id: u64,
        addrs: Vec<SocketAddr>,
        /// Its NAT maps per destination (symmetric).
        varies: bool,
        /// Its TCP port's mapping, when it punches TCP too.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tcp: Option<SocketAddr>,
    },
    /// The other side agrees and offers its addresses.
    Accept {
        id: u64,
        addrs: Vec<SocketAddr>,
        varies: bool,
        /// How long it took to answer (taken off the measured round trip).
        hold_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tcp: Option<SocketAddr>,
    },
    /// Start now (the initiator starts half a round trip later).
    Sync { id: u64 },
    /// Give up this session.
    Cancel { id: u64 },
}

impl PunchMessage {
    pub(crate) fn encode(&self) -> Vec<u8> {
        // Serializing plain data cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes a peer's message; `None` for anything malformed, oversized, or offering
    /// addresses nobody should punch towards (see [`punchable`]).
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        let m: PunchMessage = serde_json::from_slice(b).ok()?;
        match &m {
            PunchMessage::Connect { addrs, tcp, .. } | PunchMessage::Accept { addrs, tcp, .. }
                if addrs.is_empty()
                    || addrs.len() > MAX_ADDRS
                    || !addrs.iter().all(punchable)
                    || tcp.as_ref().is_some_and(|t| !punchable(t)) =>
            {
                None
            }
            _ => Some(m),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        match self {
            PunchMessage::Connect { id, .. }
            | PunchMessage::Accept { id, .. }
            | PunchMessage::Sync { id }
            | PunchMessage::Cancel { id } => *id,
        }
    }
}

/// An address a punch may be aimed at: IPv4 unicast that can be someone's mapping (not
/// loopback, "this network" 0/8, multicast, reserved 240/4, broadcast or link-local), with a
/// port. Private ranges are allowed (peers on one LAN, carrier-grade NAT). A hostile peer must
/// not be able to point our punch packets at our own machine or a multicast group.
pub(crate) fn punchable(a: &SocketAddr) -> bool {
    match a {
        SocketAddr::V4(v4) => {
            let ip = v4.ip();
            v4.port() != 0
                && !(ip.is_loopback()
                    || ip.octets()[0] == 0
                    || ip.octets()[0] >= 240
                    || ip.is_multicast()
                    || ip.is_broadcast()
                    || ip.is_link_local())
        }
        SocketAddr::V6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_messages() {
        let a: SocketAddr = "198.51.100.7:4000".parse().expect("addr");
        for m in [
            PunchMessage::Connect {
                id: 1,
                addrs: vec![a],
                varies: true,
                tcp: None,
            },
            PunchMessage::Accept {
                id: 2,
                addrs: vec![a, a],
                varies: false,
                hold_ms: 5,
                tcp: Some(a),
            },
            PunchMessage::Sync { id: 3 },
            PunchMessage::Cancel { id: u64::MAX },
        ] {
            assert_eq!(PunchMessage::decode(&m.encode()), Some(m));
        }
        let too_many = PunchMessage::Connect {
            id: 1,
            addrs: vec![a; MAX_ADDRS + 1],
            varies: false,
            tcp: None,
        };
        assert_eq!(PunchMessage::decode(&too_many.encode()), None);
        assert_eq!(
            PunchMessage::decode(br#"{"t":"connect","id":1,"addrs":[],"varies":false}"#),
            None
        );
        assert_eq!(PunchMessage::decode(b"{\"t\":\"nope\"}"), None);
        assert_eq!(PunchMessage::decode(b"\xff"), None);
        for bad in [
            "127.0.0.1:5",
            "0.0.0.0:5",
            "224.0.0.251:5353",
            "169.254.1.1:5",
            "0.1.2.3:5",
            "250.1.1.1:5",
            "1.2.3.4:0",
            "[2001:db8::1]:5",
        ] {
            let m = PunchMessage::Connect {
                id: 1,
                addrs: vec![bad.parse().expect("addr")],
                varies: false,
                tcp: None,
            };
            assert_eq!(PunchMessage::decode(&m.encode()), None, "{bad}");
            let m = PunchMessage::Connect {
                id: 1,
                addrs: vec![a],
                varies: false,
                tcp: Some(bad.parse().expect("addr")),
            };
            assert_eq!(PunchMessage::decode(&m.encode()), None, "tcp {bad}");
        }
    }
}
