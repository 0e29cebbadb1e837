//! rats-soak: a churn soak of the `rats` tool. Starts N `rats` processes on loopback, keeps
//! them chatting (private messages with acknowledgments), publishing on topics and sending files
//! to each other, and every few seconds `kill -9`s one and starts it again on the same data
//! directory and port. Prints a table per minute (memory, descriptors, messages, gossip,
//! transfers, reconnect times, panics) and a summary; exits non-zero when something
//! acknowledged was lost, a file arrived corrupt, a node panicked or crashed, a transfer never
//! finished, or memory or descriptors grew past the bounds.
//!
//! ```sh
//! cargo build --release -p rats-cli
//! cargo run --release -p rats-tests --bin rats-soak -- --secs 120
//! ```

mod chat;
mod churn;
mod events;
mod fleet;
mod gossip;
mod journal;
mod logs;
mod node;
mod reconnect;
mod report;
mod resources;
mod soak;
mod transfers;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use churn::Churn;
use fleet::Fleet;
use node::NodeSpec;
use report::{Bounds, Row};
use soak::Soak;
use workload::{Rates, Workload};

/// Churn soak of the `rats` tool: N processes on loopback, continuous chat, publish/subscribe
/// and file transfers, a random node killed (-9) and restarted every few seconds.
#[derive(Debug, Parser)]
#[command(name = "rats-soak")]
struct Args {
    /// Number of `rats` processes (at most 128).
    #[arg(long, default_value_t = 30)]
    nodes: usize,
    /// Length of the run in seconds, from the moment all nodes are up (then a drain).
    #[arg(long, default_value_t = 120)]
    secs: u64,
    /// Seed of every random choice (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Seconds between two kills.
    #[arg(long, default_value_t = 4.0)]
    kill_every: f64,
    /// Milliseconds a killed node stays down.
    #[arg(long, default_value_t = 1000)]
    down_ms: u64,
    /// Seconds without kills at the start (the nodes save their peers every 30 s: a node
    /// killed before its first save has nobody to reconnect to).
    #[arg(long, default_value_t = 35)]
    warmup: u64,
    /// Most seconds to wait after the run for transfers and acknowledgments to finish.
    #[arg(long, default_value_t = 60)]
    drain: u64,
    /// Mean seconds between two chat messages of one node.
    #[arg(long, default_value_t = 1.0)]
    chat_every: f64,
    /// Mean seconds between two publications of one node.
    #[arg(long, default_value_t = 5.0)]
    pub_every: f64,
    /// File transfers running at once.
    #[arg(long, default_value_t = 2)]
    transfers: usize,
    /// Mean seconds between two transfers starting.
    #[arg(long, default_value_t = 1.0)]
    transfer_every: f64,
    /// Largest file in MiB (files are 1 MiB to this).
    #[arg(long, default_value_t = 20)]
    max_file_mib: u64,
    /// A transfer still open this many seconds after it began, with both its nodes up for all
    /// of them, fails the run.
    #[arg(long, default_value_t = 90)]
    transfer_deadline: u64,
    /// Seconds after which a chat message is settled (acknowledged, or counted lost).
    #[arg(long, default_value_t = 30)]
    settle: u64,
    /// Bound: largest RSS of any node (MiB; ~40 seen with 30 nodes).
    #[arg(long, default_value_t = 128.0)]
    max_rss_mib: f64,
    /// Bound: RSS growth of a node life (MiB/min, fitted from 45 s after its start over at
    /// least 90 s).
    #[arg(long, default_value_t = 5.0)]
    max_rss_slope: f64,
    /// Bound: open descriptors of any node (default: 2 per node of the group + 64; a node
    /// holds one per peer and ~15 of its own).
    #[arg(long)]
    max_fds: Option<f64>,
    /// Bound: descriptor growth of a node life (per min; one leaked per reconnect would be
    /// ~15/min at the default kill rate).
    #[arg(long, default_value_t = 5.0)]
    max_fd_slope: f64,
    /// The `rats` binary (default: next to this program, else target/release/rats).
    #[arg(long)]
    rats: Option<PathBuf>,
    /// Folder for the nodes' data (default: a new one in the system temp folder; removed
    /// after a passing run unless --keep).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Extra log directives for the nodes (`log.filter`, e.g. `rats_transfer=debug`): their
    /// --log-file then shows more (standard error still counts panics and errors).
    #[arg(long)]
    node_log_filter: Option<String>,
    /// Keep the folder after a passing run too.
    #[arg(long)]
    keep: bool,
}

fn find_rats(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return p
            .is_file()
            .then(|| p.to_path_buf())
            .ok_or_else(|| format!("--rats {}: no such file", p.display()));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("rats")));
    let in_target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/rats");
    beside
        .into_iter()
        .chain([in_target])
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "no rats binary next to rats-soak or in target/release: build it with \
             `cargo build --release -p rats-cli`, or give --rats PATH"
                .into()
        })
}

/// `n` ports free on all interfaces now, below the ephemeral range (so no outgoing
/// connection takes a killed node's port while it is down).
fn free_ports(n: usize, rng: &mut impl Rng) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    let mut tries = 0;
    while ports.len() < n {
        tries += 1;
        if tries > 20 * n + 100 {
            return Err("cannot find free ports in 20000..32000".into());
        }
        let p: u16 = rng.gen_range(20000..32000);
        if ports.contains(&p) {
            continue;
        }
        let v6 = std::net::TcpListener::bind(("::", p)).is_ok();
        let v4 = std::net::TcpListener::bind(("0.0.0.0", p)).is_ok();
        if v6 && v4 {
            ports.push(p);
        }
    }
    Ok(ports)
}

fn make_specs(
    rats: &Path,
    root: &Path,
    ports: &[u16],
    log_filter: &Option<String>,
) -> std::io::Result<Vec<NodeSpec>> {
    let mut specs = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let dir = root.join(format!("node-{i:02}"));
        let spec = NodeSpec {
            index: i,
            rats: rats.to_path_buf(),
            port: *port,
            data_dir: dir.join("data"),
            accept_dir: dir.join("inbox"),
            share_dir: dir.join("share"),
            log_file: dir.join("rats.log"),
            log_filter: log_filter.clone(),
        };
        for d in [&spec.data_dir, &spec.accept_dir, &spec.share_dir] {
            std::fs::create_dir_all(d)?;
        }
        specs.push(spec);
    }
    Ok(specs)
}

#[tokio::main]
async fn main() -> ExitCode {
    node::install_panic_hook();
    let args = Args::parse();
    let code = match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rats-soak: {e}");
            ExitCode::from(2)
        }
    };
    node::kill_all_children();
    code
}

/// Resolves at `at`; never without one.
async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Resolves on SIGTERM.
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Waiting for every node's `started`.
    Launch,
    /// Workload and kills.
    Run,
    /// No new work or kills; waiting for what is open to finish.
    Drain(Instant),
}

async fn run(args: &Args) -> Result<bool, String> {
    if args.nodes < 2 || args.nodes > 128 {
        return Err("--nodes must be 2..=128".into());
    }
    let rats = find_rats(args.rats.as_deref())?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
    let root = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("rats-soak-{}", std::process::id())),
    };
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let ports = free_ports(args.nodes, &mut rng)?;
    let specs =
        make_specs(&rats, &root, &ports, &args.node_log_filter).map_err(|e| e.to_string())?;
    println!(
        "rats-soak: {} nodes ({}), seed {seed}, {} s (the first {} s without kills), then a \
         drain of at most {} s, a kill every {} s (down {} ms), chat every {} s and \
         a publication every {} s per node, {} transfers of 1..{} MiB at once; data in {}",
        args.nodes,
        rats.display(),
        args.secs,
        args.warmup,
        args.drain,
        args.kill_every,
        args.down_ms,
        args.chat_every,
        args.pub_every,
        args.transfers,
        args.max_file_mib,
        root.display()
    );
    let bounds = Bounds {
        max_rss_mib: args.max_rss_mib,
        max_rss_slope: args.max_rss_slope,
        max_fds: args.max_fds.unwrap_or(2.0 * args.nodes as f64 + 64.0),
        max_fd_slope: args.max_fd_slope,
    };

    let (report_tx, mut reports) = mpsc::channel(8192);
    let (hash_tx, mut hashed) = mpsc::channel(64);
    let (file_tx, mut written) = mpsc::channel(64);
    let start = Instant::now();
    let rates = Rates {
        chat_every: args.chat_every,
        pub_every: args.pub_every,
        transfers: args.transfers,
        transfer_every: args.transfer_every,
        max_file_mib: args.max_file_mib,
    };
    let work = Workload::new(seed, rates, args.nodes, start);
    let mut soak = Soak::new(
        journal::Journal::create(&root.join("soak.log"), start),
        Fleet::new(specs),
        work,
        Duration::from_secs(args.settle),
        Duration::from_millis(args.down_ms),
        soak::ToLoop {
            reports: report_tx,
            hashed: hash_tx,
            written: file_tx,
        },
    );
    for n in 0..args.nodes {
        soak.spawn(n, start);
    }

    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let term = terminated();
    tokio::pin!(term);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut phase = Phase::Launch;
    let mut t0 = start;
    let mut next_sample = start;
    let mut next_row = start;
    let mut rows: Vec<Row> = Vec::new();
    let mut interrupted = false;
    let kill_every = Duration::from_secs_f64(args.kill_every.max(0.1));
    loop {
        tokio::select! {
            biased;
            _ = &mut ctrl_c => { interrupted = true; break }
            _ = &mut term => { interrupted = true; break }
            Some(r) = reports.recv() => soak.handle(r, Instant::now()).await,
            Some(h) = hashed.recv() => soak.hashed(h),
            Some(w) = written.recv() => soak.written(w),
            _ = sleep_until_opt(soak.churn.as_ref().and_then(Churn::aimed_at)) => {
                soak.churn(Instant::now()).await
            }
            _ = tick.tick() => {
                let now = Instant::now();
                match phase {
                    Phase::Launch => {
                        if soak.fleet.up_count() == args.nodes {
                            connect_group(&mut soak, &ports, &mut rng);
                            t0 = now;
                            let first_kill = now + Duration::from_secs(args.warmup);
                            soak.churn = Some(Churn::new(kill_every, first_kill));
                            next_sample = now;
                            next_row = now + Duration::from_secs(60);
                            phase = Phase::Run;
                            println!("all {} nodes up after {:.1} s", args.nodes, (now - start).as_secs_f64());
                            println!("{}", report::header());
                        } else if now - start > Duration::from_secs(60) {
                            return Err(format!(
                                "only {} of {} nodes started within 60 s: {:?}",
                                soak.fleet.up_count(), args.nodes, soak.problems
                            ));
                        }
                        continue;
                    }
                    Phase::Run => {
                        for a in soak.work.due(now, &soak.fleet, soak.transfers.open()) {
                            soak.act(a, now);
                        }
                        soak.churn(now).await;
                        soak.restart_due(now, false);
                        if now - t0 >= Duration::from_secs(args.secs) {
                            soak.churn = None;
                            phase = Phase::Drain(now);
                        }
                    }
                    Phase::Drain(since) => {
                        soak.restart_due(now, true);
                        let quiet = soak.transfers.open() == 0 && soak.chat.open() == 0;
                        let waited = now - since;
                        if (quiet && waited >= Duration::from_secs(5))
                            || waited >= Duration::from_secs(args.drain)
                        {
                            break;
                        }
                    }
                }
                if now >= next_sample {
                    next_sample = now + Duration::from_secs(5);
                    soak.sample(now);
                }
                soak.settle(now, false);
                if now >= next_row {
                    next_row += Duration::from_secs(60);
                    let row = Row::now(&soak, (now - t0).as_secs_f64());
                    println!("{}", row.text());
                    rows.push(row);
                }
            }
        }
    }
    let end = Instant::now();
    let stuck = soak.transfers.stuck(
        end,
        Duration::from_secs(args.transfer_deadline),
        |n, a, b| soak.fleet.nodes[n].lives.alive_throughout(a, b),
    );
    soak.settle(end, true);
    soak.resources.finish();
    let last = Row::now(&soak, (end - t0).as_secs_f64());
    rows.push(last);

    // Stop the nodes the polite way; a panic while stopping still shows in their logs.
    let mut quits = Vec::new();
    for node in &mut soak.fleet.nodes {
        if let Some(p) = node.proc.take() {
            quits.push(p.quit(Duration::from_secs(10)));
        }
    }
    let statuses = futures::future::join_all(quits).await;
    let unclean = statuses
        .iter()
        .filter(|s| !s.is_some_and(|s| s.success()))
        .count();
    let drain_until = Instant::now() + Duration::from_secs(2);
    while let Ok(Some(r)) = tokio::time::timeout_at(drain_until.into(), reports.recv()).await {
        if let node::ReportKind::Log(line) = &r.what {
            soak.logs.line(r.node, line);
        }
    }

    println!();
    println!("per minute:");
    println!("{}", report::header());
    for r in &rows {
        println!("{}", r.text());
    }
    println!("{}", report::LEGEND);
    println!();
    soak.journal.flush();
    let (text, mut failures) = report::summary(&soak, &bounds, &stuck);
    print!("{text}");
    if unclean > 0 {
        failures.push(format!(
            "{unclean} node(s) did not quit cleanly (exit status not 0 within 10 s)"
        ));
    }
    if interrupted {
        failures.push("interrupted (Ctrl-C or SIGTERM)".into());
    }
    let passed = failures.is_empty();
    if passed {
        println!("PASSED (seed {seed})");
        if !args.keep && args.dir.is_none() {
            let _ = std::fs::remove_dir_all(&root);
        }
    } else {
        println!("FAILED (seed {seed}; data kept in {}):", root.display());
        for f in &failures {
            println!("  - {f}");
        }
    }
    Ok(passed)
}

/// Each node dials three others at random; peer exchange does the rest.
fn connect_group(soak: &mut Soak, ports: &[u16], rng: &mut impl Rng) {
    let n = ports.len();
    for i in 0..n {
        let mut picked = Vec::new();
        while picked.len() < 3.min(n - 1) {
            let j = rng.gen_range(0..n);
            if j != i && !picked.contains(&j) {
                picked.push(j);
            }
        }
        for j in picked {
            soak.fleet.nodes[i].command(format!("connect 127.0.0.1:{}", ports[j]));
        }
    }
}
