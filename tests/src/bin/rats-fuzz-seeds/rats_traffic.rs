//! Real rats traffic for the seeds: three plaintext `RatsClient`s (A, B, C) whose connections
//! to B pass through a recording TCP proxy, a workload that exercises every message kind, and
//! the seeds cut out of the recordings and the data directories afterwards.

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
use crate::recorded_seeds::{Channels, connection_seeds};
use crate::seeds::Seeds;
use crate::split;
use crate::tcp_recorder::TcpRecorder;

/// How long any one step may take.
const STEP: Duration = Duration::from_secs(30);
/// The message bigger than one frame (64 KiB), so it travels fragmented.
const BIG_MESSAGE: usize = 80 * 1024;

/// The three clients and the proxy in front of B.
struct Trio {
    a: RatsClient,
    b: RatsClient,
    c: RatsClient,
    ids: [PeerId; 3],
    proxy: TcpRecorder,
    /// B's address through the proxy.
    via_proxy: String,
    /// Text and binary messages received by any of them.
    received: Arc<AtomicUsize>,
    /// Topic messages received by any of them.
    gossip_seen: Arc<AtomicUsize>,
}

/// Runs the workload and writes the seeds of every rats target.
pub async fn capture(seeds: &mut Seeds, work: &Path) -> Result<(), Error> {
    let files = work.join("files");
    make_files(&files)?;
    let t = start_trio(work).await?;
    talk(&t).await?;
    third_peer_and_gossip(&t).await?;
    transfers_a_to_b(&t, work, &files).await?;
    goodbyes(&t).await?;
    let recordings = t.proxy.recordings();
    if recordings.len() < 2 {
        return Err(format!("expected 2 recorded connections, got {}", recordings.len()).into());
    }
    let mut channels = Channels::default();
    for (rec, name) in recordings.iter().zip(["a-b", "c-b"]) {
        connection_seeds(seeds, name, rec, &mut channels)?;
    }
    crate::data_dir_seeds::data_dir_seeds(seeds, work, &t.ids)?;
    Ok(())
}

async fn start_trio(work: &Path) -> Result<Trio, Error> {
    // A also listens on IPv6 and QUIC, so its Hello and the peer exchange carry those.
    let a = start_node(&work.join("a"), &["tcp:[::1]:0", "quic:127.0.0.1:0"]).await?;
    let b = start_node(&work.join("b"), &[]).await?;
    let c = start_node(&work.join("c"), &[]).await?;
    let proxy = TcpRecorder::start(socket_addr(&b)?).await?;
    let via_proxy = format!("tcp:{}", proxy.addr());
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
        gossip(n)?.subscribe("news")?;
    }
    let gossip_seen = count_gossip(&[&a, &b, &c]);
    let ids = [a.local_peer_id(), b.local_peer_id(), c.local_peer_id()];
    Ok(Trio {
        a,
        b,
        c,
        ids,
        proxy,
        via_proxy,
        received,
        gossip_seen,
    })
}

/// A connects to B and they talk: text, binary, typed JSON, one message over a frame; then
/// they idle until keepalive pings and pongs have crossed.
async fn talk(t: &Trio) -> Result<(), Error> {
    let (a, b) = (&t.a, &t.b);
    let [a_id, b_id, _] = t.ids;
    a.connect(&t.via_proxy).await?;
    wait_for("B sees A", || b.node().is_connected(&a_id)).await?;
    a.send_string(&b_id, "hello from a").await?;
    b.send_string(&a_id, "hi a, ünïcødé ✓ and \"quotes\"\n")
        .await?;
    a.send_binary(&b_id, (0..=255u8).collect::<Vec<u8>>())
        .await?;
    a.send_binary(&b_id, Vec::new()).await?;
    let chat = json!({"text": "typed", "n": 1, "tags": ["x", "y"]});
    a.send_to(&b_id, "chat", &chat).await?;
    let status = json!({"busy": false, "load": 0.25, "note": null});
    b.send_to(&a_id, "status", &status).await?;
    let big: Vec<u8> = (0..BIG_MESSAGE).map(|i| (i * 7 % 251) as u8).collect();
    a.send_binary(&b_id, big).await?;
    wait_for("messages arrive", || {
        t.received.load(Ordering::Relaxed) >= 5
    })
    .await?;
    wait_for("a keepalive ping and pong", || {
        t.proxy.recordings().first().is_some_and(|r| {
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
    .await
}

/// C joins through B (peer exchange tells A and C about each other); topic messages flow;
/// C unsubscribes, A subscribes to another topic.
async fn third_peer_and_gossip(t: &Trio) -> Result<(), Error> {
    let (a, b, c) = (&t.a, &t.b, &t.c);
    let [a_id, _, c_id] = t.ids;
    c.connect(&t.via_proxy).await?;
    wait_for("B sees C", || b.node().is_connected(&c_id)).await?;
    wait_for("A and C meet through peer exchange", || {
        a.node().is_connected(&c_id) || c.node().is_connected(&a_id)
    })
    .await?;
    wait_for("B knows A and C subscribe", || {
        let peers = gossip(b).map(|g| g.topic_peers("news")).unwrap_or_default();
        peers.contains(&a_id) && peers.contains(&c_id)
    })
    .await?;
    gossip(a)?.publish("news", b"hello gossip".to_vec())?;
    gossip(b)?.publish_json("news", &json!({"headline": "seeds", "id": 7}))?;
    wait_for("gossip arrives", || {
        t.gossip_seen.load(Ordering::Relaxed) >= 4
    })
    .await?;
    gossip(c)?.unsubscribe("news")?;
    gossip(a)?.subscribe("other")?;
    Ok(())
}

/// Transfers from A to B: a file, a directory, a refused offer, pulls (one refused).
async fn transfers_a_to_b(t: &Trio, work: &Path, files: &Path) -> Result<(), Error> {
    let b_id = t.ids[1];
    let (ta, tb) = (transfers(&t.a)?, transfers(&t.b)?);
    let inbox = work.join("inbox");
    std::fs::create_dir_all(&inbox)?;
    tb.set_accept_callback(move |offer| {
        let dest = inbox.join(&offer.name);
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
    let refused = Some("please refuse me.txt");
    let id = ta
        .send_file(&b_id, files.join("notes.txt"), refused)
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
    Ok(())
}

/// C leaves B, then everyone stops (peer files are written now); waits until the proxy has
/// seen every connection end.
async fn goodbyes(t: &Trio) -> Result<(), Error> {
    let [_, b_id, c_id] = t.ids;
    t.c.disconnect(&b_id);
    wait_for("B sees C leave", || !t.b.node().is_connected(&c_id)).await?;
    for n in [&t.a, &t.b, &t.c] {
        n.shutdown().await;
    }
    wait_for("recorded connections end", || t.proxy.all_ended()).await
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
