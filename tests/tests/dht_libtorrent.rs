//! Interoperability with a DHT nobody here wrote: a private DHT of libtorrent nodes on
//! 127.0.0.1 (tests/peers/libtorrent_dht.py; bootstrap routers, LSD, UPnP and NAT-PMP off).
//! A rats node bootstraps from them and announces; libtorrent's get_peers finds our address;
//! a libtorrent announce is found by a rats lookup.
//!
//! Needs the Python `libtorrent` module (`python3 -m pip install libtorrent`; `.ci/run`
//! installs it): `#[ignore]`d by default, run with `--include-ignored` (as CI does); without
//! the module it fails saying so.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use rats::RatsClient;
use rats_tests::client_with;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

struct LibtorrentDht {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl LibtorrentDht {
    async fn start(nodes: usize) -> (Self, Vec<SocketAddr>) {
        assert!(
            rats_tests::python_has_module("libtorrent"),
            "python3 libtorrent module missing (python3 -m pip install libtorrent); this test \
             needs it (it is #[ignore]d by default)"
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/libtorrent_dht.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(nodes.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start libtorrent_dht.py");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut lt = LibtorrentDht {
            child,
            stdin,
            lines,
        };
        let ready = lt.read(30).await;
        assert_eq!(ready["ready"], true, "{ready}");
        let addrs = ready["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| {
                let ip = n[0].as_str().expect("ip");
                let port = n[1].as_u64().expect("port");
                format!("{ip}:{port}").parse().expect("addr")
            })
            .collect();
        (lt, addrs)
    }

    async fn read(&mut self, secs: u64) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(secs), self.lines.next_line())
            .await
            .expect("libtorrent script answers in time")
            .expect("read")
            .expect("libtorrent script still running");
        serde_json::from_str(&line).expect("json line")
    }

    async fn ask(&mut self, cmd: Value) -> Value {
        let mut line = cmd.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("write");
        self.read(30).await
    }

    async fn quit(mut self) {
        let _ = self.ask(json!({"cmd": "quit"})).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

async fn rats_node(bootstrap: &[SocketAddr]) -> RatsClient {
    let boot: Vec<String> = bootstrap.iter().map(|a| a.to_string()).collect();
    client_with(move |c| {
        c.disabled_plugins.remove("dht");
        c.plugins.insert(
            "dht".into(),
            json!({"bootstrap": boot, "ipv6": false, "discover": false}),
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 libtorrent (CI runs it with --include-ignored)"]
async fn rats_and_libtorrent_find_each_others_announces() {
    let (mut lt, lt_nodes) = LibtorrentDht::start(4).await;
    let rats = rats_node(&lt_nodes).await;
    let dht = rats.dht().expect("dht plugin");
    assert!(
        dht.wait_bootstrapped(Duration::from_secs(10)).await,
        "bootstrapped from libtorrent nodes"
    );
    assert!(rats.dht_routing_table_size() >= 1);

    // rats -> libtorrent: libtorrent nodes accept our announce (our tokens round-trip) and a
    // libtorrent lookup returns our TCP address.
    let hash = rats.discovery_hash();
    let took = rats.announce(&hash).await.expect("announce");
    assert!(took >= 1, "no libtorrent node took our announce");
    let tcp: SocketAddr = rats.listen_addrs()[0].socket_addr().expect("addr");
    let reply = lt
        .ask(json!({"cmd": "get_peers", "hash": hash, "node": 3, "expect": 1}))
        .await;
    let peers: Vec<String> = reply["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .map(|p| format!("{}:{}", p[0].as_str().unwrap_or(""), p[1]))
        .collect();
    assert!(
        peers.contains(&tcp.to_string()),
        "libtorrent get_peers returned {peers:?}, not {tcp}"
    );

    // libtorrent -> rats: a libtorrent announce is found by a rats lookup.
    let theirs = hex::encode(rand::random::<[u8; 20]>());
    let announced = lt
        .ask(json!({"cmd": "announce", "hash": theirs, "port": 23456, "node": 0}))
        .await;
    assert_eq!(announced["announced"], theirs.as_str(), "{announced}");
    let found = rats.find_peers(&theirs).await.expect("lookup");
    assert!(
        found.contains(&"127.0.0.1:23456".parse().expect("addr")),
        "rats lookup found {found:?}"
    );
    let stats = &dht.status().nodes[0];
    assert_eq!(
        stats.malformed_dropped, 0,
        "libtorrent's messages all parsed: {stats:?}"
    );
    rats.shutdown().await;
    lt.quit().await;
}
