//! `rats-bench`: the rats benchmark program. It starts real nodes on 127.0.0.1 and prints one
//! JSON object per line on stdout, each with a `"scenario"` key and its figures (or an
//! `"error"` key when the scenario failed or missed its deadline).
//!
//! ```text
//! cargo run --release -p rats-tests --bin rats-bench -- <scenario> [options]
//!
//! connect     [--connections 200]            dial-to-connected latency: median_us, p99_us
//! messages    [--secs 3] [--max N] [--size 64]  one-way small messages: msgs_per_s, mib_per_s
//! rtt         [--count 10000] [--size 64]    request answered by the peer's handler: median_us, p99_us
//! throughput  [--mib 1024]                   1 MiB messages: mib_per_s
//! peers       [--peers 100]                  listener RSS: rss_kib, base_rss_kib, kib_per_peer
//! transfer    [--mib 1024] [--files 10000]   file to file: mib_per_s (one file), files_per_s (tree)
//! gossip      [--nodes 100] [--messages 1000] [--rate 100]  pub/sub over N nodes: delivery,
//!                                            p50_ms, p99_ms, dup_per_msg, cpu_us_per_delivery
//! dht         [--nodes 50] [--lookups 200]   DHT testnet: median_ms, p95_ms (find_peers to first
//!                                            peer), first_peer_ms (rats node start to first peer)
//! idle        [--peers 100] [--secs 30]      listener CPU with idle peers: cpu_percent
//!                                            (clock ticks) and sched_cpu_percent (ns run time)
//! memory-attack [--one-ip 16] [--ips 8] [--per-ip 8] [--mib 16]  hostile partial messages:
//!                                            base/peak/after_rss_kib of the listener
//! tool        [--exe target/release/rats] [--secs 10]  idle tool, every plugin on, in a
//!                                            network namespace (root): rss_kib, rss_anon_kib
//! all         [see --help]                   every scenario in turn (peers with 10, 100, 500)
//! ```
//!
//! `connect`, `messages`, `rtt`, `throughput` and `transfer` also run the same workload over a
//! plain tokio `TcpStream` right after (no encryption; see `tcp.rs`) and print it beside their
//! figure with the ratio `vs_tcp`. `--rounds N` repeats the scenario N times and then prints the
//! medians.
//!
//! `peers` and `idle` run the listener in a child process (this binary, `listen-child`) and
//! dial it from N nodes in this process, each with its own identity. Every scenario has a
//! deadline; the exit status is 1 if any scenario failed.

mod child;
mod common;
mod connect;
mod dht;
mod gossip;
mod memory;
mod messages;
mod peers;
mod rtt;
mod tcp;
mod throughput;
mod tool;
mod transfer;

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::common::{BenchResult, ErrorLine, emit};

/// Benchmarks of rats over TCP loopback; prints one JSON object per line.
#[derive(Parser, Debug)]
#[command(name = "rats-bench", version)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Runs the scenario this many times in turn, then prints, for each line a round printed,
    /// one more line with the median of each figure across the rounds (`"median_of": rounds`).
    #[arg(long, global = true, default_value_t = 1)]
    rounds: usize,
}

#[derive(Subcommand, Debug, Clone)]
enum Scenario {
    /// Dial-to-connected latency over many new connections.
    Connect(ConnectArgs),
    /// One-way small binary messages over one encrypted connection.
    Messages(MessagesArgs),
    /// Round trip of a binary request answered by the peer's handler.
    Rtt(RttArgs),
    /// 1 MiB binary messages over one encrypted connection.
    Throughput(ThroughputArgs),
    /// File to file through the transfer service: one big file, then a tree of small files.
    Transfer(TransferArgs),
    /// Publish/subscribe over N nodes in this process.
    Gossip(GossipArgs),
    /// Lookups on a local DHT testnet, and a rats node's time to its first DHT peer.
    Dht(DhtArgs),
    /// Memory of a listener (separate process) with N idle peers.
    Peers(PeersArgs),
    /// Peak memory of a listener (separate process) under hostile partial messages.
    MemoryAttack(MemoryAttackArgs),
    /// CPU use of a listener (separate process) with idle peers.
    Idle(IdleArgs),
    /// Memory of an idle `rats` tool with every plugin on, in a network namespace (root).
    Tool(ToolArgs),
    /// Every scenario in turn.
    All(AllArgs),
    /// The listener process of `peers` and `idle` (internal).
    #[command(hide = true)]
    ListenChild(ChildArgs),
}

#[derive(Args, Debug, Clone)]
struct MemoryAttackArgs {
    /// Hostile connections in the first round, all from 127.0.0.2.
    #[arg(long, default_value_t = 16)]
    one_ip: usize,
    /// Source addresses in the second round (127.0.0.3 on).
    #[arg(long, default_value_t = 8)]
    ips: usize,
    /// Hostile connections from each address in the second round.
    #[arg(long, default_value_t = 8)]
    per_ip: usize,
    /// The size each partial message declares (MiB).
    #[arg(long, default_value_t = 16)]
    mib: usize,
}

#[derive(Args, Debug, Clone)]
struct ConnectArgs {
    /// Connections to measure.
    #[arg(long, default_value_t = 200)]
    connections: usize,
}

#[derive(Args, Debug, Clone)]
struct MessagesArgs {
    /// Seconds to send for.
    #[arg(long, default_value_t = 3.0)]
    secs: f64,
    /// Stop after this many messages even if time is left.
    #[arg(long, default_value_t = 5_000_000)]
    max: u64,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
}

#[derive(Args, Debug, Clone)]
struct RttArgs {
    /// Round trips to measure.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Request (and reply) size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
}

#[derive(Args, Debug, Clone)]
struct ThroughputArgs {
    /// MiB to send (one 1 MiB message each).
    #[arg(long, default_value_t = 1024)]
    mib: u64,
}

#[derive(Args, Debug, Clone)]
struct TransferArgs {
    /// MiB of the big file.
    #[arg(long, default_value_t = 1024)]
    mib: u64,
    /// Files in the tree.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Bytes per file in the tree.
    #[arg(long, default_value_t = 4096)]
    file_size: usize,
    /// Chunk size (default: the service's).
    #[arg(long)]
    chunk_size: Option<u32>,
    /// Chunks in flight (default: the service's).
    #[arg(long)]
    window: Option<u32>,
}

#[derive(Args, Debug, Clone)]
struct GossipArgs {
    /// Nodes.
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    /// Messages to publish.
    #[arg(long, default_value_t = 1000)]
    messages: usize,
    /// Messages per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
}

#[derive(Args, Debug, Clone)]
struct DhtArgs {
    /// Testnet nodes.
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Lookups to measure.
    #[arg(long, default_value_t = 200)]
    lookups: usize,
}

#[derive(Args, Debug, Clone)]
struct PeersArgs {
    /// Idle peers to connect.
    #[arg(long, default_value_t = 100)]
    peers: usize,
}

#[derive(Args, Debug, Clone)]
struct IdleArgs {
    /// Idle peers to connect.
    #[arg(long, default_value_t = 100)]
    peers: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 30.0)]
    secs: f64,
}

#[derive(Args, Debug, Clone)]
struct AllArgs {
    /// Connections for `connect`.
    #[arg(long, default_value_t = 200)]
    connections: usize,
    /// Seconds of sending for `messages`.
    #[arg(long, default_value_t = 3.0)]
    messages_secs: f64,
    /// Round trips for `rtt`.
    #[arg(long, default_value_t = 10_000)]
    rtt_count: usize,
    /// MiB for `throughput` and for the big file of `transfer`.
    #[arg(long, default_value_t = 1024)]
    mib: u64,
    /// Files in the tree of `transfer`.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Peer counts for `peers` (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [10, 100, 500])]
    peers: Vec<usize>,
    /// Peers for `idle`.
    #[arg(long, default_value_t = 100)]
    idle_peers: usize,
    /// Seconds for `idle`.
    #[arg(long, default_value_t = 30.0)]
    idle_secs: f64,
}

#[derive(Args, Debug, Clone)]
struct ToolArgs {
    /// The `rats` executable (e.g. target/release/rats).
    #[arg(long, default_value = "target/release/rats")]
    exe: std::path::PathBuf,
    /// Seconds to let it settle before reading its memory.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
}

#[derive(Args, Debug, Clone)]
struct ChildArgs {
    /// The listener's `max_peers`.
    #[arg(long, default_value_t = 128)]
    max_peers: usize,
    /// Keep every connection and memory limit at its default (ignores `--max-peers`).
    #[arg(long)]
    default_limits: bool,
}

/// Runs a scenario as its own task with a deadline; prints an error line if it fails.
async fn run<F>(name: &'static str, deadline: Duration, fut: F) -> bool
where
    F: Future<Output = BenchResult> + Send + 'static,
{
    let task = tokio::spawn(fut);
    let abort = task.abort_handle();
    let error = match tokio::time::timeout(deadline, task).await {
        Ok(Ok(Ok(()))) => return true,
        Ok(Ok(Err(e))) => e,
        Ok(Err(join)) => format!("scenario panicked: {join}"),
        Err(_) => {
            abort.abort();
            format!("did not finish within {} s", deadline.as_secs())
        }
    };
    emit(&ErrorLine {
        scenario: name,
        error,
    });
    false
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

async fn connect(n: usize) -> bool {
    // About 10 ms per connection on a slow machine, plus room for start-up.
    let deadline = Duration::from_secs(60) + Duration::from_millis(50u64.saturating_mul(n as u64));
    run("connect", deadline, connect::run(n)).await
}

async fn messages(a: MessagesArgs) -> bool {
    let deadline = secs(a.secs) + Duration::from_secs(120);
    run("messages", deadline, messages::run(a.secs, a.max, a.size)).await
}

async fn rtt(a: RttArgs) -> bool {
    let deadline =
        Duration::from_secs(60) + Duration::from_millis(5u64.saturating_mul(a.count as u64));
    run("rtt", deadline, rtt::run(a.count, a.size)).await
}

async fn throughput(mib: u64) -> bool {
    let deadline = Duration::from_secs(120 + mib / 5);
    run("throughput", deadline, throughput::run(mib)).await
}

async fn transfer(a: TransferArgs) -> bool {
    let deadline = Duration::from_secs(240 + a.mib / 5 + a.files as u64 / 50);
    let params = transfer::Params {
        mib: a.mib,
        files: a.files,
        file_size: a.file_size,
        chunk_size: a.chunk_size,
        window: a.window,
    };
    run("transfer", deadline, transfer::run(params)).await
}

async fn gossip(a: GossipArgs) -> bool {
    let deadline = Duration::from_secs(120)
        + Duration::from_millis(200u64.saturating_mul(a.nodes as u64))
        + Duration::from_secs_f64(a.messages as f64 / a.rate.max(0.001));
    let params = gossip::Params {
        nodes: a.nodes,
        messages: a.messages,
        rate: a.rate,
    };
    run("gossip", deadline, gossip::run(params)).await
}

async fn dht(a: DhtArgs) -> bool {
    let deadline =
        Duration::from_secs(120) + Duration::from_millis(100u64.saturating_mul(a.lookups as u64));
    let params = dht::Params {
        nodes: a.nodes,
        lookups: a.lookups,
    };
    run("dht", deadline, dht::run(params)).await
}

async fn peers(n: usize) -> bool {
    let deadline =
        Duration::from_secs(120) + Duration::from_millis(200u64.saturating_mul(n as u64));
    run("peers", deadline, peers::run_peers(n)).await
}

async fn memory_attack(a: MemoryAttackArgs) -> bool {
    run(
        "memory-attack",
        Duration::from_secs(180),
        memory::run(a.one_ip, a.ips, a.per_ip, a.mib),
    )
    .await
}

async fn idle(n: usize, s: f64) -> bool {
    let deadline =
        secs(s) + Duration::from_secs(120) + Duration::from_millis(200u64.saturating_mul(n as u64));
    run("idle", deadline, peers::run_idle(n, s)).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut ok = true;
    let mut starts = Vec::new();
    for _ in 0..cli.rounds.max(1) {
        starts.push(common::printed_count());
        ok &= run_scenario(cli.scenario.clone()).await;
    }
    common::print_medians(&starts);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one scenario (or all of them) once; false if any failed.
async fn run_scenario(scenario: Scenario) -> bool {
    match scenario {
        Scenario::Connect(a) => connect(a.connections).await,
        Scenario::Messages(a) => messages(a).await,
        Scenario::Rtt(a) => rtt(a).await,
        Scenario::Throughput(a) => throughput(a.mib).await,
        Scenario::Transfer(a) => transfer(a).await,
        Scenario::Gossip(a) => gossip(a).await,
        Scenario::Dht(a) => dht(a).await,
        Scenario::Peers(a) => peers(a.peers).await,
        Scenario::Idle(a) => idle(a.peers, a.secs).await,
        Scenario::MemoryAttack(a) => memory_attack(a).await,
        Scenario::Tool(a) => {
            let deadline = secs(a.secs) + Duration::from_secs(60);
            run("tool", deadline, async move {
                tool::run_tool(&a.exe, a.secs).await
            })
            .await
        }
        Scenario::All(a) => {
            let mut ok = connect(a.connections).await;
            ok &= messages(MessagesArgs {
                secs: a.messages_secs,
                max: 5_000_000,
                size: 64,
            })
            .await;
            ok &= rtt(RttArgs {
                count: a.rtt_count,
                size: 64,
            })
            .await;
            ok &= throughput(a.mib).await;
            ok &= transfer(TransferArgs {
                mib: a.mib,
                files: a.files,
                file_size: 4096,
                chunk_size: None,
                window: None,
            })
            .await;
            ok &= dht(DhtArgs {
                nodes: 50,
                lookups: 200,
            })
            .await;
            for n in a.peers {
                ok &= peers(n).await;
            }
            ok &= idle(a.idle_peers, a.idle_secs).await;
            ok &= memory_attack(MemoryAttackArgs {
                one_ip: 16,
                ips: 8,
                per_ip: 8,
                mib: 16,
            })
            .await;
            ok
        }
        Scenario::ListenChild(a) => match child::serve(a.max_peers, a.default_limits).await {
            Ok(()) => true,
            Err(e) => {
                eprintln!("listen-child: {e}");
                false
            }
        },
    }
}
