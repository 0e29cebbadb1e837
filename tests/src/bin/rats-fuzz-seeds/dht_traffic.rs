//! KRPC seeds from a real exchange between libtorrent (a private DHT of libtorrent sessions
//! on 127.0.0.1, tests/peers/libtorrent_dht.py) and a rats DHT node, with a recording UDP
//! relay between them; compact node and peer lists out of the answers; the node file the rats
//! node saves when it stops. Never bootstraps from anything but these local nodes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rats_discovery_dht::bencode::Value;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UdpSocket;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::Error;
use crate::seeds::Seeds;
use crate::udp_relay::{Datagram, UdpRelay};

/// Seeds of one kind kept at most.
const PER_KIND: usize = 3;

/// The libtorrent DHT script, driven over its stdin/stdout line protocol.
struct Libtorrent {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Libtorrent {
    async fn start(
        nodes: usize,
        bootstrap: SocketAddr,
    ) -> Result<(Libtorrent, Vec<SocketAddr>), Error> {
        require_libtorrent().await?;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/libtorrent_dht.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(nodes.to_string())
            .arg("--bootstrap")
            .arg(bootstrap.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("libtorrent script: no stdin")?;
        let stdout = child.stdout.take().ok_or("libtorrent script: no stdout")?;
        let mut lt = Libtorrent {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        };
        let ready = lt.read(60).await?;
        if ready["ready"] != true {
            return Err(format!("libtorrent script: {ready}").into());
        }
        let mut addrs = Vec::new();
        for n in ready["nodes"].as_array().into_iter().flatten() {
            let addr = format!("{}:{}", n[0].as_str().unwrap_or(""), n[1]);
            addrs.push(addr.parse()?);
        }
        Ok((lt, addrs))
    }

    async fn read(&mut self, secs: u64) -> Result<Json, Error> {
        let line = tokio::time::timeout(Duration::from_secs(secs), self.lines.next_line())
            .await
            .map_err(|_| "libtorrent script did not answer in time")??
            .ok_or("libtorrent script ended")?;
        Ok(serde_json::from_str(&line)?)
    }

    async fn ask(&mut self, cmd: Json) -> Result<Json, Error> {
        let mut line = cmd.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.read(60).await
    }

    async fn quit(mut self) {
        let _ = self.ask(json!({"cmd": "quit"})).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Fails, saying what to install, without python3 and its libtorrent module.
pub async fn require_libtorrent() -> Result<(), Error> {
    if !rats_tests::python_has_module("libtorrent") {
        return Err(
            "python3 or its libtorrent module is missing (python3 -m pip install \
                    libtorrent): needed for the dht_krpc seeds"
                .into(),
        );
    }
    Ok(())
}

/// Runs the exchange and writes the `dht_krpc`, `dht_compact` and `dht_saved_nodes` seeds.
pub async fn capture(seeds: &mut Seeds, work: &Path) -> Result<(), Error> {
    let port = free_udp_port().await?;
    let rats_addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let relay = UdpRelay::start(rats_addr).await?;
    let front = relay.front()?;
    let (mut lt, lt_nodes) = Libtorrent::start(3, front).await?;
    let mut faces = Vec::new();
    for n in &lt_nodes {
        faces.push(relay.face_of(*n).await?.to_string());
    }
    let data_dir = work.join("dht-node");
    let section = json!({
        "port": port,
        "bind_v4": "127.0.0.1",
        "ipv6": false,
        "bootstrap": faces,
        "discover": false,
    });
    let rats = rats_tests::local_builder()
        .data_dir(&data_dir)
        .configure(move |c| {
            c.disabled_plugins.remove("dht");
            c.plugins.insert("dht".into(), section);
        })
        .start()
        .await?;
    let dht = rats.dht().ok_or("dht plugin not linked")?;
    if !dht.wait_bootstrapped(Duration::from_secs(15)).await {
        return Err("the rats DHT node did not bootstrap from the libtorrent nodes".into());
    }
    // libtorrent learns the rats node (through the relay) and queries it.
    lt.ask(json!({"cmd": "add_node", "host": "127.0.0.1", "port": front.port()}))
        .await?;
    let hash = rats.discovery_hash();
    rats.announce(&hash).await?;
    lt.ask(json!({"cmd": "get_peers", "hash": hash, "node": 1, "expect": 1, "timeout": 10}))
        .await?;
    let theirs = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
    lt.ask(json!({"cmd": "announce", "hash": theirs, "port": 23456, "node": 0}))
        .await?;
    rats.find_peers(theirs).await?;
    lt.ask(json!({"cmd": "get_peers", "hash": theirs, "node": 2, "expect": 1, "timeout": 10}))
        .await?;

    // Queries of our own to both implementations: a ping and a find_node, and ones no node
    // should accept.
    let lt0 = *lt_nodes.first().ok_or("no libtorrent node")?;
    for (who, to) in [("rats", rats_addr), ("libtorrent", lt0)] {
        for (name, query) in direct_queries() {
            seeds.add("dht_krpc", &format!("query-{name}"), &query)?;
            if let Some(answer) = ask_once(to, &query).await? {
                seeds.add("dht_krpc", &format!("{who}-answer-to-{name}"), &answer)?;
                compact_seeds(seeds, who, &answer)?;
            }
        }
    }

    rats.shutdown().await;
    lt.quit().await;
    krpc_seeds(seeds, &relay.datagrams())?;
    let saved = rats_discovery_dht_saved_path(&data_dir);
    let file = std::fs::read(&saved).map_err(|e| format!("{}: {e}", saved.display()))?;
    seeds.add("dht_saved_nodes", "nodes-v4-written-by-rats", &file)?;
    Ok(())
}

fn rats_discovery_dht_saved_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("dht").join("nodes-v4.json")
}

/// A UDP port free on 127.0.0.1 right now (for the rats node, so the relay knows it first).
async fn free_udp_port() -> std::io::Result<u16> {
    let s = UdpSocket::bind("127.0.0.1:0").await?;
    Ok(s.local_addr()?.port())
}

/// A ping, a find_node, and queries that must be refused: unknown method, missing
/// arguments, a bad token, a short node id.
fn direct_queries() -> Vec<(&'static str, Vec<u8>)> {
    let id = Value::Bytes(b"abcdefghij0123456789");
    let query = |t: &'static [u8], q: &'static [u8], args: Option<Value<'static>>| {
        let mut d = vec![
            (&b"t"[..], Value::Bytes(t)),
            (&b"y"[..], Value::Bytes(b"q")),
            (&b"q"[..], Value::Bytes(q)),
        ];
        if let Some(a) = args {
            d.push((&b"a"[..], a));
        }
        Value::Dict(d).encode()
    };
    vec![
        (
            "ping",
            query(b"p1", b"ping", Some(Value::Dict(vec![(b"id", id.clone())]))),
        ),
        (
            "find_node",
            query(
                b"f1",
                b"find_node",
                Some(Value::Dict(vec![
                    (b"id", id.clone()),
                    (b"target", Value::Bytes(b"0123456789abcdefghij")),
                    (
                        b"want",
                        Value::List(vec![Value::Bytes(b"n4"), Value::Bytes(b"n6")]),
                    ),
                ])),
            ),
        ),
        (
            "unknown-method",
            query(
                b"e1",
                b"frobnicate",
                Some(Value::Dict(vec![(b"id", id.clone())])),
            ),
        ),
        ("no-arguments", query(b"e2", b"ping", None)),
        (
            "announce-bad-token",
            query(
                b"e3",
                b"announce_peer",
                Some(Value::Dict(vec![
                    (b"id", id.clone()),
                    (b"info_hash", Value::Bytes(b"01234567890123456789")),
                    (b"port", Value::Int(6881)),
                    (b"token", Value::Bytes(b"nope")),
                ])),
            ),
        ),
        (
            "short-node-id",
            query(
                b"e4",
                b"ping",
                Some(Value::Dict(vec![(b"id", Value::Bytes(b"abc"))])),
            ),
        ),
    ]
}

/// Sends one datagram from a fresh socket and waits up to 2 s for an answer.
async fn ask_once(to: SocketAddr, query: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    let s = UdpSocket::bind("127.0.0.1:0").await?;
    s.send_to(query, to).await?;
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Ok(Some(buf[..n].to_vec())),
        _ => Ok(None),
    }
}

/// Every relayed datagram, named by who sent it and what it is, a few of each kind.
fn krpc_seeds(seeds: &mut Seeds, datagrams: &[Datagram]) -> Result<(), Error> {
    // (outside host, transaction id, query went to rats) -> method.
    let mut asked: HashMap<(SocketAddr, Vec<u8>, bool), String> = HashMap::new();
    let mut per_kind: HashMap<String, usize> = HashMap::new();
    for d in datagrams {
        let who = if d.to_target { "libtorrent" } else { "rats" };
        let Ok(v) = Value::decode(&d.bytes) else {
            seeds.add("dht_krpc", &format!("{who}-undecodable"), &d.bytes)?;
            continue;
        };
        let t = v
            .get(b"t")
            .and_then(Value::as_bytes)
            .unwrap_or_default()
            .to_vec();
        let y = v.get(b"y").and_then(Value::as_bytes).unwrap_or_default();
        let kind = match y {
            b"q" => {
                let q = v.get(b"q").and_then(Value::as_bytes).unwrap_or_default();
                let q = String::from_utf8_lossy(q).into_owned();
                asked.insert((d.outside, t, d.to_target), q.clone());
                format!("query-{q}")
            }
            b"r" => {
                let q = asked
                    .get(&(d.outside, t, !d.to_target))
                    .cloned()
                    .unwrap_or_else(|| "unknown".into());
                let r = v.get(b"r");
                let has = |k: &[u8]| r.and_then(|r| r.get(k)).is_some();
                let what = if has(b"values") {
                    "-values"
                } else if has(b"nodes") {
                    "-nodes"
                } else {
                    ""
                };
                format!("response-{q}{what}")
            }
            b"e" => "error".into(),
            _ => "other".into(),
        };
        let name = format!("{who}-{kind}");
        let n = per_kind.entry(name.clone()).or_default();
        *n += 1;
        if *n <= PER_KIND {
            seeds.add("dht_krpc", &name, &d.bytes)?;
            compact_seeds(seeds, who, &d.bytes)?;
        }
    }
    Ok(())
}

/// The compact node list, and each compact peer address, of an answer.
fn compact_seeds(seeds: &mut Seeds, who: &str, packet: &[u8]) -> Result<(), Error> {
    let Ok(v) = Value::decode(packet) else {
        return Ok(());
    };
    let Some(r) = v.get(b"r") else {
        return Ok(());
    };
    for (key, name) in [(&b"nodes"[..], "nodes"), (b"nodes6", "nodes6")] {
        if let Some(nodes) = r.get(key).and_then(Value::as_bytes) {
            seeds.add("dht_compact", &format!("{who}-{name}"), nodes)?;
            if let Some(one) = nodes.get(..26) {
                seeds.add("dht_compact", &format!("{who}-{name}-one"), one)?;
            }
        }
    }
    for value in r
        .get(b"values")
        .and_then(Value::as_list)
        .into_iter()
        .flatten()
    {
        if let Some(peer) = value.as_bytes() {
            seeds.add("dht_compact", &format!("{who}-peer-value"), peer)?;
        }
    }
    Ok(())
}
