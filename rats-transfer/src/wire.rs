//! The transfer protocol on the wire (see `docs/PROTOCOL.md`, section 15 "File transfer").
//!
//! Control messages are JSON objects tagged by `t` on the service's main channel (Normal
//! priority); chunks are binary on its bulk channel so they never delay control messages or
//! chat. A chunk carries its own SHA-256, checked before it is written.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::error::Category;

use crate::id::TransferId;

/// Channel of control messages.
pub const CONTROL_CHANNEL: u16 = 3;
/// Channel of chunks.
pub const DATA_CHANNEL: u16 = 4;
/// Bytes before a chunk's data: id, file index, chunk index, SHA-256.
pub const CHUNK_HEADER_LEN: usize = 16 + 4 + 8 + 32;
/// Longest reason string kept from a peer.
pub const MAX_REASON_BYTES: usize = 512;

/// Whether an offer is one file or a directory tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One file.
    File,
    /// A directory tree.
    Directory,
}

/// One file of an offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireFile {
    /// Path relative to the transfer's root (`/`-separated); for a single file, its name.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// SHA-256 of the whole file, hex.
    pub sha256: String,
}

/// A sender's offer (push), or a server's answer to a request (pull).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The transfer.
    pub id: TransferId,
    /// File or directory.
    pub kind: Kind,
    /// Name of the file or of the directory's root.
    pub name: String,
    /// Files, in sending order.
    pub files: Vec<WireFile>,
    /// Directories of the tree (relative, `/`-separated), including empty ones.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Bytes per chunk.
    pub chunk_size: u32,
}

/// How far a receiver got with one file, sent when a transfer continues after a reconnect
/// or a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileProgress {
    /// Index in the offer's `files`.
    pub file: u32,
    /// Size the receiver expects.
    pub size: u64,
    /// Modification time the receiver expects.
    pub mtime: u64,
    /// Chunks verified and written, counted from the start of the file.
    pub chunks: u64,
    /// SHA-256 (hex) of those chunks' bytes.
    pub prefix_sha256: String,
}

/// Where the sender starts one file again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStart {
    /// Index in the offer's `files`.
    pub file: u32,
    /// First chunk it will send.
    pub chunk: u64,
}

/// A control message: a JSON object whose `t` is the variant's name in snake_case; the
/// variant's fields (for `Offer`, the fields of [`Offer`]) sit next to it.
///
/// ```
/// use rats_transfer::{Kind, TransferId};
/// use rats_transfer::wire::{Control, Offer, WireFile};
///
/// let id = TransferId([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
/// let ack = Control::Ack { id, file: 0, chunk: 0 };
/// assert_eq!(
///     String::from_utf8(ack.encode())?,
///     r#"{"t":"ack","id":"000102030405060708090a0b0c0d0e0f","file":0,"chunk":0}"#
/// );
/// let offer = Control::Offer(Offer {
///     id,
///     kind: Kind::File,
///     name: "hello.txt".into(),
///     files: vec![WireFile {
///         path: "hello.txt".into(),
///         size: 6,
///         mtime: 1_700_000_000,
///         sha256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03".into(),
///     }],
///     dirs: vec![],
///     chunk_size: 262_144,
/// });
/// assert_eq!(
///     String::from_utf8(offer.encode())?,
///     concat!(
///         r#"{"t":"offer","id":"000102030405060708090a0b0c0d0e0f","kind":"file","#,
///         r#""name":"hello.txt","files":[{"path":"hello.txt","size":6,"mtime":1700000000,"#,
///         r#""sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}],"#,
///         r#""dirs":[],"chunk_size":262144}"#
///     )
/// );
/// // `t` may come anywhere, unknown fields are ignored, ids may be upper case.
/// let json = concat!(
///     r#"{"file":0,"chunk":0,"x":1,"#,
///     r#""id":"000102030405060708090A0B0C0D0E0F","t":"ack"}"#
/// );
/// assert_eq!(Control::decode(json.as_bytes())?, ack);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Control {
    /// Push: "may I send you this?"; pull: "here is what you asked for".
    Offer(Offer),
    /// Pull: "send me this path".
    Request {
        /// Id chosen by the requester.
        id: TransferId,
        /// The path asked for, relative to what the server shares.
        path: String,
        /// Whether a directory is asked for.
        directory: bool,
    },
    /// The offer is accepted; chunks may flow.
    Accept {
        /// The transfer.
        id: TransferId,
        /// Most chunks the receiver takes in flight.
        window: u32,
    },
    /// The offer or request is refused.
    Reject {
        /// The transfer.
        id: TransferId,
        /// Why.
        reason: String,
    },
    /// A chunk was verified and written.
    Ack {
        /// The transfer.
        id: TransferId,
        /// File index.
        file: u32,
        /// Chunk index.
        chunk: u64,
    },
    /// A chunk failed its hash check; send it again.
    Nack {
        /// The transfer.
        id: TransferId,
        /// File index.
        file: u32,
        /// Chunk index.
        chunk: u64,
    },
    /// A file is complete, its SHA-256 checked, and moved into place.
    FileDone {
        /// The transfer.
        id: TransferId,
        /// File index.
        file: u32,
    },
    /// Stop sending for now.
    Pause {
        /// The transfer.
        id: TransferId,
    },
    /// Go on after a pause.
    Resume {
        /// The transfer.
        id: TransferId,
    },
    /// The transfer is over and its partial data removed. Also the answer to any non-terminal
    /// message about a transfer the side does not have (nor is deciding on); messages about
    /// another peer's transfer get no answer.
    Cancel {
        /// The transfer.
        id: TransferId,
        /// Why.
        reason: String,
    },
    /// The transfer failed (for example a whole-file hash mismatch).
    Failed {
        /// The transfer.
        id: TransferId,
        /// Why.
        reason: String,
    },
    /// Receiver, after peers meet again: what it already has of each unfinished file.
    Continue {
        /// The transfer.
        id: TransferId,
        /// Most chunks the receiver takes in flight.
        window: u32,
        /// Unfinished files.
        files: Vec<FileProgress>,
    },
    /// Sender, after peers meet again: "do you still have this transfer?" A receiver that
    /// knows it ignores this (it sends `Continue` by itself); one that does not answers
    /// `Cancel`.
    Where {
        /// The transfer.
        id: TransferId,
    },
    /// Sender's answer to `Continue`: where each unfinished file starts again.
    ContinueFrom {
        /// The transfer.
        id: TransferId,
        /// Unfinished files.
        files: Vec<FileStart>,
    },
}

impl Control {
    /// The transfer this message is about.
    pub fn id(&self) -> TransferId {
        match self {
            Control::Offer(o) => o.id,
            Control::Request { id, .. }
            | Control::Accept { id, .. }
            | Control::Reject { id, .. }
            | Control::Ack { id, .. }
            | Control::Nack { id, .. }
            | Control::FileDone { id, .. }
            | Control::Pause { id }
            | Control::Resume { id }
            | Control::Cancel { id, .. }
            | Control::Failed { id, .. }
            | Control::Continue { id, .. }
            | Control::Where { id }
            | Control::ContinueFrom { id, .. } => *id,
        }
    }

    /// Encodes to JSON.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing these plain structs cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes from JSON; the error names the rule the bytes broke.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let msg = Control::deserialize(&mut de).map_err(|e| DecodeError::classify(bytes, e))?;
        de.end().map_err(|_| DecodeError::TrailingBytes)?;
        Ok(msg)
    }

    /// Every message type (`t`) this version knows.
    pub const TYPES: [&'static str; 14] = [
        "offer",
        "request",
        "accept",
        "reject",
        "ack",
        "nack",
        "file_done",
        "pause",
        "resume",
        "cancel",
        "failed",
        "continue",
        "where",
        "continue_from",
    ];
}

/// Why a control message or a chunk could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside the message: JSON cut short, or a chunk shorter than its header.
    #[error("truncated transfer message")]
    Truncated,
    /// Not JSON.
    #[error("transfer message is not JSON")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not an object with a string `t`.
    #[error("transfer message has no type (`t`)")]
    MissingType,
    /// A type this version does not know (a newer peer's: ignored, so versions can add
    /// messages). Holds the type, clipped to [`MAX_TYPE_BYTES`].
    #[error("unknown transfer message type {0:?}")]
    UnknownType(String),
    /// A known type whose fields are missing or of the wrong kind.
    #[error("bad fields in transfer message {kind:?}")]
    BadFields {
        /// The message type.
        kind: &'static str,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// Bytes after the message.
    #[error("trailing bytes after transfer message")]
    TrailingBytes,
}

/// Longest unknown message type kept in [`DecodeError::UnknownType`].
pub const MAX_TYPE_BYTES: usize = 64;

impl DecodeError {
    /// Names the rule a message that serde refused broke. Only on this (rare) path is the
    /// message looked at a second time, for its type.
    fn classify(bytes: &[u8], e: serde_json::Error) -> Self {
        match e.classify() {
            Category::Eof => return DecodeError::Truncated,
            Category::Syntax | Category::Io => return DecodeError::NotJson(e),
            Category::Data => {}
        }
        // Serde read the whole value before refusing it, so this parse (which, like serde
        // then, does not look past the value) succeeds.
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let Ok(value) = serde_json::Value::deserialize(&mut de) else {
            return DecodeError::NotJson(e);
        };
        let Some(t) = value.get("t").and_then(serde_json::Value::as_str) else {
            return DecodeError::MissingType;
        };
        match Control::TYPES.iter().find(|known| **known == t).copied() {
            Some(kind) => DecodeError::BadFields { kind, source: e },
            None => DecodeError::UnknownType(clip(t, MAX_TYPE_BYTES)),
        }
    }
}

/// Cuts a peer-supplied reason to a sane length (on a character boundary).
pub fn clip_reason(reason: &str) -> String {
    clip(reason, MAX_REASON_BYTES)
}

/// Cuts a peer-supplied string to at most `max` bytes, on a character boundary.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The fixed part of a chunk message: id (16 bytes), file (u32), chunk (u64), SHA-256 of the
/// data (32 bytes), big-endian, then the data.
///
/// ```
/// use rats_transfer::TransferId;
/// use rats_transfer::wire::{CHUNK_HEADER_LEN, ChunkHeader};
///
/// let header = ChunkHeader {
///     id: TransferId([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
///     file: 0,
///     chunk: 0,
///     sha256: hex::decode("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")?
///         .try_into()
///         .map_err(|_| "32 bytes")?,
/// };
/// let msg = header.message(b"hello\n");
/// assert_eq!(msg.len(), CHUNK_HEADER_LEN + 6);
/// assert_eq!(&msg[..16], &header.id.0);
/// assert_eq!(&msg[16..28], &[0u8; 12]);
/// assert_eq!(&msg[28..60], &header.sha256);
/// assert_eq!(&msg[60..], b"hello\n");
/// assert_eq!(ChunkHeader::decode(msg)?, (header, bytes::Bytes::from_static(b"hello\n")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkHeader {
    /// The transfer.
    pub id: TransferId,
    /// File index.
    pub file: u32,
    /// Chunk index within the file.
    pub chunk: u64,
    /// SHA-256 of the data.
    pub sha256: [u8; 32],
}

impl ChunkHeader {
    /// Encodes the header (the data follows it in the same message).
    pub fn encode(&self) -> [u8; CHUNK_HEADER_LEN] {
        let mut out = [0u8; CHUNK_HEADER_LEN];
        let mut b = &mut out[..];
        b.put_slice(&self.id.0);
        b.put_u32(self.file);
        b.put_u64(self.chunk);
        b.put_slice(&self.sha256);
        out
    }

    /// Splits a chunk message into header and data; a message shorter than the header is
    /// [`DecodeError::Truncated`].
    pub fn decode(mut msg: Bytes) -> Result<(ChunkHeader, Bytes), DecodeError> {
        if msg.len() < CHUNK_HEADER_LEN {
            return Err(DecodeError::Truncated);
        }
        let head = msg.split_to(CHUNK_HEADER_LEN);
        let mut id = [0u8; 16];
        id.copy_from_slice(&head[..16]);
        let file = u32::from_be_bytes([head[16], head[17], head[18], head[19]]);
        let mut c = [0u8; 8];
        c.copy_from_slice(&head[20..28]);
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&head[28..60]);
        Ok((
            ChunkHeader {
                id: TransferId(id),
                file,
                chunk: u64::from_be_bytes(c),
                sha256,
            },
            msg,
        ))
    }

    /// A whole chunk message (for tests and hand-written peers).
    pub fn message(&self, data: &[u8]) -> Bytes {
        let mut b = BytesMut::with_capacity(CHUNK_HEADER_LEN + data.len());
        b.put_slice(&self.encode());
        b.put_slice(data);
        b.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_header_round_trips() {
        let h = ChunkHeader {
            id: TransferId::random(),
            file: 7,
            chunk: u64::MAX - 1,
            sha256: [9; 32],
        };
        let (back, data) = ChunkHeader::decode(h.message(b"abc")).unwrap();
        assert_eq!(back, h);
        assert_eq!(&data[..], b"abc");
        let short = ChunkHeader::decode(Bytes::from_static(b"short")).unwrap_err();
        assert!(matches!(short, DecodeError::Truncated), "{short}");
        let header_only = h.message(b"");
        let cut = header_only.slice(..CHUNK_HEADER_LEN - 1);
        assert!(matches!(
            ChunkHeader::decode(cut),
            Err(DecodeError::Truncated)
        ));
        assert!(ChunkHeader::decode(header_only).is_ok_and(|(_, d)| d.is_empty()));
    }

    #[test]
    fn control_round_trips() {
        let m = Control::Ack {
            id: TransferId::random(),
            file: 1,
            chunk: 2,
        };
        assert_eq!(Control::decode(&m.encode()).unwrap(), m);
        // Whitespace around the object is JSON, not trailing bytes.
        let mut spaced = m.encode();
        spaced.extend_from_slice(b" \n");
        assert_eq!(Control::decode(&spaced).unwrap(), m);
    }

    #[test]
    fn control_decode_names_the_rule_that_refused() {
        let ack = br#"{"t":"ack","id":"000102030405060708090a0b0c0d0e0f","file":0,"chunk":0}"#;
        let refused = |bytes: &[u8]| Control::decode(bytes).unwrap_err();
        assert!(matches!(
            refused(&ack[..ack.len() - 1]),
            DecodeError::Truncated
        ));
        assert!(matches!(refused(b""), DecodeError::Truncated));
        assert!(matches!(refused(b"\xff"), DecodeError::NotJson(_)));
        assert!(matches!(refused(b"{\"t\" 1}"), DecodeError::NotJson(_)));
        let mut trailing = ack.to_vec();
        trailing.extend_from_slice(b"{}");
        assert!(matches!(refused(&trailing), DecodeError::TrailingBytes));
        assert!(matches!(
            refused(b"{\"id\":\"00\"}"),
            DecodeError::MissingType
        ));
        assert!(matches!(refused(b"[1,2]"), DecodeError::MissingType));
        assert!(matches!(refused(b"{\"t\":7}"), DecodeError::MissingType));
        assert!(matches!(
            refused(b"{\"t\":\"teleport\",\"id\":\"00\"}"),
            DecodeError::UnknownType(t) if t == "teleport"
        ));
        let long = format!(r#"{{"t":"{}"}}"#, "x".repeat(1000));
        assert!(matches!(
            refused(long.as_bytes()),
            DecodeError::UnknownType(t) if t.len() == MAX_TYPE_BYTES
        ));
        assert!(matches!(
            refused(b"{\"t\":\"ack\",\"id\":\"zz\"}"),
            DecodeError::BadFields { kind: "ack", .. }
        ));
        // The first rule broken is named: bad fields before trailing bytes.
        assert!(matches!(
            refused(b"{\"t\":\"ack\",\"id\":\"zz\"} x"),
            DecodeError::BadFields { kind: "ack", .. }
        ));
        let e = refused(b"{\"t\":\"file_done\",\"id\":\"000102030405060708090a0b0c0d0e0f\"}");
        assert!(
            matches!(
                e,
                DecodeError::BadFields {
                    kind: "file_done",
                    ..
                }
            ),
            "{e}"
        );
        // The serde error is kept as the source, not flattened into the message.
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn every_message_type_is_known() {
        let id = TransferId::random();
        let offer = Offer {
            id,
            kind: Kind::File,
            name: "n".into(),
            files: Vec::new(),
            dirs: Vec::new(),
            chunk_size: 4096,
        };
        let reason = String::new();
        // One of each: a new variant fails to compile here until it is listed.
        let all = |c: &Control| match c {
            Control::Offer(_)
            | Control::Request { .. }
            | Control::Accept { .. }
            | Control::Reject { .. }
            | Control::Ack { .. }
            | Control::Nack { .. }
            | Control::FileDone { .. }
            | Control::Pause { .. }
            | Control::Resume { .. }
            | Control::Cancel { .. }
            | Control::Failed { .. }
            | Control::Continue { .. }
            | Control::Where { .. }
            | Control::ContinueFrom { .. } => (),
        };
        let samples = [
            Control::Offer(offer),
            Control::Request {
                id,
                path: "p".into(),
                directory: false,
            },
            Control::Accept { id, window: 1 },
            Control::Reject {
                id,
                reason: reason.clone(),
            },
            Control::Ack {
                id,
                file: 0,
                chunk: 0,
            },
            Control::Nack {
                id,
                file: 0,
                chunk: 0,
            },
            Control::FileDone { id, file: 0 },
            Control::Pause { id },
            Control::Resume { id },
            Control::Cancel {
                id,
                reason: reason.clone(),
            },
            Control::Failed { id, reason },
            Control::Continue {
                id,
                window: 1,
                files: Vec::new(),
            },
            Control::Where { id },
            Control::ContinueFrom {
                id,
                files: Vec::new(),
            },
        ];
        assert_eq!(samples.len(), Control::TYPES.len());
        for (c, t) in samples.iter().zip(Control::TYPES) {
            all(c);
            let v: serde_json::Value = serde_json::from_slice(&c.encode()).unwrap();
            assert_eq!(v["t"], t);
        }
    }

    #[test]
    fn reasons_are_clipped_on_char_boundaries() {
        let long = "é".repeat(600);
        let c = clip_reason(&long);
        assert!(c.len() <= MAX_REASON_BYTES);
        assert!(long.starts_with(&c));
    }
}
