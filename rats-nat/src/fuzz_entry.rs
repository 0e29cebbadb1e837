//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): STUN answers from servers,
//! what a TURN server sends, hole-punch signals and ICE offers from peers. Each runs raw bytes
//! through the code rats runs and asserts what must hold for every input. Reached as
//! `rats_nat::__fuzz`; not public API (no stability promise).

use crate::stun::message::{Message, MessageBuilder, attr};
use crate::turn::inbound::{self, Inbound};

/// A STUN message (a server's answer, or a request to our ICE agent). What decodes, rebuilt
/// attribute by attribute, decodes to the same message; every accessor rats uses runs.
pub fn stun(data: &[u8]) {
    let Ok(m) = Message::decode(data) else {
        return;
    };
    let _ = (
        m.mapped_address(),
        m.error_code(),
        m.check_integrity(b"key"),
    );
    for t in [
        attr::XOR_MAPPED_ADDRESS,
        attr::XOR_PEER_ADDRESS,
        attr::XOR_RELAYED_ADDRESS,
    ] {
        let _ = m.xor_address(t);
    }
    for t in [
        attr::MAPPED_ADDRESS,
        attr::RESPONSE_ORIGIN,
        attr::OTHER_ADDRESS,
    ] {
        let _ = m.address(t);
    }
    let kept: Vec<(u16, &[u8])> = m
        .attrs
        .iter()
        .filter(|(t, _, _)| *t != attr::MESSAGE_INTEGRITY && *t != attr::FINGERPRINT)
        .map(|(t, v, _)| (*t, *v))
        .collect();
    let builder = kept.iter().fold(
        MessageBuilder::with_tid(m.method, m.class, m.tid),
        |b, (t, v)| b.attr(*t, v),
    );
    let rebuilt = builder.build(None);
    // The rebuilt message gains a FINGERPRINT: past STUN's 16-bit length it cannot exist.
    if rebuilt.len() - 20 > usize::from(u16::MAX) {
        return;
    }
    let again = Message::decode(&rebuilt);
    let Ok(again) = again else {
        panic!("rebuilt message does not decode: {again:?}");
    };
    assert_eq!(
        (again.method, again.class, again.tid),
        (m.method, m.class, m.tid)
    );
    let again_kept: Vec<(u16, &[u8])> = again
        .attrs
        .iter()
        .filter(|(t, _, _)| *t != attr::FINGERPRINT)
        .map(|(t, v, _)| (*t, *v))
        .collect();
    assert_eq!(again_kept, kept);
    if let Some(a) = m.xor_address(attr::XOR_MAPPED_ADDRESS) {
        let b = MessageBuilder::with_tid(m.method, m.class, m.tid)
            .xor_address(attr::XOR_MAPPED_ADDRESS, &a)
            .build(None);
        let back = Message::decode(&b)
            .ok()
            .and_then(|x| x.xor_address(attr::XOR_MAPPED_ADDRESS));
        assert_eq!(back, Some(a));
    }
}

/// What a TURN server sends: one message on the TCP control connection, or one UDP datagram.
/// Data handed on lies inside the packet.
pub fn turn(data: &[u8]) {
    for inbound in [inbound::control_message(data), inbound::datagram(data)] {
        match inbound {
            Inbound::ChannelData { data: d, .. } | Inbound::Data { data: d, .. } => {
                assert!(d.len() <= data.len());
            }
            Inbound::Answer { tid } => assert_eq!(&data[8..20], &tid),
            _ => {}
        }
    }
}

/// A hole-punch coordination signal from a peer: what decodes re-encodes to the same message.
#[cfg(feature = "holepunch")]
pub fn holepunch(data: &[u8]) {
    use crate::holepunch::wire::PunchMessage;
    if let Some(m) = PunchMessage::decode(data) {
        assert_eq!(PunchMessage::decode(&m.encode()), Some(m));
    }
}

/// An ICE offer or answer from a peer (JSON): validated as a session validates it, then each
/// candidate parsed as the agent parses it.
#[cfg(feature = "ice")]
pub fn ice_offer(data: &[u8]) {
    use crate::ice::IceOffer;
    let Ok(offer) = serde_json::from_slice::<IceOffer>(data) else {
        return;
    };
    if offer.validate().is_err() {
        return;
    }
    for c in &offer.candidates {
        let _ = webrtc_ice::candidate::candidate_base::unmarshal_candidate(
            crate::ice::offer::strip_prefix(c),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_points_accept_valid_and_garbage_input() {
        let request = crate::stun::message::MessageBuilder::with_tid(
            crate::stun::message::method::BINDING,
            crate::stun::message::Class::Request,
            [1; 12],
        )
        .build(Some(b"key"));
        super::stun(&request);
        super::turn(&request);
        super::turn(&[0x40, 0, 0, 2, 9, 9]);
        #[cfg(feature = "holepunch")]
        super::holepunch(br#"{"t":"sync","id":1}"#);
        #[cfg(feature = "ice")]
        super::ice_offer(
            br#"{"ufrag":"abcd","pwd":"0123456789012345678901","candidates":["candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host"]}"#,
        );
        for garbage in [
            &b""[..],
            b"\x00\x01\x00\x00\x21\x12\xa4\x42",
            b"\x40\x00\xff\xff",
        ] {
            super::stun(garbage);
            super::turn(garbage);
            #[cfg(feature = "holepunch")]
            super::holepunch(garbage);
            #[cfg(feature = "ice")]
            super::ice_offer(garbage);
        }
    }
}
