//! The listener in a separate process, so that its memory and CPU can be measured alone: the
//! child side (`rats-bench listen-child`); [`ListenChild`] (in the test library) is the
//! parent's handle on it and documents its commands.

use std::io::{BufRead, Write};
use std::time::Duration;

use rats::RatsClient;
use tokio::sync::mpsc;

pub use rats_tests::listen_child::ListenChild;

use crate::common::{BenchResult, addr_of, fail};

/// Pending handshakes the child accepts (per IP and overall): the dialers all come from
/// 127.0.0.1 in batches.
const CHILD_PENDING: usize = 128;

/// Starts this benchmark's listener child with room for `max_peers` peers from 127.0.0.1.
pub async fn spawn(max_peers: usize) -> BenchResult<ListenChild> {
    let exe = std::env::current_exe().map_err(fail("own executable"))?;
    ListenChild::spawn(&exe, &["--max-peers", &max_peers.to_string()]).await
}

/// The child side: runs until `quit` or the end of stdin. With `default_limits` the node
/// keeps every connection and memory limit at its default (for attacks on those limits);
/// otherwise it takes `max_peers` peers from one address.
pub async fn serve(max_peers: usize, default_limits: bool) -> BenchResult {
    let node = RatsClient::builder()
        .local_only()
        .listen("tcp:127.0.0.1:0")
        .map_err(fail("listen address"))?
        .configure(|c| {
            if !default_limits {
                c.max_peers = max_peers;
                c.max_pending_per_ip = CHILD_PENDING;
                c.max_connections_per_ip = usize::MAX;
                c.max_pending_handshakes = CHILD_PENDING;
            }
        })
        .start()
        .await
        .map_err(fail("start listener"))?;
    // Text messages come back to their sender: a peer can check that it is still served.
    let echo = node.clone();
    node.on_string(move |from, text| {
        let (echo, text) = (echo.clone(), text.to_string());
        tokio::spawn(async move {
            let _ = echo.send_string(&from, &text).await;
        });
    });
    let mut out = std::io::stdout();
    let answer = |out: &mut std::io::Stdout, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    answer(&mut out, format!("addr {}", addr_of(&node)?));

    let (tx, mut commands) = mpsc::unbounded_channel::<String>();
    // Blocking stdin reads on their own thread; the channel closes at end of input.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(l) = line else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let pid = std::process::id();
    while let Some(cmd) = commands.recv().await {
        let reply = match cmd.trim() {
            "count" => node.peer_count().to_string(),
            "rss" => rats_tests::rss_kib(pid).map_or("error no rss".into(), |v| v.to_string()),
            "cpu" => rats_tests::cpu_ticks(pid).map_or("error no cpu".into(), |v| v.to_string()),
            "memory" => node.node().memory_used().to_string(),
            "quit" => break,
            other => format!("error unknown command {other:?}"),
        };
        answer(&mut out, reply);
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), node.shutdown()).await;
    Ok(())
}
