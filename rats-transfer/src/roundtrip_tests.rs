//! Round-trip properties of every encoder/decoder pair of rats-transfer: control messages,
//! chunk headers, relative paths, offers and manifests, transfer ids, resume state and the
//! chunk log. An arbitrary valid value encodes to bytes that decode to the same value, and
//! decoding arbitrary bytes never panics.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use proptest::prelude::*;
use rats_core::{Identity, PeerId};

use crate::config::{MIN_CHUNK_SIZE, TransferConfig};
use crate::id::TransferId;
use crate::manifest::{Manifest, ManifestFile};
use crate::path::{MAX_DEPTH, RelPath};
use crate::state::{self, SavedRole, SavedTransfer};
use crate::store::StoreJob;
use crate::wire::{
    CHUNK_HEADER_LEN, ChunkHeader, Control, FileProgress, FileStart, Kind, Offer, WireFile,
};

fn transfer_id() -> impl Strategy<Value = TransferId> {
    any::<[u8; 16]>().prop_map(TransferId)
}

fn peer_id() -> impl Strategy<Value = PeerId> {
    static POOL: OnceLock<Vec<PeerId>> = OnceLock::new();
    prop::sample::select(
        POOL.get_or_init(|| (0..8).map(|_| Identity::generate().peer_id()).collect())
            .as_slice(),
    )
}

/// One valid path component: any text the rules accept.
fn component() -> impl Strategy<Value = String> {
    "[^/\\\\:\\x00-\\x1f]{1,12}|[a-z]{1,3}\\.[a-z]{1,3}"
        .prop_filter("not a valid name", |c| RelPath::single(c).is_ok())
}

fn rel_path() -> impl Strategy<Value = RelPath> {
    prop::collection::vec(component(), 1..6).prop_map(|c| RelPath::parse(&c.join("/")).unwrap())
}

fn wire_file() -> impl Strategy<Value = WireFile> {
    (
        ".{0,30}",
        any::<u64>(),
        any::<u64>(),
        "[0-9a-f]{64}|.{0,10}",
    )
        .prop_map(|(path, size, mtime, sha256)| WireFile {
            path,
            size,
            mtime,
            sha256,
        })
}

fn offer() -> impl Strategy<Value = Offer> {
    (
        transfer_id(),
        prop_oneof![Just(Kind::File), Just(Kind::Directory)],
        ".{0,30}",
        prop::collection::vec(wire_file(), 0..4),
        prop::collection::vec(".{0,20}", 0..4),
        any::<u32>(),
    )
        .prop_map(|(id, kind, name, files, dirs, chunk_size)| Offer {
            id,
            kind,
            name,
            files,
            dirs,
            chunk_size,
        })
}

fn control() -> impl Strategy<Value = Control> {
    let id = transfer_id;
    let text = || ".{0,40}";
    prop_oneof![
        offer().prop_map(Control::Offer),
        (id(), text(), any::<bool>()).prop_map(|(id, path, directory)| Control::Request {
            id,
            path,
            directory
        }),
        (id(), any::<u32>()).prop_map(|(id, window)| Control::Accept { id, window }),
        (id(), text()).prop_map(|(id, reason)| Control::Reject { id, reason }),
        (id(), any::<u32>(), any::<u64>()).prop_map(|(id, file, chunk)| Control::Ack {
            id,
            file,
            chunk
        }),
        (id(), any::<u32>(), any::<u64>()).prop_map(|(id, file, chunk)| Control::Nack {
            id,
            file,
            chunk
        }),
        (id(), any::<u32>()).prop_map(|(id, file)| Control::FileDone { id, file }),
        id().prop_map(|id| Control::Pause { id }),
        id().prop_map(|id| Control::Resume { id }),
        (id(), text()).prop_map(|(id, reason)| Control::Cancel { id, reason }),
        (id(), text()).prop_map(|(id, reason)| Control::Failed { id, reason }),
        (
            id(),
            any::<u32>(),
            prop::collection::vec(
                (
                    any::<u32>(),
                    any::<u64>(),
                    any::<u64>(),
                    any::<u64>(),
                    text()
                )
                    .prop_map(|(file, size, mtime, chunks, prefix_sha256)| {
                        FileProgress {
                            file,
                            size,
                            mtime,
                            chunks,
                            prefix_sha256,
                        }
                    }),
                0..4
            )
        )
            .prop_map(|(id, window, files)| Control::Continue { id, window, files }),
        id().prop_map(|id| Control::Where { id }),
        (
            id(),
            prop::collection::vec(
                (any::<u32>(), any::<u64>()).prop_map(|(file, chunk)| FileStart { file, chunk }),
                0..4
            )
        )
            .prop_map(|(id, files)| Control::ContinueFrom { id, files }),
    ]
}

/// A manifest an offer can carry within the default limits: distinct paths, a chunk size a
/// peer may pick, sizes within the limits; a single file for [`Kind::File`].
fn manifest() -> impl Strategy<Value = Manifest> {
    let file = |rel: RelPath| {
        (0..1u64 << 34, any::<u64>(), any::<[u8; 32]>()).prop_map(move |(size, mtime, sha256)| {
            ManifestFile {
                rel: rel.clone(),
                size,
                mtime,
                sha256,
            }
        })
    };
    let single = (component(), MIN_CHUNK_SIZE..=1 << 20).prop_flat_map(move |(name, chunk)| {
        let rel = RelPath::single(&name).unwrap();
        file(rel).prop_map(move |f| Manifest {
            kind: Kind::File,
            name: name.clone(),
            files: vec![f],
            dirs: Vec::new(),
            chunk_size: chunk,
        })
    });
    let tree = (
        component(),
        prop::collection::vec(rel_path(), 0..6),
        prop::collection::vec(rel_path(), 0..4),
        MIN_CHUNK_SIZE..=1 << 20,
    )
        .prop_flat_map(move |(name, file_paths, dirs, chunk)| {
            // Every path announced once.
            let mut seen = HashSet::new();
            let dirs: Vec<RelPath> = dirs
                .into_iter()
                .filter(|d| seen.insert(d.clone()))
                .collect();
            let paths: Vec<RelPath> = file_paths
                .into_iter()
                .filter(|p| seen.insert(p.clone()))
                .collect();
            let files: Vec<_> = paths.into_iter().map(file).collect();
            (Just(name), files, Just(dirs), Just(chunk))
        })
        .prop_map(|(name, files, dirs, chunk_size)| Manifest {
            kind: Kind::Directory,
            name,
            files,
            dirs,
            chunk_size,
        });
    prop_oneof![single, tree]
}

/// A unique scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("rats-rt-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

proptest! {
    #[test]
    fn control_messages_round_trip(m in control()) {
        prop_assert_eq!(Control::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn control_decoding_of_arbitrary_bytes_never_panics(
        b in prop::collection::vec(any::<u8>(), 0..200),
        t in prop::sample::select(Control::TYPES.to_vec()),
        body in "[ -~]{0,60}",
    ) {
        let _ = Control::decode(&b);
        let _ = Control::decode(format!("{{\"t\":\"{t}\",{body}").as_bytes());
    }

    #[test]
    fn chunk_messages_round_trip(
        id in transfer_id(),
        file in any::<u32>(),
        chunk in any::<u64>(),
        sha256 in any::<[u8; 32]>(),
        data in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let header = ChunkHeader { id, file, chunk, sha256 };
        let msg = header.message(&data);
        prop_assert_eq!(&msg[..CHUNK_HEADER_LEN], &header.encode()[..]);
        let (back, rest) = ChunkHeader::decode(msg).unwrap();
        prop_assert_eq!(back, header);
        prop_assert_eq!(&rest[..], &data[..]);
    }

    #[test]
    fn chunk_decoding_of_arbitrary_bytes_never_panics(
        b in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        if let Ok((h, rest)) = ChunkHeader::decode(Bytes::from(b.clone())) {
            prop_assert_eq!(h.message(&rest).to_vec(), b);
        }
    }

    #[test]
    fn transfer_ids_round_trip(id in transfer_id()) {
        prop_assert_eq!(TransferId::from_hex(&id.to_hex()), Some(id));
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(serde_json::from_str::<TransferId>(&json).unwrap(), id);
    }

    #[test]
    fn rel_paths_round_trip(p in rel_path(), q in rel_path()) {
        prop_assert_eq!(RelPath::parse(p.as_str()).unwrap(), p.clone());
        let shown = p.to_string();
        prop_assert_eq!(RelPath::parse(&shown).unwrap(), p.clone());
        prop_assert_eq!(RelPath::from_local(Path::new(p.as_str())).unwrap(), p.clone());
        let json = serde_json::to_string(&p).unwrap();
        prop_assert_eq!(serde_json::from_str::<RelPath>(&json).unwrap(), p.clone());
        prop_assert_eq!(
            p.components().collect::<Vec<_>>().join("/"),
            p.as_str().to_string()
        );
        if let Ok(joined) = p.join(&q) {
            prop_assert_eq!(RelPath::parse(joined.as_str()).unwrap(), joined);
        } else {
            prop_assert!(p.components().count() + q.components().count() > MAX_DEPTH);
        }
    }

    /// Whatever text parses is kept as it is, and parses again; nothing panics.
    #[test]
    fn path_parsing_of_arbitrary_text_never_panics(s in ".{0,40}|[a-zA-Z./ ]{0,20}") {
        if let Ok(p) = RelPath::parse(&s) {
            prop_assert_eq!(p.as_str(), s.as_str());
            prop_assert_eq!(RelPath::from_local(Path::new(&s)).unwrap(), p);
        }
        if let Ok(p) = RelPath::single(&s) {
            prop_assert_eq!(RelPath::parse(p.as_str()).unwrap(), p);
        }
    }

    #[test]
    fn manifests_round_trip_through_offers_and_json(m in manifest(), id in transfer_id()) {
        let offer = m.to_offer(id);
        let back = Manifest::from_offer(&offer, &TransferConfig::default()).unwrap();
        prop_assert_eq!(&back, &m);
        // Through the wire too.
        let wire = Control::Offer(offer).encode();
        let Control::Offer(offer) = Control::decode(&wire).unwrap() else {
            panic!("not an offer");
        };
        prop_assert_eq!(Manifest::from_offer(&offer, &TransferConfig::default()).unwrap(), m.clone());
        // `manifest.json` of the resume state.
        let json = serde_json::to_vec(&m).unwrap();
        prop_assert_eq!(serde_json::from_slice::<Manifest>(&json).unwrap(), m);
    }

    #[test]
    fn offer_checking_of_arbitrary_offers_never_panics(o in offer()) {
        if let Ok(m) = Manifest::from_offer(&o, &TransferConfig::default()) {
            let again = Manifest::from_offer(&m.to_offer(o.id), &TransferConfig::default());
            prop_assert_eq!(again.unwrap(), m);
        }
    }
}

proptest! {
    // Each case writes (and syncs) files.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn resume_state_round_trips_through_its_files(
        m in manifest(),
        id in transfer_id(),
        peer in peer_id(),
        receiver in any::<bool>(),
        local in "[^\\x00]{1,30}",
        sources in prop::collection::vec("[^\\x00]{1,20}", 0..3),
        paused in any::<bool>(),
        age in 0..3600u64,
        progress in any::<prop::sample::Index>(),
    ) {
        let dir = Scratch::new();
        let files_done: Vec<bool> = (0..m.files.len()).map(|i| (i + progress.index(7)) % 3 == 0).collect();
        let prefixes: Vec<u64> = (0..m.files.len())
            .map(|i| progress.index(m.chunk_count(i) as usize + 1) as u64)
            .collect();
        let saved = SavedTransfer {
            id,
            peer,
            role: if receiver { SavedRole::Receiver } else { SavedRole::Sender },
            manifest: Arc::new(m),
            local_path: PathBuf::from(local),
            sources: sources.into_iter().map(PathBuf::from).collect(),
            files_done,
            prefixes,
            paused,
            saved_at: state::now_secs() - age,
        };
        state::save(&dir.0, &saved).unwrap();
        let loaded = state::load_all(&dir.0, &TransferConfig::default());
        prop_assert_eq!(loaded.len(), 1);
        let back = &loaded[0];
        prop_assert_eq!(back.id, saved.id);
        prop_assert_eq!(back.peer, saved.peer);
        prop_assert_eq!(back.role, saved.role);
        prop_assert_eq!(&back.manifest, &saved.manifest);
        prop_assert_eq!(&back.local_path, &saved.local_path);
        prop_assert_eq!(&back.sources, &saved.sources);
        prop_assert_eq!(&back.files_done, &saved.files_done);
        prop_assert_eq!(&back.prefixes, &saved.prefixes);
        prop_assert_eq!(back.paused, saved.paused);
        prop_assert_eq!(back.saved_at, saved.saved_at);
    }

    /// What storing chunks logs, the chunk log reads back in order.
    #[test]
    fn chunk_log_round_trips(
        id in transfer_id(),
        chunks in prop::collection::vec((any::<u32>(), any::<u64>()), 0..20),
    ) {
        let dir = Scratch::new();
        std::fs::create_dir_all(state::transfer_dir(&dir.0, id)).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(state::chunk_log_path(&dir.0, id))
            .unwrap();
        let log = Arc::new(log);
        let data = Bytes::from_static(b"x");
        let sha256: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&data).into();
        for &(file_index, chunk) in &chunks {
            StoreJob {
                log: Some(log.clone()),
                file_index,
                chunk,
                path: dir.0.join("data.part"),
                part: None,
                offset: 0,
                data: data.clone(),
                sha256,
                check: true,
            }
            .run();
        }
        let back = state::read_chunk_log(&dir.0, id, chunks.len() as u64);
        prop_assert_eq!(back, chunks);
    }
}
