//! Round-trip properties of rats-persist's files: `peers.rats` and `peers_ever.rats` as the
//! store writes them (pretty JSON, atomically) parse back to the same contents, another format
//! version is refused by name, parsing arbitrary bytes never panics; a configuration file, and
//! settings given as `RATS_*` values, load back to the configuration written.

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

/// A configuration that passes `NodeConfig::validate`, with values over their whole ranges
/// (durations in whole milliseconds, as the file carries them).
fn node_config() -> impl Strategy<Value = rats_core::NodeConfig> {
    use std::time::Duration;
    let ms = |min: u64| (min..=u64::MAX).prop_map(Duration::from_millis);
    let memory = (1..=u64::from(u32::MAX), any::<[u32; 3]>()).prop_map(|(message, steps)| {
        // message <= per connection <= per IP <= budget.
        let conn = message + u64::from(steps[0]);
        let ip = conn + u64::from(steps[1]);
        (message, conn, ip, ip + u64::from(steps[2]))
    });
    let timeouts = (ms(10), ms(10), ms(10), 10..u64::MAX, any::<u64>()).prop_map(
        |(handshake, dial, write, keepalive, more)| {
            // keepalive < idle <= u64::MAX ms.
            let idle = keepalive + 1 + more % (u64::MAX - keepalive);
            let (keepalive, idle) = (
                Duration::from_millis(keepalive),
                Duration::from_millis(idle),
            );
            (handshake, dial, write, keepalive, idle)
        },
    );
    let names = rats_core::NodeConfig::field_names();
    let plugins = prop::collection::btree_map(
        "[a-z][a-z0-9_]{0,8}",
        prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            ".{0,12}".prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,6}", any::<u32>(), 0..3)
                .prop_map(|m| serde_json::to_value(m).unwrap()),
        ],
        0..3,
    )
    .prop_map(move |m| {
        m.into_iter()
            .filter(|(k, _)| !names.contains(k))
            .collect::<serde_json::Map<_, _>>()
    });
    (
        (
            "[a-z][^\\x00]{0,10}",
            "[^\\x00]{0,8}",
            ".{0,20}",
            "[a-z]{1,8}",
        ),
        prop::collection::vec(address(), 0..3),
        (
            1..=u64::MAX,
            64 * 1024..=u64::MAX,
            0..=64usize,
            any::<u64>(),
            any::<bool>(),
        ),
        memory,
        timeouts,
        prop::collection::btree_set("[a-z-]{1,8}", 0..3),
        plugins,
    )
        .prop_map(
            |((name, version, agent, encryption), listen, n, mem, t, disabled, plugins)| {
                rats_core::NodeConfig {
                    protocol_name: name,
                    protocol_version: version,
                    agent,
                    encryption,
                    listen,
                    max_peers: n.0 as usize,
                    max_pending_handshakes: n.3 as usize,
                    max_pending_per_ip: (n.3 >> 1) as usize,
                    max_connections_per_ip: (n.3 >> 2) as usize,
                    send_queue_bytes: n.1 as usize,
                    max_exchange_peers: n.2,
                    event_capacity: (n.3 >> 3) as usize,
                    peer_exchange: n.4,
                    max_message_size: mem.0 as usize,
                    memory_per_connection: mem.1 as usize,
                    memory_per_ip: mem.2 as usize,
                    memory_budget: mem.3 as usize,
                    handshake_timeout: t.0,
                    dial_timeout: t.1,
                    write_timeout: t.2,
                    keepalive_interval: t.3,
                    idle_timeout: t.4,
                    disabled_plugins: disabled,
                    plugins,
                    ..Default::default()
                }
            },
        )
}

proptest! {
    // Each case writes and syncs a configuration file.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A configuration file (as `rats` writes one) loads back to the same configuration, and
    /// so do its text settings, numbers and lists given as `RATS_*` values instead.
    #[test]
    fn configuration_files_and_environment_values_round_trip(
        c in node_config(),
        other in node_config(),
    ) {
        prop_assert!(c.validate().is_ok() && other.validate().is_ok());
        let dir = std::env::temp_dir().join(format!("rats-rt-config-{}", rand::random::<u64>()));
        write_atomic(&dir.join(crate::CONFIG_FILE), &serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        let sections: Vec<&str> = c.plugins.keys().map(String::as_str).collect();
        let loaded = crate::config::load_config_with_env(&dir, &serde_json::Map::new(), &sections, &[]);
        // The same file under environment values taken from `other`.
        let env: Vec<(String, String)> = vec![
            ("RATS_PROTOCOL_NAME".into(), other.protocol_name.clone()),
            ("RATS_PROTOCOL_VERSION".into(), other.protocol_version.clone()),
            ("RATS_AGENT".into(), other.agent.clone()),
            ("RATS_MAX_PEERS".into(), other.max_peers.to_string()),
            ("RATS_IDLE_TIMEOUT".into(), other.idle_timeout.as_millis().to_string()),
            ("RATS_KEEPALIVE_INTERVAL".into(), other.keepalive_interval.as_millis().to_string()),
            ("RATS_PEER_EXCHANGE".into(), other.peer_exchange.to_string()),
            ("RATS_LISTEN".into(), serde_json::to_string(&other.listen).unwrap()),
        ];
        let from_env = crate::config::load_config_with_env(&dir, &serde_json::Map::new(), &sections, &env);
        let _ = std::fs::remove_dir_all(&dir);
        let loaded = loaded.unwrap();
        prop_assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        prop_assert_eq!(
            serde_json::to_value(&loaded.config).unwrap(),
            serde_json::to_value(&c).unwrap()
        );
        let from_env = from_env.unwrap().config;
        let want = rats_core::NodeConfig {
            protocol_name: other.protocol_name.clone(),
            protocol_version: other.protocol_version.clone(),
            agent: other.agent.clone(),
            max_peers: other.max_peers,
            idle_timeout: other.idle_timeout,
            keepalive_interval: other.keepalive_interval,
            peer_exchange: other.peer_exchange,
            listen: other.listen.clone(),
            ..c
        };
        prop_assert_eq!(
            serde_json::to_value(&from_env).unwrap(),
            serde_json::to_value(&want).unwrap()
        );
    }
}
