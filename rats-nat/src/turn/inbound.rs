//! What the TURN server sends us, classified without sockets: the control connection's STUN
//! messages (answers, RFC 6062 connection attempts) and the UDP socket's datagrams (answers,
//! ChannelData, Data indications). The client's reader tasks only route the results.

use std::net::SocketAddr;

use crate::stun::message::{Class, Message, attr, method};

use super::client::{ConnectionAttempt, tcp};

/// A message or datagram from the server, as the client acts on it.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// A success or error answer to the transaction `tid` (the whole packet goes to it).
    Answer {
        /// The transaction it answers.
        tid: [u8; 12],
    },
    /// A peer connected to our TCP relay (RFC 6062).
    ConnectionAttempt(ConnectionAttempt),
    /// Application data from a peer through a bound channel (`number` is not checked here).
    ChannelData {
        /// The channel number.
        number: u16,
        /// The data.
        data: &'a [u8],
    },
    /// Application data from `peer` in a Data indication.
    Data {
        /// Who sent it.
        peer: SocketAddr,
        /// The data.
        data: &'a [u8],
    },
    /// Anything else: malformed, unexpected, or missing what it needs. Dropped.
    Ignored,
}

/// Classifies one STUN message from the TCP control connection.
pub fn control_message(packet: &[u8]) -> Inbound<'_> {
    let Ok(m) = Message::decode(packet) else {
        return Inbound::Ignored;
    };
    match m.class {
        Class::Success | Class::Error => Inbound::Answer { tid: m.tid },
        Class::Indication if m.method == tcp::CONNECTION_ATTEMPT => {
            let id = m
                .attr(tcp::CONNECTION_ID)
                .and_then(|v| v.try_into().ok())
                .map(u32::from_be_bytes);
            match (id, m.xor_address(attr::XOR_PEER_ADDRESS)) {
                (Some(id), Some(peer)) => {
                    Inbound::ConnectionAttempt(ConnectionAttempt { id, peer })
                }
                _ => Inbound::Ignored,
            }
        }
        _ => Inbound::Ignored,
    }
}

/// Classifies one datagram from the server's UDP port.
pub fn datagram(packet: &[u8]) -> Inbound<'_> {
    if packet.len() < 4 {
        return Inbound::Ignored;
    }
    if packet[0] & 0xC0 == 0x40 {
        // ChannelData: number, length, data (RFC 8656 §12.4).
        let number = u16::from_be_bytes([packet[0], packet[1]]);
        let len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
        return match packet.get(4..4 + len) {
            Some(data) => Inbound::ChannelData { number, data },
            None => Inbound::Ignored,
        };
    }
    let Ok(m) = Message::decode(packet) else {
        return Inbound::Ignored;
    };
    match m.class {
        Class::Success | Class::Error => Inbound::Answer { tid: m.tid },
        Class::Indication if m.method == method::DATA => {
            match (m.xor_address(attr::XOR_PEER_ADDRESS), m.attr(attr::DATA)) {
                (Some(peer), Some(data)) => Inbound::Data { peer, data },
                _ => Inbound::Ignored,
            }
        }
        _ => Inbound::Ignored,
    }
}
