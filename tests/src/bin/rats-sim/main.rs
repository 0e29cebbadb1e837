//! `rats-sim`: rats' protocol code at a scale one machine cannot run for real, in simulated
//! time. Each node is the real GossipSub router (mesh, gossip, peer scoring) driven by a
//! discrete-event scheduler over a link model (per-pair latency, upload bandwidth, loss),
//! with nodes leaving and coming back; every random choice follows `--seed`.
//!
//! ```text
//! rats-sim gossip [--nodes 1000] [--seed 1] [--messages 100] [--rate 10] [--size 256]
//!                 [--churn 0.1] [--link wan|loopback]
//! ```
//!
//! Prints one JSON line per run. Stood in: the Ed25519 signature of each message (signed with
//! zeros, taken as valid) and the whole connection layer (Noise, frames, send queues: a frame
//! costs its bytes plus a fixed overhead on the link). Not simulated yet: the DHT, Sybil
//! attacks.

mod gossip;
mod link;
mod rng;
mod sched;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "rats-sim", version)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// Publish/subscribe over N simulated nodes on one topic.
    Gossip(GossipArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LinkPreset {
    /// One-way latency 5-150 ms (log-uniform per pair), 20 Mbit/s up, 0.5 % loss.
    Wan,
    /// 30 µs, unlimited, lossless (to compare with `rats-bench gossip`).
    Loopback,
}

#[derive(clap::Args, Debug)]
struct GossipArgs {
    /// Nodes.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// Seed of every random choice (topology, latencies, churn, routers, publishers).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Messages published.
    #[arg(long, default_value_t = 100)]
    messages: usize,
    /// Messages per second, all publishers together.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Share of nodes that leave and come back (0 to 1).
    #[arg(long, default_value_t = 0.1)]
    churn: f64,
    /// The links.
    #[arg(long, value_enum, default_value_t = LinkPreset::Wan)]
    link: LinkPreset,
    /// CPU µs a node spends on each received published message (the Ed25519 check, stood in,
    /// and handling; ~60 µs on the development VM).
    #[arg(long, default_value_t = 60)]
    publish_cpu_us: u64,
    /// CPU µs a node spends on any other frame.
    #[arg(long, default_value_t = 5)]
    frame_cpu_us: u64,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.scenario {
        Scenario::Gossip(a) => {
            if a.nodes < 2 || !(0.0..=1.0).contains(&a.churn) || a.rate <= 0.0 {
                eprintln!("need --nodes >= 2, --churn in 0..=1 and --rate > 0");
                return std::process::ExitCode::from(2);
            }
            let (link, name) = match a.link {
                LinkPreset::Wan => (link::LinkModel::wan(), "wan"),
                LinkPreset::Loopback => (link::LinkModel::loopback(), "loopback"),
            };
            let line = gossip::run(gossip::Params {
                nodes: a.nodes,
                seed: a.seed,
                messages: a.messages,
                rate: a.rate,
                size: a.size,
                churn: a.churn,
                churn_on_s: 60.0,
                churn_off_s: 20.0,
                link,
                link_name: name.into(),
                publish_cpu_us: a.publish_cpu_us,
                frame_cpu_us: a.frame_cpu_us,
            });
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
    }
}
