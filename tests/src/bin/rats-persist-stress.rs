//! Writes the peer-store files in a tight loop, as fast as it can, until killed. The crash
//! safety test kills it with SIGKILL at random moments and checks the files still parse.
//!
//! Usage: `rats-persist-stress <data dir>`

use rats_core::Identity;
use rats_persist::{
    EverPeer, FORMAT_VERSION, KnownPeer, PEERS_EVER_FILE, PEERS_FILE, PeersEverFile, PeersFile,
    write_atomic,
};

fn main() {
    let Some(dir) = std::env::args().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: rats-persist-stress <data dir>");
        std::process::exit(2);
    };
    let ids: Vec<_> = (0..64).map(|_| Identity::generate().peer_id()).collect();
    let addr = |i: usize| format!("tcp:10.0.{}.{}:7878", i / 250, i % 250 + 1);
    let mut round = 0usize;
    loop {
        round += 1;
        // Vary the size so a torn write would show as a truncated document.
        let n = 1 + round % ids.len();
        let peers = PeersFile {
            version: FORMAT_VERSION,
            saved_at: round as u64,
            peers: (0..n)
                .map(|i| KnownPeer {
                    id: ids[i],
                    addrs: vec![addr(i).parse().unwrap_or_else(|_| unreachable!())],
                })
                .collect(),
        };
        let ever = PeersEverFile {
            version: FORMAT_VERSION,
            peers: (0..n)
                .map(|i| EverPeer {
                    id: ids[i],
                    addrs: vec![addr(i).parse().unwrap_or_else(|_| unreachable!())],
                    first_seen: 1,
                    last_seen: round as u64,
                    successes: round as u32,
                    failures: 0,
                })
                .collect(),
        };
        let write = |name: &str, bytes: Vec<u8>| {
            if let Err(e) = write_atomic(&dir.join(name), &bytes) {
                eprintln!("write {name}: {e}");
                std::process::exit(1);
            }
        };
        write(
            PEERS_FILE,
            serde_json::to_vec_pretty(&peers).unwrap_or_default(),
        );
        write(
            PEERS_EVER_FILE,
            serde_json::to_vec_pretty(&ever).unwrap_or_default(),
        );
        if round == 1 {
            println!("writing");
        }
    }
}
