//! `connect`: time from `connect()` to it returning `Ok` (TCP connect, Noise XX handshake with
//! the Hello, registration), over many fresh connections between two nodes.

use std::time::{Duration, Instant};

use rats::RatsClient;
use serde::Serialize;

use crate::common::{
    BenchResult, Latency, addr_of, connect, emit, latency, ratio, shutdown_all, start_pair,
    wait_for,
};
use crate::tcp;

/// Connections made before measuring (not counted).
const WARMUP: usize = 5;

#[derive(Serialize)]
struct Line {
    scenario: &'static str,
    #[serde(flatten)]
    latency: Latency,
    /// Plain TCP over as many fresh connections, right after: dial until the listener's first
    /// byte arrived (usable both ways, as `connect()` returning is for rats).
    tcp: Latency,
    /// `median_us / tcp.median_us`.
    vs_tcp: f64,
}

/// Runs the scenario with `count` measured connections.
pub async fn run(count: usize) -> BenchResult {
    let (listener, dialer) = start_pair().await?;
    let result = measure(&listener, &dialer, count).await;
    shutdown_all(&[listener, dialer]).await;
    let mut samples = result?;
    let latency = latency(&mut samples)?;
    let tcp = crate::common::latency(&mut tcp::connect(WARMUP, count).await?)?;
    emit(&Line {
        scenario: "connect",
        latency,
        tcp,
        vs_tcp: ratio(latency.median_us, tcp.median_us),
    });
    Ok(())
}

async fn measure(
    listener: &RatsClient,
    dialer: &RatsClient,
    count: usize,
) -> BenchResult<Vec<Duration>> {
    let addr = addr_of(listener)?;
    let mut samples = Vec::with_capacity(count);
    for i in 0..WARMUP + count {
        let t0 = Instant::now();
        let peer = connect(dialer, &addr, Duration::from_secs(10)).await?;
        let took = t0.elapsed();
        if i >= WARMUP {
            samples.push(took);
        }
        // The listener registers the peer once it has read the last handshake message; wait
        // for it, then close and wait until both sides have let go of the connection.
        wait_for(
            Duration::from_secs(10),
            "the listener to register the peer",
            || listener.peer_count() == 1,
        )
        .await?;
        dialer.disconnect(&peer);
        wait_for(
            Duration::from_secs(10),
            "both sides to drop the connection",
            || {
                dialer.peer_count() == 0
                    && listener.peer_count() == 0
                    && dialer.node().connection_count() == 0
                    && listener.node().connection_count() == 0
            },
        )
        .await?;
    }
    Ok(samples)
}
