//! Round-trip properties of the peer files: `peers.rats` and `peers_ever.rats` as the store
//! writes them (pretty JSON, atomically) parse back to the same contents; another format
//! version is refused by name; parsing arbitrary bytes never panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::OnceLock;

use proptest::prelude::*;
use rats_core::{Address, Identity, PeerId};

use crate::atomic::{Loaded, load_or_quarantine, write_atomic};
use crate::peer_files::{
    EverPeer, FORMAT_VERSION, KnownPeer, MAX_ADDRS, PeerFileError, PeersEverFile, PeersFile, parse,
};

fn peer_id() -> impl Strategy<Value = PeerId> {
    static POOL: OnceLock<Vec<PeerId>> = OnceLock::new();
    prop::sample::select(
        POOL.get_or_init(|| (0..8).map(|_| Identity::generate().peer_id()).collect())
            .as_slice(),
    )
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| Address::tcp(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::from(ip)),
            port
        ))),
        (any::<[u8; 16]>(), any::<u16>(), any::<u32>()).prop_map(|(ip, port, scope)| {
            Address::tcp(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                0,
                scope,
            )))
        }),
        (
            prop::sample::select(vec!["quic", "ws", "mem"]),
            any::<u16>()
        )
            .prop_map(|(scheme, port)| Address::new(scheme, &format!("[::1]:{port}")).unwrap()),
        ("[a-z][a-z0-9-]{0,20}", any::<u16>())
            .prop_map(|(host, port)| format!("{host}:{port}").parse().unwrap()),
    ]
}

fn addrs() -> impl Strategy<Value = Vec<Address>> {
    prop::collection::vec(address(), 0..=MAX_ADDRS)
}

fn peers_file() -> impl Strategy<Value = PeersFile> {
    (
        any::<u64>(),
        prop::collection::vec(
            (peer_id(), addrs()).prop_map(|(id, addrs)| KnownPeer { id, addrs }),
            0..8,
        ),
    )
        .prop_map(|(saved_at, peers)| PeersFile {
            version: FORMAT_VERSION,
            saved_at,
            peers,
        })
}

fn ever_file() -> impl Strategy<Value = PeersEverFile> {
    prop::collection::vec(
        (
            peer_id(),
            addrs(),
            any::<u64>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(id, addrs, first_seen, last_seen, successes, failures)| EverPeer {
                    id,
                    addrs,
                    first_seen,
                    last_seen,
                    successes,
                    failures,
                },
            ),
        0..8,
    )
    .prop_map(|peers| PeersEverFile {
        version: FORMAT_VERSION,
        peers,
    })
}

proptest! {
    #[test]
    fn peer_files_round_trip(peers in peers_file(), ever in ever_file()) {
        let bytes = serde_json::to_vec_pretty(&peers).unwrap();
        prop_assert_eq!(parse::<PeersFile>(&bytes).unwrap(), peers);
        let bytes = serde_json::to_vec_pretty(&ever).unwrap();
        prop_assert_eq!(parse::<PeersEverFile>(&bytes).unwrap(), ever);
    }

    #[test]
    fn another_version_is_refused_by_name(mut peers in peers_file(), version in any::<u32>()) {
        prop_assume!(version != FORMAT_VERSION);
        peers.version = version;
        let bytes = serde_json::to_vec(&peers).unwrap();
        let refused = parse::<PeersFile>(&bytes).unwrap_err();
        prop_assert!(
            matches!(refused, PeerFileError::UnsupportedVersion(v) if v == version),
            "{}",
            refused
        );
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(
        b in prop::collection::vec(any::<u8>(), 0..200),
        json in "\\{\"version\":1,\"peers\":\\[\\{\"id\":\"[0-9a-f]{0,64}\",\"addrs\":\\[\"[ -~]{0,30}\"\\][ -~]{0,40}",
    ) {
        let _ = parse::<PeersFile>(&b);
        let _ = parse::<PeersEverFile>(&b);
        let _ = parse::<PeersEverFile>(json.as_bytes());
    }
}

proptest! {
    // Each case writes and syncs two files.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn peer_files_round_trip_through_the_disk(peers in peers_file(), ever in ever_file()) {
        let dir = std::env::temp_dir().join(format!("rats-rt-persist-{}", rand::random::<u64>()));
        let (p, e) = (dir.join(crate::PEERS_FILE), dir.join(crate::PEERS_EVER_FILE));
        write_atomic(&p, &serde_json::to_vec_pretty(&peers).unwrap()).unwrap();
        write_atomic(&e, &serde_json::to_vec_pretty(&ever).unwrap()).unwrap();
        let back_peers = load_or_quarantine(&p, parse::<PeersFile>).unwrap();
        let back_ever = load_or_quarantine(&e, parse::<PeersEverFile>).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        prop_assert!(matches!(back_peers, Loaded::Ok(ref v) if *v == peers), "{:?}", back_peers);
        prop_assert!(matches!(back_ever, Loaded::Ok(ref v) if *v == ever), "{:?}", back_ever);
    }
}
