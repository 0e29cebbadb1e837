//! The Rust side of rats-ffi's benchmark (`bench/run.sh`): the same two scenarios as
//! `bench/c_bench.c`, through rats' Rust API, by rats-bench's method
//! (`tests/src/bin/rats-bench`): two nodes on 127.0.0.1 (`local_only`), one Noise-encrypted
//! TCP connection, binary messages counted by the receiver's `on_binary` handler.
//!
//! - `messages`: 20000 warm-up messages, then `--size`-byte messages for about `--secs`
//!   seconds (the clock read every 1024 sends), timed until the receiver counted every one.
//!   Sent with `binary_sender` (rats-bench's way) and, as a second line, with
//!   `RatsClient::send_binary` (what `rats_send_binary` calls).
//! - `throughput`: `--mib` messages of 1 MiB with `send_binary`, timed from the first send
//!   until the receiver had every byte.
//!
//! One JSON line per measurement on stdout. It prints numbers and asserts nothing about
//! them. `cargo run --release -p rats-ffi --example rust_bench -- [--secs S] [--mib N]
//! [--size BYTES]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rats_engine::{PeerId, RatsClient};

const WARMUP: u64 = 20_000;
const CHECK_EVERY: u64 = 1024;
const MIB: usize = 1024 * 1024;

type Res<T = ()> = Result<T, String>;

#[derive(Default)]
struct Counter {
    messages: AtomicU64,
    bytes: AtomicU64,
    /// First and last delivery (throughput; the handler runs once per MiB there).
    times: Mutex<Option<(Instant, Instant)>>,
}

impl Counter {
    fn record(&self, len: usize) {
        let now = Instant::now();
        if let Ok(mut t) = self.times.lock() {
            let first = t.map_or(now, |(first, _)| first);
            *t = Some((first, now));
        }
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
        self.messages.fetch_add(1, Ordering::Relaxed);
    }
}

async fn wait_for(limit: Duration, what: &str, cond: impl Fn() -> bool) -> Res {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= deadline {
            return Err(format!("timed out after {limit:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// A listening receiver, a dialer connected to it, and the receiver's peer id.
async fn pair(counter: &Arc<Counter>) -> Res<(RatsClient, RatsClient, PeerId)> {
    let e = |what: &'static str| move |err: rats_engine::RatsError| format!("{what}: {err}");
    let receiver = RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")
        .map_err(e("listen"))?
        .start()
        .await
        .map_err(e("start receiver"))?;
    let c = counter.clone();
    receiver.on_binary(move |_, data| c.record(data.len()));
    let sender = RatsClient::builder()
        .local_only()
        .no_listen()
        .start()
        .await
        .map_err(e("start sender"))?;
    let addr = receiver
        .listen_addrs()
        .first()
        .map(ToString::to_string)
        .ok_or("no listen address")?;
    let peer = sender.connect(addr.as_str()).await.map_err(e("connect"))?;
    wait_for(Duration::from_secs(10), "the receiver to register", || {
        receiver.peer_count() == 1
    })
    .await?;
    Ok((receiver, sender, peer))
}

async fn close(receiver: RatsClient, sender: RatsClient) {
    let both = async {
        sender.shutdown().await;
        receiver.shutdown().await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(15), both).await;
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `binary_sender`: rats-bench's way; otherwise `RatsClient::send_binary` per message.
async fn messages(secs: f64, size: usize, binary_sender: bool) -> Res {
    let counter = Arc::new(Counter::default());
    let (receiver, sender, peer) = pair(&counter).await?;
    let msg = vec![0x5Au8; size];
    let tx = sender
        .messages()
        .binary_sender(&peer)
        .map_err(|e| format!("binary sender: {e}"))?;
    // rats-bench sends the same slice with the binary sender; `send_binary` takes an owned
    // buffer, so that path copies the message first (as `rats_send_binary` does).
    macro_rules! send {
        () => {
            if binary_sender {
                tx.send(&msg).await.map_err(|e| format!("send: {e}"))
            } else {
                sender
                    .send_binary(&peer, msg.clone())
                    .await
                    .map_err(|e| format!("send: {e}"))
            }
        };
    }
    for _ in 0..WARMUP {
        send!()?;
    }
    wait_for(Duration::from_secs(30), "warm-up messages", || {
        counter.messages.load(Ordering::Relaxed) == WARMUP
    })
    .await?;
    let window = Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let mut sent = 0u64;
    loop {
        send!()?;
        sent += 1;
        if sent.is_multiple_of(CHECK_EVERY) && t0.elapsed() >= window {
            break;
        }
    }
    wait_for(Duration::from_secs(60), "every message", || {
        counter.messages.load(Ordering::Relaxed) >= WARMUP + sent
    })
    .await?;
    let elapsed = t0.elapsed().as_secs_f64();
    close(receiver, sender).await;
    let method = if binary_sender {
        "binary_sender"
    } else {
        "send_binary"
    };
    println!(
        "{}",
        serde_json::json!({
            "api": "rust", "scenario": "messages", "method": method, "size": size,
            "messages": sent, "secs": (elapsed * 1000.0).round() / 1000.0,
            "msgs_per_s": round1(sent as f64 / elapsed),
            "mib_per_s": round1((sent * size as u64) as f64 / MIB as f64 / elapsed),
        })
    );
    Ok(())
}

async fn throughput(mib: u64) -> Res {
    let counter = Arc::new(Counter::default());
    let (receiver, sender, peer) = pair(&counter).await?;
    // One buffer, cloned by reference count (rats-bench's `Bytes::clone`).
    let payload = bytes::Bytes::from(vec![0xA5u8; MIB]);
    let total = mib * MIB as u64;
    let t0 = Instant::now();
    for _ in 0..mib {
        sender
            .send_binary(&peer, payload.clone())
            .await
            .map_err(|e| format!("send: {e}"))?;
    }
    wait_for(Duration::from_secs(60 + mib / 10), "every byte", || {
        counter.bytes.load(Ordering::Relaxed) >= total
    })
    .await?;
    let (first, last) = counter
        .times
        .lock()
        .ok()
        .and_then(|t| *t)
        .ok_or("no delivery times")?;
    close(receiver, sender).await;
    let secs = last.duration_since(t0).as_secs_f64();
    let receive = last.duration_since(first).as_secs_f64().max(1e-9);
    println!(
        "{}",
        serde_json::json!({
            "api": "rust", "scenario": "throughput", "mib": mib,
            "secs": (secs * 1000.0).round() / 1000.0,
            "mib_per_s": round1(mib as f64 / secs),
            "receive_mib_per_s": round1((mib - 1) as f64 / receive),
        })
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    let mut secs = 3.0f64;
    let mut mib = 1024u64;
    let mut size = 64usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for kv in args.chunks(2) {
        let value = kv.get(1).map(String::as_str).unwrap_or_default();
        let ok = match kv[0].as_str() {
            "--secs" => value.parse().map(|v| secs = v).is_ok(),
            "--mib" => value.parse().map(|v| mib = v).is_ok(),
            "--size" => value.parse().map(|v| size = v).is_ok(),
            _ => false,
        };
        if !ok {
            eprintln!("usage: rust_bench [--secs S] [--mib N] [--size BYTES]");
            std::process::exit(2);
        }
    }
    if mib < 2 || size == 0 {
        eprintln!("--mib must be at least 2 and --size at least 1");
        std::process::exit(2);
    }
    let run = async {
        messages(secs, size, true).await?;
        messages(secs, size, false).await?;
        throughput(mib).await
    };
    if let Err(e) = run.await {
        println!("{}", serde_json::json!({ "api": "rust", "error": e }));
        std::process::exit(1);
    }
}
