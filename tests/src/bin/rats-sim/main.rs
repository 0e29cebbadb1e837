//! `rats-sim`: rats' protocol code at a scale one machine cannot run for real, in simulated
//! time. Each node is the real GossipSub router (mesh, gossip, peer scoring) driven by a
//! discrete-event scheduler over a link model (per-pair latency, upload bandwidth, loss),
//! with nodes leaving and coming back; every random choice follows `--seed`.
//!
//! ```text
//! rats-sim gossip [--nodes 1000] [--seed 1] [--messages 100] [--rate 10] [--size 256]
//!                 [--churn 0.1] [--link wan|loopback] [--publish-cpu-us 60] [--frame-cpu-us 5]
//! rats-sim attack [gossip options] [--sybils 0.2] [--behaviour drop|censor|spam]
//! rats-sim scale  [gossip options] [--sizes 100,1000,10000] [--svg FILE]
//! rats-sim dht    [--nodes 1000] [--seed 1] [--lookups 200] [--rate 10] [--churn 0.1]
//!                 [--link wan|loopback]
//! ```
//!
//! Prints one JSON line per run. GossipSub: the real router per node; stood in are the
//! Ed25519 signature of each message (signed with zeros, its check answered by the simulator)
//! and the connection layer (Noise, frames, send queues: a frame costs its bytes plus a fixed
//! overhead on the link, and a node's CPU time per frame is a parameter). DHT: the real node
//! (routing table, lookups, KRPC server, rate limits, announce store) per node over simulated
//! datagrams; nothing is stood in. Every run is the same for one seed.

mod dht;
mod gossip;
mod link;
mod plot;
mod rng;
mod sched;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "rats-sim", version)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Exit with status 1 if any run delivers less than this share of its messages (for CI).
    #[arg(long, global = true)]
    min_delivery: Option<f64>,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// Publish/subscribe over N simulated nodes on one topic.
    Gossip(GossipArgs),
    /// The same with a share of Sybils that drop, censor or spam; peer scoring on and off.
    Attack(AttackArgs),
    /// `gossip` at several sizes, and a chart of latency and traffic against N.
    Scale(ScaleArgs),
    /// The BitTorrent DHT over N simulated nodes: joins, announces, lookups under churn.
    Dht(DhtArgs),
}

#[derive(clap::Args, Debug)]
struct DhtArgs {
    /// Nodes.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Lookups measured.
    #[arg(long, default_value_t = 200)]
    lookups: usize,
    /// Lookups started per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Share of nodes that leave (and come back 5-30 s later) during the lookups.
    #[arg(long, default_value_t = 0.1)]
    churn: f64,
    /// The links (a lost datagram is gone).
    #[arg(long, value_enum, default_value_t = LinkPreset::Wan)]
    link: LinkPreset,
}

#[derive(clap::Args, Debug)]
struct ScaleArgs {
    #[command(flatten)]
    gossip: GossipArgs,
    /// Network sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [100usize, 1000, 10000])]
    sizes: Vec<usize>,
    /// Where to write the chart (SVG).
    #[arg(long)]
    svg: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BehaviourArg {
    /// Take part in meshes, forward nothing.
    Drop,
    /// Drop the messages of a tenth of the honest publishers.
    Censor,
    /// Forward nothing and publish invalid messages five times a second each.
    Spam,
}

#[derive(clap::Args, Debug)]
struct AttackArgs {
    #[command(flatten)]
    gossip: GossipArgs,
    /// Share of the nodes that are Sybils.
    #[arg(long, default_value_t = 0.2)]
    sybils: f64,
    /// What they do.
    #[arg(long, value_enum, default_value_t = BehaviourArg::Drop)]
    behaviour: BehaviourArg,
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

fn preset(p: LinkPreset) -> (link::LinkModel, &'static str) {
    match p {
        LinkPreset::Wan => (link::LinkModel::wan(), "wan"),
        LinkPreset::Loopback => (link::LinkModel::loopback(), "loopback"),
    }
}

/// Latency and traffic against N, from `scale`'s lines.
fn chart(lines: &[serde_json::Value]) -> String {
    let series = |name: &str, key: &str, colour: &'static str| plot::Series {
        name: name.into(),
        colour,
        points: lines
            .iter()
            .filter_map(|l| Some((l["nodes"].as_f64()?, l[key].as_f64()?)))
            .collect(),
    };
    plot::svg(&[
        plot::Panel {
            title: "GossipSub delivery latency (simulated)".into(),
            unit: "ms".into(),
            series: vec![
                series("p50", "p50_ms", "#1f77b4"),
                series("p99", "p99_ms", "#d62728"),
            ],
        },
        plot::Panel {
            title: "Traffic per delivered byte".into(),
            unit: "bytes sent / byte delivered".into(),
            series: vec![
                series("all frames", "bytes_per_delivered_byte", "#2ca02c"),
                series("message copies", "copy_bytes_per_delivered_byte", "#9467bd"),
            ],
        },
        plot::Panel {
            title: "Duplicates per delivery".into(),
            unit: "copies".into(),
            series: vec![series("duplicates", "dup_per_delivery", "#ff7f0e")],
        },
    ])
}

/// The scenario's parameters from the command line, or why they are refused.
fn params(a: &GossipArgs) -> Result<gossip::Params, String> {
    if a.nodes < 2 || !(0.0..=1.0).contains(&a.churn) || a.rate <= 0.0 || a.size == 0 {
        return Err("need --nodes >= 2, --churn in 0..=1, --rate > 0 and --size > 0".into());
    }
    let (link, name) = preset(a.link);
    Ok(gossip::Params {
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
        attack: None,
    })
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Scenario::Dht(a) = &cli.scenario {
        if a.nodes < 2 || !(0.0..=1.0).contains(&a.churn) || a.rate <= 0.0 {
            eprintln!("need --nodes >= 2, --churn in 0..=1 and --rate > 0");
            return std::process::ExitCode::from(2);
        }
        let (link, name) = preset(a.link);
        let line = dht::run(dht::Params {
            nodes: a.nodes,
            seed: a.seed,
            lookups: a.lookups,
            rate: a.rate,
            churn: a.churn,
            link,
            link_name: name.into(),
        });
        println!("{line}");
        let short = cli
            .min_delivery
            .is_some_and(|min| line["success"].as_f64().is_none_or(|s| s < min));
        return if short {
            eprintln!("lookups found their peers less often than --min-delivery");
            std::process::ExitCode::FAILURE
        } else {
            std::process::ExitCode::SUCCESS
        };
    }
    let runs: Result<Vec<gossip::Params>, String> = match &cli.scenario {
        Scenario::Gossip(a) => params(a).map(|p| vec![p]),
        Scenario::Scale(a) => params(&a.gossip).map(|p| {
            a.sizes
                .iter()
                .map(|&nodes| gossip::Params { nodes, ..p.clone() })
                .collect()
        }),
        Scenario::Dht(_) => Ok(Vec::new()),
        Scenario::Attack(a) => params(&a.gossip).and_then(|p| {
            if !(0.0..1.0).contains(&a.sybils) {
                return Err("--sybils must be in 0..1".into());
            }
            let behaviour = match a.behaviour {
                BehaviourArg::Drop => gossip::Behaviour::Drop,
                BehaviourArg::Censor => gossip::Behaviour::Censor,
                BehaviourArg::Spam => gossip::Behaviour::Spam,
            };
            // The same network with scoring on, then off.
            Ok([true, false]
                .map(|scoring| gossip::Params {
                    attack: Some(gossip::Attack {
                        share: a.sybils,
                        behaviour,
                        scoring,
                    }),
                    ..p.clone()
                })
                .to_vec())
        }),
    };
    match runs {
        Ok(runs) => {
            let mut lines = Vec::new();
            for p in runs {
                let line = gossip::run(p);
                println!("{line}");
                lines.push(line);
            }
            let short = lines
                .iter()
                .filter(|l| {
                    cli.min_delivery
                        .is_some_and(|min| l["delivery"].as_f64().is_none_or(|d| d < min))
                })
                .count();
            if short > 0 {
                eprintln!("{short} run(s) delivered less than --min-delivery");
                return std::process::ExitCode::FAILURE;
            }
            if let Scenario::Scale(ScaleArgs {
                svg: Some(path), ..
            }) = &cli.scenario
                && let Err(e) = std::fs::write(path, chart(&lines))
            {
                eprintln!("writing {}: {e}", path.display());
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(2)
        }
    }
}
