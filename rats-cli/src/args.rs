//! Command-line arguments.

use std::path::PathBuf;

use clap::Parser;

/// A full peer id (64 hex characters) on the command line.
fn parse_peer_id(s: &str) -> Result<rats::PeerId, String> {
    s.parse()
        .map_err(|e| format!("{e} (a peer id is 64 hex characters, as `id` shows)"))
}

/// rats: peer-to-peer chat and messaging on the rats library.
///
/// Starts a node, prints its peer id and addresses, and reads commands from standard input
/// (type `help`). A line that is not a command is sent to every peer as a chat message.
#[derive(Debug, Parser)]
#[command(name = "rats", version, about)]
pub struct Args {
    /// TCP port to listen on (IPv6 and IPv4); an error if it is taken. Without it: `listen`
    /// in config.json, else 7878, and a free port when that one is taken.
    #[arg(short, long)]
    pub port: Option<u16>,

    /// Peer to connect to at start, as host:port (repeatable).
    #[arg(short, long = "connect", value_name = "HOST:PORT")]
    pub connect: Vec<String>,

    /// Application protocol name: only nodes with the same name and version connect
    /// (default: config.json, else "rats").
    #[arg(long)]
    pub protocol: Option<String>,

    /// Application protocol version (default: config.json, else "1.0").
    #[arg(long)]
    pub protocol_version: Option<String>,

    /// Data directory (identity key, config.json, peers.rats). Default: the platform data
    /// directory for `rats` (e.g. ~/.local/share/rats).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,

    /// Most connected peers (default: config.json, else 128).
    #[arg(long)]
    pub max_peers: Option<usize>,

    /// Print one JSON object per line on stdout for every event (for scripts).
    #[arg(long)]
    pub json: bool,

    /// Do not exchange peer addresses with connected peers.
    #[arg(long)]
    pub no_peer_exchange: bool,

    /// Switch off DHT discovery (the BitTorrent mainline DHT).
    #[arg(long)]
    pub no_dht: bool,

    /// DHT bootstrap node, as host:port (repeatable). When given, these replace the default
    /// public BitTorrent routers (`dht.bootstrap` in config.json).
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap: Vec<String>,

    /// STUN server for the public address and NAT checks, as host:port (repeatable; replaces
    /// the public defaults).
    #[arg(long, value_name = "HOST:PORT")]
    pub stun: Vec<String>,

    /// Be reachable through a TURN relay: turn:USER:PASSWORD@HOST:PORT (also listens on TCP).
    #[arg(long, value_name = "turn:USER:PASS@HOST:PORT")]
    pub turn: Option<String>,

    /// Switch off NAT checks (STUN) and port mapping (PCP, NAT-PMP, UPnP).
    #[arg(long)]
    pub no_nat: bool,

    /// Switch off mDNS discovery on the local network.
    #[arg(long)]
    pub no_mdns: bool,

    /// Log level (error, warn, info, debug, trace). Default: `log.level` in config.json, else warn.
    #[arg(long)]
    pub log_level: Option<String>,

    /// Also write the log to this file (rotated by size).
    #[arg(long)]
    pub log_file: Option<PathBuf>,

    /// Accept every file or directory peers offer into DIR, without asking (created if
    /// missing; an existing name gets " (1)", " (2)"... added). Without it, each offer is
    /// asked about.
    #[arg(long, value_name = "DIR")]
    pub accept_dir: Option<PathBuf>,

    /// Let peers pull files (`get`) from DIR and below; nothing outside it is served.
    #[arg(long, value_name = "DIR")]
    pub share_dir: Option<PathBuf>,

    /// Only this peer (and others given the same way) may offer files or pull them
    /// (repeatable; `transfer.trusted_peers` in config.json). Without it, every connected
    /// peer may.
    #[arg(long, value_name = "PEER_ID", value_parser = parse_peer_id)]
    pub trust: Vec<rats::PeerId>,
}
