//! `peers` and `idle`: a listener in its own process with many idle connected peers; memory per
//! peer, and CPU use while idle (keepalive at its default).

use std::time::{Duration, Instant};

use futures::future::join_all;
use rats::RatsClient;
use serde::Serialize;

use crate::child::ListenChild;
use crate::common::{BenchResult, connect, emit, round1, shutdown_all, start_dialer};

/// Dials in flight at once.
const DIAL_BATCH: usize = 16;
/// Time the listener gets to settle before a measurement.
const SETTLE: Duration = Duration::from_secs(1);

#[derive(Serialize)]
struct PeersLine {
    scenario: &'static str,
    peers: usize,
    rss_kib: u64,
    base_rss_kib: u64,
    kib_per_peer: f64,
}

#[derive(Serialize)]
struct IdleLine {
    scenario: &'static str,
    peers: usize,
    secs: f64,
    /// From user plus system clock ticks (`/proc/PID/stat`).
    cpu_percent: f64,
    /// Clock ticks per second used for the conversion.
    clk_tck: u64,
    /// From the nanosecond run time of every thread (`/proc/PID/task/*/schedstat`), which also
    /// sees the many short wake-ups that tick sampling can miss.
    sched_cpu_percent: Option<f64>,
}

/// Listener RSS with `n` idle peers.
pub async fn run_peers(n: usize) -> BenchResult {
    let mut clients = Vec::with_capacity(n);
    let result: BenchResult<PeersLine> = async {
        let mut child = crate::child::spawn(n + DIAL_BATCH).await?;
        let pid = child.pid();
        tokio::time::sleep(SETTLE).await;
        let base = rats_tests::rss_kib(pid).ok_or("cannot read the listener's RSS")?;
        dial_peers(&child.addr, n, &mut clients).await?;
        wait_peer_count(&mut child, n).await?;
        tokio::time::sleep(SETTLE).await;
        let rss = rats_tests::rss_kib(pid).ok_or("cannot read the listener's RSS")?;
        check_peer_count(&mut child, n).await?;
        child.quit().await;
        Ok(PeersLine {
            scenario: "peers",
            peers: n,
            rss_kib: rss,
            base_rss_kib: base,
            kib_per_peer: round1((rss as f64 - base as f64) / n.max(1) as f64),
        })
    }
    .await;
    shutdown_all(&clients).await;
    emit(&result?);
    Ok(())
}

/// Listener CPU use over `secs` seconds with `n` idle peers.
pub async fn run_idle(n: usize, secs: f64) -> BenchResult {
    let clk_tck = clock_ticks_per_second();
    let mut clients = Vec::with_capacity(n);
    let result: BenchResult<IdleLine> = async {
        let mut child = crate::child::spawn(n + DIAL_BATCH).await?;
        dial_peers(&child.addr, n, &mut clients).await?;
        wait_peer_count(&mut child, n).await?;
        tokio::time::sleep(SETTLE).await;
        let pid = child.pid();
        let ticks0 = rats_tests::cpu_ticks(pid).ok_or("cannot read the listener's CPU time")?;
        let ns0 = run_time_ns(pid);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        let ticks1 = rats_tests::cpu_ticks(pid).ok_or("cannot read the listener's CPU time")?;
        let ns1 = run_time_ns(pid);
        let elapsed = t0.elapsed().as_secs_f64();
        let sched = match (ns0, ns1) {
            (Some(a), Some(b)) => Some(round2(b.saturating_sub(a) as f64 / 1e9 / elapsed * 100.0)),
            _ => None,
        };
        check_peer_count(&mut child, n).await?;
        child.quit().await;
        let cpu = (ticks1.saturating_sub(ticks0)) as f64 / clk_tck as f64 / elapsed * 100.0;
        Ok(IdleLine {
            scenario: "idle",
            peers: n,
            secs: (elapsed * 1000.0).round() / 1000.0,
            cpu_percent: round2(cpu),
            clk_tck,
            sched_cpu_percent: sched,
        })
    }
    .await;
    shutdown_all(&clients).await;
    emit(&result?);
    Ok(())
}

/// Starts `n` non-listening nodes, each with its own identity, and connects them to `addr`,
/// at most [`DIAL_BATCH`] at a time. Started nodes are pushed to `clients` even on failure so
/// that the caller can shut them down.
async fn dial_peers(addr: &str, n: usize, clients: &mut Vec<RatsClient>) -> BenchResult {
    while clients.len() < n {
        let k = DIAL_BATCH.min(n - clients.len());
        let started = join_all((0..k).map(|_| start_dialer())).await;
        let mut batch = Vec::with_capacity(k);
        let mut first_err = None;
        for s in started {
            match s {
                Ok(c) => batch.push(c),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let dials = join_all(
            batch
                .iter()
                .map(|c| connect(c, addr, Duration::from_secs(20))),
        )
        .await;
        clients.extend(batch);
        for d in dials {
            if let Err(e) = d {
                first_err.get_or_insert(e);
            }
        }
        if let Some(e) = first_err {
            return Err(format!("after {} peers: {e}", clients.len()));
        }
    }
    Ok(())
}

/// Waits until the child reports `n` connected peers.
async fn wait_peer_count(child: &mut ListenChild, n: usize) -> BenchResult {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let count = child.peer_count().await?;
        if count == n {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("the listener has {count} peers instead of {n}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks that the child still has exactly `n` peers.
async fn check_peer_count(child: &mut ListenChild, n: usize) -> BenchResult {
    match child.peer_count().await? {
        c if c == n => Ok(()),
        c => Err(format!(
            "the listener has {c} peers at the end instead of {n}"
        )),
    }
}

/// `sysconf(_SC_CLK_TCK)` via `getconf CLK_TCK`; 100 (Linux's value) if that fails.
fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Rounds to two decimals.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Total run time in nanoseconds of every thread of `pid` (Linux schedstat), `None` if absent.
fn run_time_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}
