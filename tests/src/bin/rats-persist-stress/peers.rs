//! `peers` mode: `peers.rats` and `peers_ever.rats`.

use std::path::Path;

use rats_core::Identity;
use rats_persist::{
    EverPeer, FORMAT_VERSION, KnownPeer, PEERS_EVER_FILE, PEERS_FILE, PeerStore, PeersEverFile,
    PeersFile, PersistSettings, write_atomic,
};

pub fn run(dir: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| super::fail(&format!("runtime: {e}")));
    let store = PeerStore::new(Some(dir.to_path_buf()), PersistSettings::default());
    let ids: Vec<_> = (0..64).map(|_| Identity::generate().peer_id()).collect();
    let addr = |i: usize| {
        format!("tcp:10.0.{}.{}:7878", i / 250, i % 250 + 1)
            .parse()
            .unwrap_or_else(|_| unreachable!("a valid literal address"))
    };
    let mut round = 0usize;
    loop {
        round += 1;
        // Vary the size so a torn write would show as a truncated document.
        let n = 1 + round % ids.len();
        let known: Vec<KnownPeer> = (0..n)
            .map(|i| KnownPeer {
                id: ids[i],
                addrs: vec![addr(i)],
            })
            .collect();
        if round.is_multiple_of(2) {
            // The peer store's own save (what a node does periodically and at shutdown).
            if let Err(e) = runtime.block_on(store.save(known)) {
                super::fail(&format!("peer store save: {e}"));
            }
        } else {
            let peers = PeersFile {
                version: FORMAT_VERSION,
                saved_at: round as u64,
                peers: known,
            };
            let ever = PeersEverFile {
                version: FORMAT_VERSION,
                peers: (0..n)
                    .map(|i| EverPeer {
                        id: ids[i],
                        addrs: vec![addr(i)],
                        first_seen: 1,
                        last_seen: round as u64,
                        successes: round as u32,
                        failures: 0,
                    })
                    .collect(),
            };
            write(dir, PEERS_FILE, serde_json::to_vec_pretty(&peers));
            write(dir, PEERS_EVER_FILE, serde_json::to_vec_pretty(&ever));
        }
        if round == 2 {
            super::started();
        }
    }
}

fn write(dir: &Path, name: &str, bytes: serde_json::Result<Vec<u8>>) {
    let bytes = bytes.unwrap_or_else(|e| super::fail(&format!("encode {name}: {e}")));
    if let Err(e) = write_atomic(&dir.join(name), &bytes) {
        super::fail(&format!("write {name}: {e}"));
    }
}
