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

/// A message type that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message type of {0} bytes is longer than {MAX_TYPE_LEN}")]
pub struct TypeTooLong(pub usize);

/// Why a message from a peer was refused: the rule it broke.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not even a tag.
    #[error("empty message")]
    Empty,
    /// A tag this version does not know.
    #[error("unknown message tag {0}")]
    UnknownTag(u8),
    /// A text message that is not UTF-8.
    #[error("text message is not UTF-8")]
    TextNotUtf8,
    /// A JSON message cut before the end of its type.
    #[error("json message type truncated")]
    TypeTruncated,
    /// A JSON message type that is not UTF-8.
    #[error("json message type is not UTF-8")]
    TypeNotUtf8,
    /// A JSON body over [`MAX_JSON_BYTES`].
    #[error("json message of {0} bytes exceeds {MAX_JSON_BYTES}")]
    JsonTooLarge(usize),
    /// A body that is not JSON.
    #[error("json message of type {kind:?}: {source}")]
    Json {
        /// The message type.
        kind: String,
        /// What the parser said.
        source: serde_json::Error,
    },
}

/// Encodes the header of a JSON message of type `kind`.
pub fn json_head(kind: &str, out: &mut Vec<u8>) -> Result<(), TypeTooLong> {
    if kind.len() > MAX_TYPE_LEN {
        return Err(TypeTooLong(kind.len()));
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
pub fn decode(mut b: Bytes) -> Result<MessageBody, DecodeError> {
    if b.is_empty() {
        return Err(DecodeError::Empty);
    }
    match b.get_u8() {
        TAG_BINARY => Ok(MessageBody::Binary(b)),
        TAG_TEXT => String::from_utf8(b.to_vec())
            .map(MessageBody::Text)
            .map_err(|_| DecodeError::TextNotUtf8),
        TAG_JSON => {
            let (&len, rest) = b.split_first().ok_or(DecodeError::TypeTruncated)?;
            let len = len as usize;
            if rest.len() < len {
                return Err(DecodeError::TypeTruncated);
            }
            if rest.len() - len > MAX_JSON_BYTES {
                return Err(DecodeError::JsonTooLarge(rest.len() - len));
            }
            let kind = std::str::from_utf8(&rest[..len])
                .map_err(|_| DecodeError::TypeNotUtf8)?
                .to_string();
            match serde_json::from_slice(&rest[len..]) {
                Ok(data) => Ok(MessageBody::Json { kind, data }),
                Err(source) => Err(DecodeError::Json { kind, source }),
            }
        }
        t => Err(DecodeError::UnknownTag(t)),
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
        let refused = |b: &[u8]| decode(Bytes::copy_from_slice(b)).expect_err("refused");
        assert!(matches!(refused(b""), DecodeError::Empty));
        assert!(matches!(refused(b"\x01\xff\xfe"), DecodeError::TextNotUtf8));
        assert!(matches!(refused(b"\x02"), DecodeError::TypeTruncated));
        assert!(matches!(refused(b"\x02\x09ab"), DecodeError::TypeTruncated));
        assert!(matches!(
            refused(b"\x02\x01\xffnull"),
            DecodeError::TypeNotUtf8
        ));
        assert!(
            matches!(refused(b"\x02\x01a{"), DecodeError::Json { ref kind, .. } if kind == "a")
        );
        assert!(matches!(refused(b"\x07"), DecodeError::UnknownTag(7)));
        let mut big = b"\x02\x01a".to_vec();
        big.resize(3 + MAX_JSON_BYTES + 1, b' ');
        assert!(matches!(refused(&big), DecodeError::JsonTooLarge(n) if n == MAX_JSON_BYTES + 1));
        assert_eq!(
            json_head(&"x".repeat(256), &mut Vec::new()),
            Err(TypeTooLong(256))
        );
    }
}
