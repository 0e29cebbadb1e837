//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): the transfer wire a peer sends,
//! the paths it names, and the resume state on our disk. Each runs raw bytes through the code
//! the service runs and asserts what must hold for every input. Reached as
//! `rats_transfer::__fuzz`; not public API (no stability promise).

use std::path::{Component, Path};

use bytes::Bytes;

use crate::config::TransferConfig;
use crate::manifest::Manifest;
use crate::path::RelPath;
use crate::state;
use crate::wire::{ChunkHeader, Control};

/// A message on the transfer channel: a JSON control message (an offer is also checked the
/// way a receiver checks it) or a chunk. What decodes re-encodes to the same message; an
/// accepted offer's manifest survives its own offer.
pub fn wire(data: &[u8]) {
    if let Ok(msg) = Control::decode(data) {
        assert_eq!(Control::decode(&msg.encode()).ok().as_ref(), Some(&msg));
        if let Control::Offer(offer) = &msg
            && let Ok(manifest) = Manifest::from_offer(offer, &TransferConfig::default())
        {
            let again =
                Manifest::from_offer(&manifest.to_offer(offer.id), &TransferConfig::default());
            assert_eq!(again.ok(), Some(manifest));
        }
    }
    if let Ok((header, body)) = ChunkHeader::decode(Bytes::copy_from_slice(data)) {
        assert_eq!(
            ChunkHeader::decode(header.message(&body)).ok(),
            Some((header, body))
        );
    }
}

/// A path or name a peer announces: what is accepted prints as itself, and placed under a
/// root it stays below the root, one plain component per part.
pub fn path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let root = Path::new("/fuzz-root");
    for rel in [RelPath::parse(text), RelPath::single(text)]
        .into_iter()
        .flatten()
    {
        assert_eq!(RelPath::parse(rel.as_str()).as_ref(), Ok(&rel));
        let placed = rel.under(root);
        let below = placed
            .strip_prefix(root)
            .map(|p| p.components().collect::<Vec<_>>());
        let Ok(parts) = below else {
            panic!("{rel:?} escapes the root: {}", placed.display());
        };
        assert_eq!(parts.len(), rel.components().count());
        assert!(parts.iter().all(|c| matches!(c, Component::Normal(_))));
    }
}

/// A transfer's resume state as it is on disk: `state.json`, a NUL byte, `manifest.json`.
/// What loads must be safe for the resume code to walk (chunk counts, spans, prefixes).
pub fn state(data: &[u8]) {
    let mut parts = data.splitn(2, |&b| b == 0);
    let (Some(state_json), Some(manifest_json)) = (parts.next(), parts.next()) else {
        return;
    };
    let Some(saved) = state::parse(state_json, manifest_json, &TransferConfig::default()) else {
        return;
    };
    let manifest = &saved.manifest;
    let _ = manifest.total_size();
    let _ = manifest.total_chunks();
    for (i, f) in manifest.files.iter().enumerate() {
        let count = manifest.chunk_count(i);
        assert!(saved.prefixes.get(i).is_none_or(|&p| p <= count));
        for c in [0, count / 2, count.saturating_sub(1), count] {
            let (start, len) = manifest.chunk_span(i, c);
            assert!(start.saturating_add(len as u64) <= f.size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_accept_valid_and_garbage_input() {
        wire(br#"{"t":"pause","id":"00112233445566778899aabbccddeeff"}"#);
        wire(&[0u8; 70]);
        path(b"a/b/c.txt");
        path(b"../x");
        state(b"{}\0{}");
        for garbage in [&b""[..], b"\xff", b"\0\0"] {
            wire(garbage);
            path(garbage);
            state(garbage);
        }
    }

    /// Seen while writing the `transfer_state` target: a saved manifest with a chunk size of
    /// 0 divided by zero when the resume code counted its chunks.
    #[test]
    fn a_saved_manifest_with_chunk_size_zero_is_unreadable() {
        let id = "00112233445566778899aabbccddeeff";
        let peer = rats_core::Identity::generate().peer_id();
        let state_json = format!(
            r#"{{"id":"{id}","peer":"{peer}","role":"sender","local_path":"/x","saved_at":1}}"#
        );
        let manifest = |chunk: u32| {
            format!(
                r#"{{"kind":"file","name":"a","files":[{{"rel":"a","size":10,"mtime":0,"sha256":"{}"}}],"dirs":[],"chunk_size":{chunk}}}"#,
                "00".repeat(32)
            )
        };
        let limits = TransferConfig::default();
        assert!(state::parse(state_json.as_bytes(), manifest(0).as_bytes(), &limits).is_none());
        assert!(state::parse(state_json.as_bytes(), manifest(65536).as_bytes(), &limits).is_some());
    }
}
