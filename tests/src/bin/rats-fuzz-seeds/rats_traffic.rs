//! Seeds from real rats traffic: three plaintext `RatsClient`s (A, B, C) whose connections to B
//! pass through a recording TCP proxy, and the files their data directories hold afterwards.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rats::RatsClient;
use rats_core::{Event, PeerId};
use rats_gossipsub::GossipEvent;
use rats_transfer::{AcceptDecision, ServeDecision, TransferService, TransferState};
use serde_json::json;

use crate::Error;
use crate::seeds::Seeds;
use crate::split;
use crate::tcp_recorder::{Recording, TcpRecorder};

/// How long any one step may take.
const STEP: Duration = Duration::from_secs(30);
/// The message bigger than one frame (64 KiB), so it travels fragmented.
const BIG_MESSAGE: usize = 80 * 1024;

/// Runs the workload and writes the seeds of every rats target.
pub async fn capture(seeds: &mut Seeds, work: &Path) -> Result<(), Error> {
    let files = work.join("files");
    make_files(&files)?;
    // A also listens on IPv6 and QUIC, so its Hello and the peer exchange carry those.
    let a = start_node(&work.join("a"), &["tcp:[::1]:0", "quic:127.0.0.1:0"]).await?;
    let b = start_node(&work.join("b"), &[]).await?;
    let c = start_node(&work.join("c"), &[]).await?;
    let proxy = TcpRecorder::start(socket_addr(&b)?).await?;
    let via_proxy = format!("tcp:{}", proxy.addr());
    let (a_id, b_id, c_id) = (a.local_peer_id(), b.local_peer_id(), c.local_peer_id());
    let received = Arc::new(AtomicUsize::new(0));
    for n in [&a, &b, &c] {
        let r = received.clone();
        n.on_string(move |_, _| {
            r.fetch_add(1, Ordering::Relaxed);
        });
        let r = received.clone();
        n.on_binary(move |_, _| {
            r.fetch_add(1, Ordering::Relaxed);
        });
    }
    let gossip_seen = count_gossip(&[&a, &b, &c]);

    // Connect and talk: text, binary, typed JSON, one message over a frame.
    for n in [&a, &b, &c] {
        gossip(n)?.subscribe("news")?;
    }
    a.connect(&via_proxy).await?;
    wait_for("B sees A", || b.node().is_connected(&a_id)).await?;
    a.send_string(&b_id, "hello from a").await?;
    b.send_string(&a_id, "hi a, ünïcødé ✓ and \"quotes\"\n")
        .await?;
    a.send_binary(&b_id, (0..=255u8).collect::<Vec<u8>>())
        .await?;
    a.send_binary(&b_id, Vec::new()).await?;
    a.send_to(
        &b_id,
        "chat",
        &json!({"text": "typed", "n": 1, "tags": ["x", "y"]}),
    )
    .await?;
    b.send_to(
        &a_id,
        "status",
        &json!({"busy": false, "load": 0.25, "note": null}),
    )
    .await?;
    let big: Vec<u8> = (0..BIG_MESSAGE).map(|i| (i * 7 % 251) as u8).collect();
    a.send_binary(&b_id, big).await?;
    wait_for("messages arrive", || received.load(Ordering::Relaxed) >= 5).await?;
    // Idle until keepalive pings and pongs have crossed the recorded connection.
    wait_for("a keepalive ping and pong", || {
        proxy.recordings().first().is_some_and(|r| {
            let has = |bytes: &[u8], initiator: bool, tag: u8| {
                split::direction(bytes, initiator).is_some_and(|d| {
                    split::messages(&d.frames)
                        .0
                        .iter()
                        .any(|(ch, m)| *ch == 0 && m.first() == Some(&tag))
                })
            };
            (has(&r.to_target, true, 1) || has(&r.to_dialer, false, 1))
                && (has(&r.to_target, true, 2) || has(&r.to_dialer, false, 2))
        })
    })
    .await?;

    // A third peer joins through B: peer exchange tells A and C about each other.
    c.connect(&via_proxy).await?;
    wait_for("B sees C", || b.node().is_connected(&c_id)).await?;
    wait_for("A and C meet through peer exchange", || {
        a.node().is_connected(&c_id) || c.node().is_connected(&a_id)
    })
    .await?;

    // Publish/subscribe.
    wait_for("B knows A and C subscribe", || {
        let peers = gossip(&b)
            .map(|g| g.topic_peers("news"))
            .unwrap_or_default();
        peers.contains(&a_id) && peers.contains(&c_id)
    })
    .await?;
    gossip(&a)?.publish("news", b"hello gossip".to_vec())?;
    gossip(&b)?.publish_json("news", &json!({"headline": "seeds", "id": 7}))?;
    wait_for("gossip arrives", || {
        gossip_seen.load(Ordering::Relaxed) >= 4
    })
    .await?;
    gossip(&c)?.unsubscribe("news")?;
    gossip(&a)?.subscribe("other")?;

    // Transfers from A to B: a file, a directory, a refused offer, pulls (one refused).
    let (ta, tb) = (transfers(&a)?, transfers(&b)?);
    let inbox = work.join("inbox");
    std::fs::create_dir_all(&inbox)?;
    let into = inbox.clone();
    tb.set_accept_callback(move |offer| {
        let dest = into.join(&offer.name);
        async move {
            if offer.name.contains("refuse") {
                AcceptDecision::Reject("not wanted here".into())
            } else {
                AcceptDecision::Accept(dest)
            }
        }
    });
    let shared = files.join("shared");
    tb.set_serve_callback(move |req| {
        let path = shared.join(&req.path);
        async move {
            if req.path.contains("..") {
                ServeDecision::Refuse("not shared".into())
            } else {
                ServeDecision::Serve(path)
            }
        }
    });
    let id = ta.send_file(&b_id, files.join("notes.txt"), None).await?;
    finish(&ta, id, "file").await?;
    let id = ta
        .send_directory(&b_id, files.join("album"), None, true)
        .await?;
    finish(&ta, id, "directory").await?;
    let id = ta
        .send_file(&b_id, files.join("notes.txt"), Some("please refuse me.txt"))
        .await?;
    let _ = ta.wait(id, STEP).await;
    let id = ta
        .request_file(&b_id, "readme.md", work.join("pulled.md"))
        .await?;
    finish(&ta, id, "pull").await?;
    let id = ta
        .request_file(&b_id, "../../etc/passwd", work.join("nope"))
        .await?;
    let _ = ta.wait(id, STEP).await;

    // Goodbyes: C leaves B, then everyone stops (peer files are written now).
    c.disconnect(&b_id);
    wait_for("B sees C leave", || !b.node().is_connected(&c_id)).await?;
    for n in [&a, &b, &c] {
        n.shutdown().await;
    }
    let deadline = tokio::time::Instant::now() + STEP;
    while !proxy.all_ended() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let recordings = proxy.recordings();
    if recordings.len() < 2 {
        return Err(format!("expected 2 recorded connections, got {}", recordings.len()).into());
    }
    let names = ["a-b", "c-b"];
    let mut channels = Channels::default();
    for (rec, name) in recordings.iter().zip(names) {
        connection_seeds(seeds, name, rec, &mut channels)?;
    }
    data_dir_seeds(seeds, work, &[a_id, b_id, c_id])?;
    Ok(())
}

/// A plaintext node on 127.0.0.1 (and `more` listen addresses) with a data directory, quick
/// keepalives (pings on the wire) and a fast gossip heartbeat.
async fn start_node(dir: &Path, more: &[&str]) -> Result<RatsClient, Error> {
    let mut builder = rats_tests::local_builder();
    for addr in more {
        builder = builder.listen(*addr)?;
    }
    let node = builder
        .data_dir(dir)
        .insecure_plaintext(true)
        .configure(|c| {
            c.keepalive_interval = Duration::from_millis(400);
            c.plugins
                .insert("gossipsub".into(), json!({"heartbeat_ms": 100}));
        })
        .start()
        .await?;
    Ok(node)
}

fn socket_addr(c: &RatsClient) -> Result<SocketAddr, Error> {
    c.listen_addrs()
        .first()
        .and_then(|a| a.socket_addr())
        .ok_or_else(|| "node has no listen address".into())
}

fn gossip(c: &RatsClient) -> Result<Arc<rats_gossipsub::GossipsubService>, Error> {
    c.gossip().ok_or_else(|| "gossipsub not linked".into())
}

fn transfers(c: &RatsClient) -> Result<Arc<TransferService>, Error> {
    c.transfers()
        .ok_or_else(|| "transfer service not linked".into())
}

/// Counts the topic messages every node receives.
fn count_gossip(nodes: &[&RatsClient]) -> Arc<AtomicUsize> {
    let seen = Arc::new(AtomicUsize::new(0));
    for n in nodes {
        let mut events = n.events();
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if let Ok(Event::Service { service, event }) = &e
                    && *service == rats_gossipsub::SERVICE_NAME
                    && let Some(GossipEvent::Message { .. }) = event.downcast_ref()
                {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    seen
}

async fn finish(
    t: &TransferService,
    id: rats_transfer::TransferId,
    what: &str,
) -> Result<(), Error> {
    let done = t.wait(id, STEP).await?;
    if done.state != TransferState::Completed {
        return Err(format!("{what} transfer ended {:?}", done.state).into());
    }
    Ok(())
}

/// Polls `cond` every 10 ms for at most [`STEP`].
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + STEP;
    while !cond() {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for: {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// The files sent: a text file, a directory tree, a shared folder for pulls.
fn make_files(dir: &Path) -> std::io::Result<()> {
    let write = |p: PathBuf, data: &[u8]| -> std::io::Result<()> {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, data)
    };
    let text: String = (0..60)
        .map(|i| format!("line {i}: the quick brown fox\n"))
        .collect();
    write(dir.join("notes.txt"), text.as_bytes())?;
    write(dir.join("album/cover.txt"), b"front cover\n")?;
    write(dir.join("album/tracks/01 intro.bin"), &[0x5a; 700])?;
    write(
        dir.join("album/tracks/02-ünïcødé.json"),
        br#"{"title":"two"}"#,
    )?;
    write(dir.join("album/tracks/deeper/.hidden"), b"")?;
    std::fs::create_dir_all(dir.join("album/empty"))?;
    write(
        dir.join("shared/readme.md"),
        b"# shared\nsomething to pull\n",
    )?;
    Ok(())
}

/// Channel numbers from the Hellos (service name -> channel), to route messages by.
#[derive(Default)]
struct Channels {
    by_channel: std::collections::BTreeMap<u16, String>,
}

impl Channels {
    fn learn(&mut self, hello: &serde_json::Value) {
        for s in hello["services"].as_array().into_iter().flatten() {
            if let (Some(name), Some(ch)) = (s["name"].as_str(), s["channel"].as_u64())
                && let Ok(ch) = u16::try_from(ch)
            {
                self.by_channel.insert(ch, name.to_string());
            }
        }
    }

    /// The fuzz target for a message on `channel`.
    fn target(&self, channel: u16) -> Option<&'static str> {
        if channel == rats_core::frame::CONTROL_CHANNEL {
            return Some("control");
        }
        // The transfer service's bulk channel is not in the Hello (only its main one is).
        if channel == rats_transfer::wire::DATA_CHANNEL {
            return Some("transfer_wire");
        }
        match self.by_channel.get(&channel)?.as_str() {
            n if n == rats_gossipsub::SERVICE_NAME => Some("gossip_wire"),
            n if n == rats_transfer::SERVICE_NAME => Some("transfer_wire"),
            n if n.contains("messag") => Some("message"),
            _ => None,
        }
    }
}

/// Seeds from one recorded connection (`name` like `a-b`: dialer, then B).
fn connection_seeds(
    seeds: &mut Seeds,
    name: &str,
    rec: &Recording,
    channels: &mut Channels,
) -> Result<(), Error> {
    let (dialer, listener) = name.split_once('-').unwrap_or((name, "b"));
    let sides = [
        (&rec.to_target, true, format!("{dialer}-to-{listener}")),
        (&rec.to_dialer, false, format!("{listener}-to-{dialer}")),
    ];
    let mut streams = Vec::new();
    for (bytes, initiator, label) in sides {
        let d = split::direction(bytes, initiator)
            .ok_or_else(|| format!("{label}: handshake not recorded"))?;
        let role = if initiator { "initiator" } else { "responder" };
        if let Some(p) = &d.protocol {
            seeds.add("handshake_payload", "protocol-record", p)?;
        }
        seeds.add(
            "handshake_payload",
            &format!("identity-from-{role}-{label}"),
            &d.identity,
        )?;
        let hello = d.identity.get(32..).unwrap_or_default();
        seeds.add("hello", &format!("hello-from-{role}-{label}"), hello)?;
        let parsed: serde_json::Value = serde_json::from_slice(hello)?;
        channels.learn(&parsed);
        for a in parsed["listen"]
            .as_array()
            .into_iter()
            .flatten()
            .chain([&parsed["observed"]])
        {
            if let Some(a) = a.as_str() {
                seeds.add(
                    "address",
                    &format!("hello-{}", address_kind(a)),
                    a.as_bytes(),
                )?;
            }
        }
        if let Some(id) = d
            .identity
            .get(..32)
            .and_then(|b| PeerId::from_slice(b).ok())
        {
            seeds.add("address", "peer-id", id.to_string().as_bytes())?;
        }
        streams.push((label, d.frames));
    }
    for (label, stream) in &streams {
        frame_seeds(seeds, label, stream)?;
        reassembly_seed(seeds, label, stream)?;
        let (messages, error) = split::messages(stream);
        if let Some(e) = error {
            return Err(format!("{label}: frame stream does not decode: {e}").into());
        }
        route_messages(seeds, label, &messages, channels)?;
        router_seed(seeds, label, &messages, channels)?;
    }
    Ok(())
}

/// A `reassembly` seed with the shapes of a recorded stream's frames (channel, kind, length,
/// and for a START how much more its message declares): one 5-byte operation per frame.
fn reassembly_seed(seeds: &mut Seeds, label: &str, stream: &[u8]) -> Result<(), Error> {
    use rats_core::frame::{FLAG_CONT, FLAG_END, FLAG_START};
    let mut ops = vec![64u8];
    for (channel, flags, len, total) in split::frame_shapes(stream) {
        let (kind, body, extra) = match flags {
            FLAG_START => {
                let body = len.saturating_sub(4);
                let more = (total.unwrap_or(0) as usize).saturating_sub(body);
                (1u8, body, more.div_ceil(4096).min(255) as u8)
            }
            f if f == FLAG_CONT | FLAG_END => (3, len, 0),
            FLAG_CONT => (2, len, 0),
            _ => (0, len, 0),
        };
        ops.push(channel as u8);
        ops.push(kind);
        ops.extend_from_slice(&(body.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        ops.push(extra);
    }
    seeds.add("reassembly", &format!("{label}-frame-shapes"), &ops)?;
    Ok(())
}

/// A `gossip_router` seed replaying the GossipSub RPCs one side received: the sender
/// connects, we subscribe to the topic, each RPC arrives from it, a heartbeat after each.
fn router_seed(
    seeds: &mut Seeds,
    label: &str,
    messages: &[(u16, Vec<u8>)],
    channels: &Channels,
) -> Result<(), Error> {
    let peer = label.as_bytes().first().map_or(0, |c| c - b'a');
    let op = |code: u8, body: &[u8]| -> Vec<u8> {
        let mut v = vec![code, peer];
        v.extend_from_slice(&(body.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    };
    let mut ops = Vec::new();
    ops.extend(op(3, b""));
    ops.extend(op(5, b"news"));
    let mut any = false;
    for (channel, m) in messages {
        if channels.target(*channel) == Some("gossip_wire") {
            ops.extend(op(0, m));
            ops.extend(op(2, &[0; 10]));
            any = true;
        }
    }
    if any {
        ops.extend(op(6, b"news"));
        ops.extend(op(4, b""));
        seeds.add("gossip_router", &format!("{label}-recorded-rpcs"), &ops)?;
    }
    Ok(())
}

/// `frames` seeds: a cut-size byte, then the stream (or its start), at a few cut sizes.
fn frame_seeds(seeds: &mut Seeds, label: &str, stream: &[u8]) -> Result<(), Error> {
    let limit = crate::seeds::MAX_FRAMES_SEED - 1;
    let whole = split::prefix_at_frame(stream, limit);
    let head = split::prefix_at_frame(stream, 4096);
    let mut add = |cut: u8, part: &[u8], what: &str| -> Result<(), Error> {
        let mut seed = vec![cut];
        seed.extend_from_slice(part);
        seeds.add("frames", &format!("{label}-{what}-cut-{cut}"), &seed)?;
        Ok(())
    };
    if label.starts_with('a') || label.ends_with('a') {
        add(255, whole, "stream")?;
        add(1, whole, "stream")?;
    } else {
        add(200, whole, "stream")?;
    }
    add(0, head, "head")?;
    add(7, head, "head")?;
    add(64, head, "head")?;
    Ok(())
}

/// Sends each whole message to its target's seeds, a few of each kind.
fn route_messages(
    seeds: &mut Seeds,
    label: &str,
    messages: &[(u16, Vec<u8>)],
    channels: &Channels,
) -> Result<(), Error> {
    let mut per_kind: std::collections::HashMap<String, usize> = Default::default();
    for (channel, m) in messages {
        let Some(target) = channels.target(*channel) else {
            continue;
        };
        let kind = message_kind(target, m);
        let n = per_kind.entry(format!("{target}/{kind}")).or_default();
        *n += 1;
        // Pings differ only in their nonce, chunks only in their data: a few are enough.
        if *n > 3 || m.len() > crate::seeds::MAX_SEED {
            continue;
        }
        seeds.add(target, &format!("{label}-{kind}"), m)?;
        if target == "control" && kind == "exchange" {
            exchange_addresses(seeds, m)?;
        }
        if target == "transfer_wire" {
            transfer_paths(seeds, m)?;
        }
    }
    Ok(())
}

/// A short name for what a message is.
fn message_kind(target: &str, m: &[u8]) -> String {
    let tag = m.first().copied().unwrap_or(0xff);
    match target {
        "control" => match tag {
            1 => "ping".into(),
            2 => "pong".into(),
            3 => "exchange".into(),
            4 => "goodbye".into(),
            5 => "forward".into(),
            6 => "signal".into(),
            _ => format!("tag-{tag}"),
        },
        "message" => match tag {
            0 => "binary".into(),
            1 => "text".into(),
            2 => "json".into(),
            _ => format!("tag-{tag}"),
        },
        "transfer_wire" => serde_json::from_slice::<serde_json::Value>(m)
            .ok()
            .and_then(|v| v["t"].as_str().map(str::to_string))
            .unwrap_or_else(|| "chunk".into()),
        _ => format!("rpc-{tag}"),
    }
}

/// Addresses and peer ids inside a peer-exchange message.
fn exchange_addresses(seeds: &mut Seeds, m: &[u8]) -> Result<(), Error> {
    let peers: serde_json::Value = serde_json::from_slice(&m[1..])?;
    for p in peers.as_array().into_iter().flatten() {
        if let Some(id) = p["id"].as_str() {
            seeds.add("address", "exchange-peer-id", id.as_bytes())?;
        }
        for a in p["addrs"].as_array().into_iter().flatten() {
            if let Some(a) = a.as_str() {
                seeds.add(
                    "address",
                    &format!("exchange-{}", address_kind(a)),
                    a.as_bytes(),
                )?;
            }
        }
    }
    Ok(())
}

/// The names and relative paths a transfer control message carries.
fn transfer_paths(seeds: &mut Seeds, m: &[u8]) -> Result<(), Error> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(m) else {
        return Ok(());
    };
    let mut found = Vec::new();
    collect_strings(&v, &mut found);
    for s in found {
        seeds.add("transfer_path", "from-transfer", s.as_bytes())?;
    }
    Ok(())
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("rel" | "name" | "path", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_strings(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn address_kind(a: &str) -> &'static str {
    if a.contains('[') {
        "v6"
    } else if a.starts_with("quic") {
        "quic"
    } else {
        "tcp"
    }
}

/// The files a real client leaves in its data directory.
fn data_dir_seeds(seeds: &mut Seeds, work: &Path, ids: &[PeerId]) -> Result<(), Error> {
    let read = |p: PathBuf| std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()));
    for n in ["a", "b", "c"] {
        let dir = work.join(n);
        seeds.add(
            "identity_key_file",
            &format!("identity-key-{n}"),
            &read(dir.join("identity.key"))?,
        )?;
        for f in ["peers.rats", "peers_ever.rats"] {
            seeds.add("peer_files", &format!("{n}-{f}"), &read(dir.join(f))?)?;
        }
    }
    let config = read(work.join("a").join("config.json"))?;
    seeds.add("config", "config-as-written", &config)?;
    let mut with_env = config.clone();
    with_env.push(0);
    with_env.extend_from_slice(b"MAX_PEERS=9\nPEER_EXCHANGE=false\nLOG__LEVEL=debug\n");
    seeds.add("config", "config-with-env", &with_env)?;
    let mut edited: serde_json::Value = serde_json::from_slice(&config)?;
    edited["listen"] = json!(["tcp:[::]:7878", "quic:0.0.0.0:7879"]);
    edited["disabled_plugins"] = json!(["mdns", "portmap"]);
    edited["gossipsub"] = json!({"heartbeat_ms": 700});
    edited["transfer"] = json!({"chunk_size": 262144, "trusted_peers": [ids[0].to_string()]});
    edited["dht"] = json!({"port": 6881, "bootstrap": ["127.0.0.1:6881"], "ipv6": false});
    edited["log"] = json!({"level": "debug", "stderr": true});
    seeds.add(
        "config",
        "config-edited-with-sections",
        &serde_json::to_vec_pretty(&edited)?,
    )?;
    let mut env_only = b"{}\0".to_vec();
    env_only.extend_from_slice(
        b"PROTOCOL_NAME=myapp\nLISTEN=[\"tcp:127.0.0.1:0\"]\nTRANSFER__CHUNK_SIZE=65536\n",
    );
    seeds.add("config", "empty-file-with-env", &env_only)?;
    for (i, id) in ids.iter().enumerate() {
        let txt = rats::rats_discovery_mdns::NodeTxt {
            peer: *id,
            version: "1.0".into(),
            protocol: if i == 2 {
                "my-app".into()
            } else {
                "rats".into()
            },
            port: 7878 + i as u16,
        };
        let lines: Vec<String> = txt
            .properties()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        seeds.add(
            "mdns_txt",
            &format!("node-txt-{}", i + 1),
            lines.join("\n").as_bytes(),
        )?;
    }
    Ok(())
}
