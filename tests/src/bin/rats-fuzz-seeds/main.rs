//! `rats-fuzz-seeds`: writes seed corpora for the fuzz targets in `fuzz/` from real traffic:
//! plaintext rats connections recorded through a TCP proxy (three clients: messages, peer
//! exchange, gossip, transfers, goodbyes) and the files their data directories keep; KRPC
//! between libtorrent and a rats DHT node through a UDP relay; STUN and TURN with coturn; ICE
//! offers gathered on loopback. Everything stays on 127.0.0.0/8.
//!
//! Needs python3 with the `libtorrent` module and coturn's `turnserver`; fails naming the one
//! that is missing. Run from the workspace root:
//!
//! ```text
//! cargo run -p rats-tests --bin rats-fuzz-seeds            # writes fuzz/seeds/<target>/...
//! cargo run -p rats-tests --bin rats-fuzz-seeds -- --out DIR
//! ```

mod coturn_traffic;
mod data_dir_seeds;
mod dht_traffic;
mod nat_signals;
mod rats_traffic;
mod recorded_seeds;
mod replay;
mod seeds;
mod split;
mod tcp_recorder;
mod transfer_files;
mod udp_relay;

use std::path::{Path, PathBuf};

use clap::Parser;
use rats_core::__wire::Control;

use seeds::Seeds;

/// Any failure; the message says what was being done.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(about = "Writes fuzz seed corpora from real traffic on loopback")]
struct Args {
    /// Output directory (one folder per fuzz target below it) [default: fuzz/seeds of this
    /// workspace].
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args).await {
        eprintln!("rats-fuzz-seeds: {e}");
        std::process::exit(1);
    }
}

async fn run(args: &Args) -> Result<(), Error> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace.join("fuzz").join("seeds"));
    // Each target's folder is emptied first: never point this at a fuzzer's live corpus.
    if out.ends_with("corpus") || out.ends_with("artifacts") {
        return Err(format!(
            "{} looks like a fuzzer's own folder; refusing",
            out.display()
        )
        .into());
    }
    // The foreign tools first: fail before anything is written.
    dht_traffic::require_libtorrent().await?;
    coturn_traffic::require_turnserver()?;
    let work = rats_tests::TempDir::new("rats-fuzz-seeds");
    std::fs::create_dir_all(&out)?;
    let mut seeds = Seeds::create(&out)?;

    eprintln!("rats traffic (three plaintext clients through a recording proxy)...");
    rats_traffic::capture(&mut seeds, work.path()).await?;
    synthetic_control(&mut seeds)?;
    eprintln!("transfer state (a paused transfer's temporary folders)...");
    transfer_files::paused_state(&mut seeds, work.path()).await?;
    transfer_files::hostile_paths(&mut seeds)?;
    eprintln!("DHT (libtorrent <-> rats through a recording relay)...");
    dht_traffic::capture(&mut seeds, work.path()).await?;
    eprintln!("STUN/TURN (coturn on 127.0.0.1)...");
    let coturn = coturn_traffic::start_coturn(work.path()).await?;
    coturn_traffic::capture(&mut seeds, &coturn).await?;
    eprintln!("ICE offers and hole-punch signals...");
    nat_signals::ice_offers(&mut seeds, coturn.addr).await?;
    drop(coturn);
    nat_signals::holepunch(&mut seeds)?;

    let mut total = 0;
    for (target, n) in seeds.counts() {
        println!("{target:20} {n:4}");
        total += n;
    }
    println!("{:20} {total:4} seeds in {}", "total", out.display());
    let failed = replay::replay_all(&out)?;
    if !failed.is_empty() {
        return Err(format!(
            "{} seed(s) already fail their fuzz target (a bug to fix, see the panics above): {}",
            failed.len(),
            failed.join(", ")
        )
        .into());
    }
    println!("every seed replayed through its fuzz entry point without a failure");
    Ok(())
}

/// Control messages the recorded traffic has no reason to carry (NAT strategies send them
/// through a peer both sides know; those plugins are off on loopback): encoded by rats' own
/// encoder.
fn synthetic_control(seeds: &mut Seeds) -> Result<(), Error> {
    let peer = rats_core::Identity::from_secret([7; 32]).peer_id();
    let forward = Control::Forward {
        to: peer,
        name: "holepunch".into(),
        payload: br#"{"t":"sync","id":4242}"#.to_vec(),
    };
    let signal = Control::Signal {
        from: peer,
        name: "ice".into(),
        payload: br#"{"ufrag":"abcd","pwd":"0123456789012345678901","candidates":[]}"#.to_vec(),
    };
    seeds.add("control", "encoded-forward", &forward.encode())?;
    seeds.add("control", "encoded-signal", &signal.encode())?;
    Ok(())
}
