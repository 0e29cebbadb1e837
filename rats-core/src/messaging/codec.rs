//! Wire encoding of message-exchange messages (channel 1):
//!
//! ```text
//! binary = 0x00 bytes
//! text   = 0x01 UTF-8 bytes
//! json   = 0x02 type_len:u8 type[type_len] JSON-value-bytes
//! ```

use bytes::{Buf, Bytes};

use crate::event::MessageBody;

/// Tag of a binary message.
pub const TAG_BINARY: u8 = 0;
/// Tag of a text message.
pub const TAG_TEXT: u8 = 1;
/// Tag of a typed JSON message.
pub const TAG_JSON: u8 = 2;
/// Longest message type.
pub const MAX_TYPE_LEN: usize = 255;

/// Encodes the header of a JSON message of type `kind`.
pub fn json_head(kind: &str, out: &mut Vec<u8>) -> Result<(), String> {
    if kind.len() > MAX_TYPE_LEN {
        return Err(format!("message type longer than {MAX_TYPE_LEN} bytes"));
    }
    out.push(TAG_JSON);
    out.push(kind.len() as u8);
    out.extend_from_slice(kind.as_bytes());
    Ok(())
}

/// Largest JSON message accepted: parsed JSON takes many times its wire size in memory, so it
/// gets a tighter bound than binary messages.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// The type of a JSON message, if `b` is one (without parsing the JSON).
pub fn json_kind(b: &[u8]) -> Option<&str> {
    let (&tag, rest) = b.split_first()?;
    if tag != TAG_JSON {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    std::str::from_utf8(rest.get(..len as usize)?).ok()
}

/// Decodes a message from a peer.
pub fn decode(mut b: Bytes) -> Result<MessageBody, String> {
    if b.is_empty() {
        return Err("empty message".into());
    }
    match b.get_u8() {
        TAG_BINARY => Ok(MessageBody::Binary(b)),
        TAG_TEXT => String::from_utf8(b.to_vec())
            .map(MessageBody::Text)
            .map_err(|_| "text message is not UTF-8".into()),
        TAG_JSON => {
            let (&len, rest) = b.split_first().ok_or("json message without type")?;
            let len = len as usize;
            if rest.len() < len {
                return Err("json message type truncated".into());
            }
            if rest.len() - len > MAX_JSON_BYTES {
                return Err(format!(
                    "json message of {} bytes exceeds {MAX_JSON_BYTES}",
                    rest.len() - len
                ));
            }
            let kind = std::str::from_utf8(&rest[..len])
                .map_err(|_| "json message type is not UTF-8")?
                .to_string();
            let data = serde_json::from_slice(&rest[len..])
                .map_err(|e| format!("json message of type {kind:?}: {e}"))?;
            Ok(MessageBody::Json { kind, data })
        }
        t => Err(format!("unknown message tag {t}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_all_kinds_and_rejects_garbage() {
        let mut j = Vec::new();
        json_head("chat", &mut j).expect("head");
        j.extend_from_slice(br#"{"a":1}"#);
        assert_eq!(
            decode(Bytes::from(j)).expect("json"),
            MessageBody::Json {
                kind: "chat".into(),
                data: serde_json::json!({"a": 1})
            }
        );
        assert_eq!(
            decode(Bytes::from_static(b"\x01hi")).expect("text"),
            MessageBody::Text("hi".into())
        );
        assert_eq!(
            decode(Bytes::from_static(b"\x00\xff")).expect("bin"),
            MessageBody::Binary(Bytes::from_static(b"\xff"))
        );
        for bad in [
            &b""[..],
            b"\x01\xff\xfe",
            b"\x02",
            b"\x02\x09ab",
            b"\x02\x01a{",
            b"\x07",
        ] {
            assert!(decode(Bytes::copy_from_slice(bad)).is_err(), "{bad:?}");
        }
        assert!(json_head(&"x".repeat(256), &mut Vec::new()).is_err());
    }
}
