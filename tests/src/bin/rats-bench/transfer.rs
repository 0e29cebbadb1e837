//! `transfer`: file to file over one encrypted loopback connection with SHA-256 on, through
//! the transfer service: one large file (MiB/s, counting the sender's hashing of the source
//! and the receiver's checks), then a tree of many small files (files/s).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rats::RatsClient;
use rats_transfer::{AcceptDecision, TransferService, TransferState};
use serde::Serialize;

use crate::common::{
    BenchResult, Latency, connect_pair, emit, fail, latency, mib_per_s, ratio, round1, shutdown_all,
};
use crate::tcp;

#[derive(Serialize)]
struct Line {
    scenario: &'static str,
    mib: u64,
    chunk_size: u32,
    window: u32,
    big_file_secs: f64,
    /// Of which the sender hashing the file before offering it.
    offer_secs: f64,
    mib_per_s: f64,
    /// The same file copied through a plain TCP connection (no hashing, no encryption), right
    /// after.
    tcp_mib_per_s: f64,
    /// `mib_per_s / tcp_mib_per_s` (rats' time includes hashing the file before the offer,
    /// `offer_secs`, and the chat pinger running beside it).
    vs_tcp: f64,
    /// Round trip of a 64-byte chat message while the big file moves (control and chat go
    /// ahead of file data).
    chat_rtt_during_transfer: Latency,
    files: usize,
    file_size: usize,
    tree_secs: f64,
    files_per_s: f64,
}

/// What to move, and with which settings.
pub struct Params {
    pub mib: u64,
    pub files: usize,
    pub file_size: usize,
    pub chunk_size: Option<u32>,
    pub window: Option<u32>,
}

/// A scratch directory removed at the end.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn run(p: Params) -> BenchResult {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("rats-bench-transfer-{}", std::process::id())));
    let dir = scratch.0.clone();
    std::fs::create_dir_all(&dir).map_err(fail("scratch dir"))?;
    let mut section = serde_json::json!({ "progress_interval_ms": 1000 });
    if let Some(c) = p.chunk_size {
        section["chunk_size"] = c.into();
    }
    if let Some(w) = p.window {
        section["window"] = w.into();
    }
    let receiver = start(&dir, "rx", &section, true).await?;
    let sender = match start(&dir, "tx", &section, false).await {
        Ok(s) => s,
        Err(e) => {
            shutdown_all(&[receiver]).await;
            return Err(e);
        }
    };
    let result = measure(&receiver, &sender, &dir, &p).await;
    shutdown_all(&[receiver, sender]).await;
    let (line_big, offer, tcp_big, line_tree, chunk_size, window, mut chat) = result?;
    let rate = mib_per_s(p.mib << 20, line_big);
    let tcp_rate = mib_per_s(p.mib << 20, tcp_big);
    emit(&Line {
        scenario: "transfer",
        mib: p.mib,
        chunk_size,
        window,
        big_file_secs: round3(line_big.as_secs_f64()),
        offer_secs: round3(offer.as_secs_f64()),
        mib_per_s: rate,
        tcp_mib_per_s: tcp_rate,
        vs_tcp: ratio(rate, tcp_rate),
        chat_rtt_during_transfer: latency(&mut chat)?,
        files: p.files,
        file_size: p.file_size,
        tree_secs: round3(line_tree.as_secs_f64()),
        files_per_s: round1(p.files as f64 / line_tree.as_secs_f64().max(1e-9)),
    });
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn start(
    dir: &Path,
    name: &str,
    section: &serde_json::Value,
    listen: bool,
) -> BenchResult<RatsClient> {
    let mut section = section.clone();
    section["temp_dir"] = dir
        .join(format!("tmp-{name}"))
        .to_string_lossy()
        .into_owned()
        .into();
    let builder = RatsClient::builder().local_only().configure(move |c| {
        c.plugins.insert("transfer".into(), section);
    });
    let builder = if listen {
        builder
            .listen("tcp:127.0.0.1:0")
            .map_err(fail("listen address"))?
    } else {
        builder.no_listen()
    };
    builder.start().await.map_err(fail("start node"))
}

fn service(c: &RatsClient) -> BenchResult<Arc<TransferService>> {
    c.transfers()
        .ok_or_else(|| "the transfer service is not linked".to_string())
}

async fn measure(
    receiver: &RatsClient,
    sender: &RatsClient,
    dir: &Path,
    p: &Params,
) -> BenchResult<(
    Duration,
    Duration,
    Duration,
    Duration,
    u32,
    u32,
    Vec<Duration>,
)> {
    let peer = connect_pair(sender, receiver).await?;
    let rx = service(receiver)?;
    let tx = service(sender)?;
    let inbox = dir.join("inbox");
    std::fs::create_dir_all(&inbox).map_err(fail("inbox"))?;
    let into = inbox.clone();
    rx.set_accept_callback(move |offer| {
        let into = into.clone();
        async move { AcceptDecision::Accept(into.join(&offer.name)) }
    });

    let big = dir.join("big.bin");
    write_pseudo_random(&big, p.mib << 20).map_err(fail("write source file"))?;
    warm_page_cache(dir, p.mib << 20).map_err(fail("warm the page cache"))?;
    let limit = Duration::from_secs(120 + p.mib / 5);
    let pinger = chat_pinger(receiver, sender, peer)?;
    let t0 = Instant::now();
    let id = tx
        .send_file(&peer, &big, None)
        .await
        .map_err(fail("send_file"))?;
    let offer_secs = t0.elapsed();
    let done = tx.wait(id, limit).await.map_err(fail("big file"))?;
    let big_secs = t0.elapsed();
    pinger
        .stop
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let chat = pinger
        .task
        .await
        .map_err(fail("chat pinger"))?
        .map_err(fail("chat pinger"))?;
    if done.state != TransferState::Completed {
        return Err(format!("big file: {}", done.state));
    }
    let got = std::fs::metadata(inbox.join("big.bin")).map_err(fail("received file"))?;
    if got.len() != p.mib << 20 {
        return Err(format!("received {} bytes of {}", got.len(), p.mib << 20));
    }
    let _ = std::fs::remove_file(inbox.join("big.bin"));
    let tcp_copy = inbox.join("big.tcp");
    let tcp_secs = tcp::file(&big, &tcp_copy).await;
    let _ = std::fs::remove_file(&big);
    let _ = std::fs::remove_file(&tcp_copy);
    let tcp_secs = tcp_secs?;

    let tree = dir.join("tree");
    write_tree(&tree, p.files, p.file_size).map_err(fail("write tree"))?;
    let t1 = Instant::now();
    let id = tx
        .send_directory(&peer, &tree, None, true)
        .await
        .map_err(fail("send_directory"))?;
    let done = tx
        .wait(id, Duration::from_secs(120 + p.files as u64 / 50))
        .await
        .map_err(fail("tree"))?;
    let tree_secs = t1.elapsed();
    if done.state != TransferState::Completed {
        return Err(format!("tree: {}", done.state));
    }
    let cfg = tx.config();
    Ok((
        big_secs,
        offer_secs,
        tcp_secs,
        tree_secs,
        cfg.chunk_size,
        cfg.window,
        chat,
    ))
}

struct Pinger {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<BenchResult<Vec<Duration>>>,
}

/// Sends a 64-byte binary message every 5 ms from `sender` to `receiver`, which echoes it, and
/// times each round trip until stopped.
fn chat_pinger(
    receiver: &RatsClient,
    sender: &RatsClient,
    peer: rats::PeerId,
) -> BenchResult<Pinger> {
    let exchange = Arc::downgrade(receiver.messages());
    receiver.on_binary(move |from, data| {
        if let Some(ex) = exchange.upgrade() {
            let _ = ex.try_send_binary(&from, &data);
        }
    });
    let (replies_tx, mut replies) = tokio::sync::mpsc::channel::<()>(16);
    sender.on_binary(move |_, _| {
        let _ = replies_tx.try_send(());
    });
    let tx = sender
        .messages()
        .binary_sender(&peer)
        .map_err(fail("binary sender"))?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        let mut samples = Vec::new();
        let ping = [0x42u8; 64];
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            let t0 = Instant::now();
            tx.send(&ping).await.map_err(fail("chat send"))?;
            tokio::time::timeout(Duration::from_secs(5), replies.recv())
                .await
                .map_err(|_| "no chat reply within 5 s during the transfer".to_string())?
                .ok_or("reply channel closed")?;
            samples.push(t0.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(samples)
    });
    Ok(Pinger { stop, task })
}

/// Fills a file with xorshift output (incompressible, cheap to make).
fn write_pseudo_random(path: &Path, bytes: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    // On disk before the clock starts: the measurement should not include the kernel
    // writing back the benchmark's own setup.
    f.get_ref().sync_all()
}

/// Writes and deletes a file of `bytes`, so that the received file is written into memory the
/// kernel has handed out before, as the TCP copy after it is (it reuses the pages of the
/// deleted received file). In this VM, page cache in never-touched guest memory costs a host
/// fault per page: without this, whichever copy runs first is up to 40 % slower.
fn warm_page_cache(dir: &Path, bytes: u64) -> std::io::Result<()> {
    let scratch = dir.join("warm.bin");
    write_pseudo_random(&scratch, bytes)?;
    std::fs::remove_file(scratch)
}

/// `files` files of `size` bytes, 100 per directory.
fn write_tree(root: &Path, files: usize, size: usize) -> std::io::Result<()> {
    let mut content = vec![0u8; size];
    for i in 0..files {
        let d = root.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&d)?;
        }
        content[..8.min(size)].copy_from_slice(&(i as u64).to_le_bytes()[..8.min(size)]);
        std::fs::write(d.join(format!("f{i:05}.bin")), &content)?;
    }
    Ok(())
}
