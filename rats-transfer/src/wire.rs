//! The transfer protocol on the wire (see `docs/PROTOCOL.md`, section 15 "File transfer").
//!
//! Control messages are JSON objects tagged by `t` on the service's main channel (Normal
//! priority); chunks are binary on its bulk channel so they never delay control messages or
//! chat. A chunk carries its own SHA-256, checked before it is written.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

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

    /// Decodes from JSON.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("bad transfer message: {e}"))
    }
}

/// Cuts a peer-supplied reason to a sane length (on a character boundary).
pub fn clip_reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_string();
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
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

    /// Splits a chunk message into header and data.
    pub fn decode(mut msg: Bytes) -> Result<(ChunkHeader, Bytes), String> {
        if msg.len() < CHUNK_HEADER_LEN {
            return Err(format!("chunk message of {} bytes is too short", msg.len()));
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
        assert!(ChunkHeader::decode(Bytes::from_static(b"short")).is_err());
    }

    #[test]
    fn control_round_trips_and_rejects_garbage() {
        let m = Control::Ack {
            id: TransferId::random(),
            file: 1,
            chunk: 2,
        };
        assert_eq!(Control::decode(&m.encode()).unwrap(), m);
        assert!(Control::decode(b"{\"t\":\"ack\",\"id\":\"zz\"}").is_err());
        assert!(Control::decode(b"\xff").is_err());
    }

    #[test]
    fn reasons_are_clipped_on_char_boundaries() {
        let long = "é".repeat(600);
        let c = clip_reason(&long);
        assert!(c.len() <= MAX_REASON_BYTES);
        assert!(long.starts_with(&c));
    }
}
