//! `messages`: small binary messages one way over one Noise-encrypted TCP loopback connection,
//! counted by the receiver's `on_binary` handler.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rats::RatsClient;
use serde::Serialize;

use crate::common::{
    BenchResult, connect_pair, emit, fail, mib_per_s, ratio, round1, shutdown_all, start_pair,
    wait_for,
};
use crate::tcp;

/// Messages sent and delivered before the measured window.
const WARMUP: u64 = 20_000;
/// The clock is read once per this many sends.
const CHECK_EVERY: u64 = 1024;

#[derive(Serialize)]
struct Line {
    scenario: &'static str,
    size: usize,
    messages: u64,
    secs: f64,
    msgs_per_s: f64,
    mib_per_s: f64,
    /// The same messages over plain TCP with 8 KiB buffers, right after.
    tcp_msgs_per_s: f64,
    /// `msgs_per_s / tcp_msgs_per_s`.
    vs_tcp: f64,
}

/// Sends `size`-byte messages for about `secs` seconds or until `max` were sent.
pub async fn run(secs: f64, max: u64, size: usize) -> BenchResult {
    let (receiver, sender) = start_pair().await?;
    let result = measure(&receiver, &sender, secs, max, size).await;
    shutdown_all(&[receiver, sender]).await;
    let (messages, elapsed) = result?;
    let (tcp_messages, tcp_elapsed) = tcp::messages(secs, max, size).await?;
    let secs = elapsed.as_secs_f64();
    let msgs_per_s = messages as f64 / secs;
    let tcp_msgs_per_s = tcp_messages as f64 / tcp_elapsed.as_secs_f64();
    emit(&Line {
        scenario: "messages",
        size,
        messages,
        secs: (secs * 1000.0).round() / 1000.0,
        msgs_per_s: round1(msgs_per_s),
        mib_per_s: mib_per_s(messages * size as u64, elapsed),
        tcp_msgs_per_s: round1(tcp_msgs_per_s),
        vs_tcp: ratio(msgs_per_s, tcp_msgs_per_s),
    });
    Ok(())
}

async fn measure(
    receiver: &RatsClient,
    sender: &RatsClient,
    secs: f64,
    max: u64,
    size: usize,
) -> BenchResult<(u64, Duration)> {
    let delivered = Arc::new(AtomicU64::new(0));
    let d = delivered.clone();
    receiver.on_binary(move |_, _| {
        d.fetch_add(1, Ordering::Relaxed);
    });
    let peer = connect_pair(sender, receiver).await?;
    let tx = sender
        .messages()
        .binary_sender(&peer)
        .map_err(fail("binary sender"))?;
    let msg = vec![0x5Au8; size];

    for _ in 0..WARMUP {
        tx.send(&msg).await.map_err(fail("send"))?;
    }
    wait_for(Duration::from_secs(30), "warm-up messages", || {
        delivered.load(Ordering::Relaxed) == WARMUP
    })
    .await?;

    let window = Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let mut sent = 0u64;
    while sent < max {
        tx.send(&msg).await.map_err(fail("send"))?;
        sent += 1;
        if sent.is_multiple_of(CHECK_EVERY) && t0.elapsed() >= window {
            break;
        }
    }
    let limit = Duration::from_secs(60);
    wait_for(limit, "the receiver to count every message", || {
        delivered.load(Ordering::Relaxed) >= WARMUP + sent
    })
    .await?;
    let elapsed = t0.elapsed();
    let got = delivered.load(Ordering::Relaxed) - WARMUP;
    if got != sent {
        return Err(format!(
            "sent {sent} messages but the receiver counted {got}"
        ));
    }
    Ok((sent, elapsed))
}
