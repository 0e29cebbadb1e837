//! `rtt`: a small binary request answered by the peer's `on_binary` handler (which replies with
//! `try_send_binary`), measured sequentially.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rats::RatsClient;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::common::{
    BenchResult, Latency, connect_pair, emit, fail, latency, ratio, shutdown_all, start_pair,
};
use crate::tcp;

/// Round trips before measuring (not counted).
const WARMUP: usize = 200;

#[derive(Serialize)]
struct Line {
    scenario: &'static str,
    size: usize,
    #[serde(flatten)]
    latency: Latency,
    /// The same round trips over plain TCP (an echo task), right after.
    tcp: Latency,
    /// `median_us / tcp.median_us`.
    vs_tcp: f64,
}

/// Measures `count` round trips of `size`-byte messages.
pub async fn run(count: usize, size: usize) -> BenchResult {
    let (echo, client) = start_pair().await?;
    let result = measure(&echo, &client, count, size).await;
    shutdown_all(&[echo, client]).await;
    let mut samples = result?;
    let latency = latency(&mut samples)?;
    let tcp = crate::common::latency(&mut tcp::rtt(WARMUP, count, size).await?)?;
    emit(&Line {
        scenario: "rtt",
        size,
        latency,
        tcp,
        vs_tcp: ratio(latency.median_us, tcp.median_us),
    });
    Ok(())
}

async fn measure(
    echo: &RatsClient,
    client: &RatsClient,
    count: usize,
    size: usize,
) -> BenchResult<Vec<Duration>> {
    // Weak: the handler is stored inside the exchange it replies through.
    let exchange = Arc::downgrade(echo.messages());
    echo.on_binary(move |from, data| {
        if let Some(ex) = exchange.upgrade() {
            let _ = ex.try_send_binary(&from, &data);
        }
    });
    let (replies_tx, mut replies) = mpsc::unbounded_channel::<usize>();
    client.on_binary(move |_, data| {
        let _ = replies_tx.send(data.len());
    });

    let peer = connect_pair(client, echo).await?;
    let tx = client
        .messages()
        .binary_sender(&peer)
        .map_err(fail("binary sender"))?;
    let request = vec![0x42u8; size];
    let mut samples = Vec::with_capacity(count);
    for i in 0..WARMUP + count {
        let t0 = Instant::now();
        tx.send(&request).await.map_err(fail("send"))?;
        let len = tokio::time::timeout(Duration::from_secs(5), replies.recv())
            .await
            .map_err(|_| format!("no reply to request {i} within 5 s"))?
            .ok_or("reply channel closed")?;
        let took = t0.elapsed();
        if len != size {
            return Err(format!("reply of {len} bytes to a {size}-byte request"));
        }
        if i >= WARMUP {
            samples.push(took);
        }
    }
    Ok(samples)
}
