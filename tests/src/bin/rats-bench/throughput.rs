//! `throughput`: 1 MiB binary messages over one Noise-encrypted connection, measured at the
//! receiver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rats::RatsClient;
use serde::Serialize;

use crate::common::{
    BenchResult, connect_pair, emit, fail, mib_per_s, ratio, shutdown_all, start_pair, wait_for,
};
use crate::tcp;

/// Size of one message.
const MESSAGE: usize = 1024 * 1024;

#[derive(Serialize)]
struct Line {
    scenario: &'static str,
    mib: u64,
    secs: f64,
    /// From the first send until the receiver had every byte.
    mib_per_s: f64,
    /// From the first delivered message to the last (receiver side only).
    receive_mib_per_s: f64,
    /// The same messages over plain TCP, right after.
    tcp_mib_per_s: f64,
    /// `mib_per_s / tcp_mib_per_s`.
    vs_tcp: f64,
}

/// Bytes delivered and the times of the first and last delivery, as seen by the receiver's
/// handler (which runs once per MiB, so a mutex is cheap enough).
#[derive(Default)]
struct Deliveries {
    bytes: AtomicU64,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
}

impl Deliveries {
    fn record(&self, len: usize) {
        let now = Instant::now();
        if let Ok(mut first) = self.first.lock() {
            first.get_or_insert(now);
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(now);
        }
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    fn times(&self) -> Option<(Instant, Instant)> {
        let first = (*self.first.lock().ok()?)?;
        let last = (*self.last.lock().ok()?)?;
        Some((first, last))
    }
}

/// Sends `mib` messages of 1 MiB.
pub async fn run(mib: u64) -> BenchResult {
    if mib < 2 {
        return Err("--mib must be at least 2".into());
    }
    let (receiver, sender) = start_pair().await?;
    let result = measure(&receiver, &sender, mib).await;
    shutdown_all(&[receiver, sender]).await;
    let (total, receive) = result?;
    let bytes = mib * MESSAGE as u64;
    let tcp_total = tcp::throughput(mib, MESSAGE).await?;
    let rate = mib_per_s(bytes, total);
    let tcp_rate = mib_per_s(bytes, tcp_total);
    emit(&Line {
        scenario: "throughput",
        mib,
        secs: (total.as_secs_f64() * 1000.0).round() / 1000.0,
        mib_per_s: rate,
        // The first message's bytes arrived before the receive window opened.
        receive_mib_per_s: mib_per_s(bytes - MESSAGE as u64, receive),
        tcp_mib_per_s: tcp_rate,
        vs_tcp: ratio(rate, tcp_rate),
    });
    Ok(())
}

async fn measure(
    receiver: &RatsClient,
    sender: &RatsClient,
    mib: u64,
) -> BenchResult<(Duration, Duration)> {
    let deliveries = Arc::new(Deliveries::default());
    let d = deliveries.clone();
    receiver.on_binary(move |_, data| d.record(data.len()));
    let peer = connect_pair(sender, receiver).await?;
    let payload = Bytes::from(vec![0xA5u8; MESSAGE]);
    let total = mib * MESSAGE as u64;

    let t0 = Instant::now();
    for _ in 0..mib {
        sender
            .messages()
            .send_binary(&peer, payload.clone())
            .await
            .map_err(fail("send"))?;
    }
    // Generous: 60 s plus 1 s per 10 MiB (a slow machine still does more than 10 MiB/s).
    let limit = Duration::from_secs(60 + mib / 10);
    wait_for(limit, "the receiver to get every byte", || {
        deliveries.bytes.load(Ordering::Relaxed) >= total
    })
    .await?;
    let got = deliveries.bytes.load(Ordering::Relaxed);
    if got != total {
        return Err(format!("sent {total} bytes but the receiver got {got}"));
    }
    let Some((first, last)) = deliveries.times() else {
        return Err("receiver recorded no delivery times".into());
    };
    Ok((last.duration_since(t0), last.duration_since(first)))
}
