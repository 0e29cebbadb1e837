//! The `rats` tool: a terminal chat on the rats library. `rats --help` lists the options;
//! type `help` once it runs. Works with standard input piped (scripts) and `--json` output.

mod args;
mod commands;
#[cfg(feature = "dht")]
mod dht;
mod error;
mod folders;
#[cfg(feature = "mdns")]
mod mdns;
#[cfg(feature = "nat")]
mod nat;
mod output;
#[cfg(feature = "gossipsub")]
mod topics;
#[cfg(feature = "transfer")]
mod transfer;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use rats::core::node::NodeError;
use rats::core::transport::TransportError;
use rats::{DataDirError, DataDirLock, RatsClient, RatsError};

use error::CliError;
use tokio::io::AsyncBufReadExt;

use args::Args;
use commands::{Flow, Session, run_line};
use folders::{accept_dir, set_section_key, shared_root};
use output::Output;

/// Other instances on one machine get `<data dir>/instance-N`, up to this many.
const MAX_INSTANCES: usize = 32;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rats: {e}");
            ExitCode::FAILURE
        }
    }
}

fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("rats")
}

/// Locks the data directory. Only the default one falls back to a per-instance directory
/// below it when another process holds it; a directory the user named is theirs to choose, so
/// that is an error naming the holder.
fn lock_data_dir(
    base: &Path,
    explicit: bool,
    out: Option<Output>,
) -> Result<DataDirLock, CliError> {
    match DataDirLock::acquire(base) {
        Ok(lock) => return Ok(lock),
        Err(e @ DataDirError::InUse { .. }) if explicit => return Err(e.into()),
        Err(DataDirError::InUse { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    for n in 2..=MAX_INSTANCES {
        let dir = base.join(format!("instance-{n}"));
        match DataDirLock::acquire(&dir) {
            Ok(lock) => {
                out.inspect(|o| {
                    o.notice(&format!(
                    "data directory {} is in use by another rats; using {} with its own identity",
                    base.display(),
                    dir.display()
                ))
                });
                return Ok(lock);
            }
            Err(DataDirError::InUse { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DataDirError::InUse {
        path: base.to_path_buf(),
        holder: None,
    }
    .into())
}

fn port_in_use(e: &CliError) -> bool {
    matches!(
        e,
        CliError::Rats(RatsError::Node(NodeError::Listen { error: TransportError::Io { source, .. }, .. }))
            if source.kind() == ErrorKind::AddrInUse
    )
}

/// Starts the client; `out` is given when notices should be printed (not on a retry), `port`
/// when a port must be used whatever the configuration says.
async fn start(
    args: &Args,
    out: Option<Output>,
    port: Option<u16>,
) -> Result<RatsClient, CliError> {
    let base = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let lock = lock_data_dir(&base, args.data_dir.is_some(), out)?;
    let mut builder = RatsClient::builder()
        .default_port(rats::DEFAULT_PORT)
        .data_dir_lock(lock);
    if let Some(name) = &args.protocol {
        builder = builder.configure(|c| c.protocol_name = name.clone());
    }
    if let Some(version) = &args.protocol_version {
        builder = builder.configure(|c| c.protocol_version = version.clone());
    }
    #[cfg(feature = "log")]
    {
        builder = builder.logging(rats::rats_log::LogConfig {
            level: rats::rats_log::LogLevel::Warn,
            ..Default::default()
        });
        if let Some(level) = &args.log_level {
            builder = builder.log_setting("level", level.as_str().into());
        }
        if let Some(file) = &args.log_file {
            builder = builder.log_setting("file", file.display().to_string().into());
        }
    }
    if let Some(spec) = &args.turn {
        if !cfg!(feature = "nat") {
            return Err(CliError::Usage(
                "--turn: this rats was built without NAT support".into(),
            ));
        }
        let (user, pass, server) = turn_spec(spec)?;
        let section = serde_json::json!({"server": server, "username": user, "password": pass});
        builder = builder
            .configure(|c| {
                c.plugins.insert("turn".into(), section);
            })
            .port(port.unwrap_or(rats::DEFAULT_PORT))
            .listen(format!("turn:{server}"))?;
    }
    if let (Some(p), None) = (port, &args.turn) {
        builder = builder.port(p);
    }
    if let Some(n) = args.max_peers {
        builder = builder.max_peers(n);
    }
    if args.no_peer_exchange {
        builder = builder.peer_exchange(false);
    }
    if args.no_dht {
        builder = builder.disable_plugin("dht");
    }
    if args.no_mdns {
        builder = builder.disable_plugin("mdns");
    }
    if args.no_nat {
        builder = builder
            .disable_plugin("stun")
            .disable_plugin("portmap")
            .disable_plugin("holepunch");
    }
    if !args.stun.is_empty() {
        let servers = serde_json::Value::from(args.stun.clone());
        builder =
            builder.configure(|c| set_section_key(&mut c.plugins, "stun", "servers", servers));
    }
    if !args.bootstrap.is_empty() {
        let nodes = bootstrap_list(&args.bootstrap)?;
        builder = builder.configure(|c| set_section_key(&mut c.plugins, "dht", "bootstrap", nodes));
    }
    if let Some(dir) = &args.share_dir {
        let root = shared_root(dir)?;
        builder =
            builder.configure(|c| set_section_key(&mut c.plugins, "transfer", "shared_root", root));
    }
    if !args.trust.is_empty() {
        let ids = serde_json::json!(args.trust);
        builder = builder
            .configure(|c| set_section_key(&mut c.plugins, "transfer", "trusted_peers", ids));
    }
    Ok(builder.start().await?)
}

/// The `--bootstrap` nodes as the `dht.bootstrap` configuration value.
#[cfg(feature = "dht")]
fn bootstrap_list(nodes: &[String]) -> Result<serde_json::Value, CliError> {
    dht::bootstrap_list(nodes)
}

/// Without the DHT, `--bootstrap` is an error.
#[cfg(not(feature = "dht"))]
fn bootstrap_list(_nodes: &[String]) -> Result<serde_json::Value, CliError> {
    Err(CliError::Usage(
        "--bootstrap: this rats was built without the DHT".into(),
    ))
}

/// `turn:USER:PASS@HOST:PORT` (the `turn:` is optional) as (user, password, host:port).
fn turn_spec(spec: &str) -> Result<(String, String, String), CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--turn {spec:?}: expected turn:USER:PASSWORD@HOST:PORT"
        ))
    };
    let rest = spec.strip_prefix("turn:").unwrap_or(spec);
    let (creds, server) = rest.rsplit_once('@').ok_or_else(bad)?;
    let (user, pass) = creds.split_once(':').ok_or_else(bad)?;
    let valid_server = server
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p != 0));
    if user.is_empty() || !valid_server {
        return Err(bad());
    }
    Ok((user.to_string(), pass.to_string(), server.to_string()))
}

/// Resolves on SIGTERM (Unix); never elsewhere.
async fn terminate_signal() {
    #[cfg(unix)]
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
        return;
    }
    std::future::pending::<()>().await
}

async fn run(args: Args) -> Result<(), CliError> {
    let out = Output { json: args.json };
    let accept_dir = accept_dir(&args)?;
    let client = match start(&args, Some(out), args.port).await {
        Err(e) if args.port.is_none() && port_in_use(&e) => {
            out.notice("the configured port is taken; listening on a free port instead");
            start(&args, None, Some(0)).await?
        }
        other => other?,
    };
    // A person already saw them as log lines (warn level); scripts get them as notices.
    if args.json {
        for w in client.config_warnings() {
            out.notice(&w);
        }
    }
    #[cfg(feature = "persist")]
    if let Some(store) = client.peer_store() {
        let n = store.last_reconnect_count();
        if n > 0 {
            out.notice(&format!(
                "reconnecting to {n} peer(s) from the last session"
            ));
        }
    }
    let mut events = client.events();
    let listen: Vec<String> = client
        .listen_addrs()
        .iter()
        .map(|a| a.to_string())
        .collect();
    let data_dir = client.data_dir().map(|d| d.display().to_string());
    let config = client.node().config();
    #[cfg(feature = "dht")]
    let discovery_hash = Some(client.discovery_hash());
    #[cfg(not(feature = "dht"))]
    let discovery_hash: Option<String> = None;
    out.started(
        client.local_peer_id(),
        &listen,
        data_dir.as_deref(),
        &format!("{}/{}", config.protocol_name, config.protocol_version),
        discovery_hash.as_deref(),
    );
    let session = Session::new(client.clone(), out, accept_dir, args.share_dir.as_deref());
    #[cfg(feature = "transfer")]
    let ui = session.transfers.clone();
    #[cfg(feature = "gossipsub")]
    let topics = session.topics.clone();
    let printer = tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            match e {
                Ok(e) => {
                    #[cfg(feature = "transfer")]
                    if ui.as_ref().is_some_and(|ui| ui.on_event(&e)) {
                        continue;
                    }
                    #[cfg(feature = "gossipsub")]
                    if topics.as_ref().is_some_and(|t| t.on_event(&e)) {
                        continue;
                    }
                    out.event(&e)
                }
                Err(lag) => {
                    out.notice(&lag.to_string());
                    #[cfg(feature = "transfer")]
                    if let Some(ui) = &ui {
                        ui.catch_up();
                    }
                }
            }
        }
    });
    for target in &args.connect {
        let (client, target) = (client.clone(), target.clone());
        tokio::spawn(async move {
            if let Err(e) = client.connect(&target).await {
                out.error("connect", &format!("{target}: {e}"));
            }
        });
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let terminate = terminate_signal();
    tokio::pin!(terminate);
    loop {
        let line = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = &mut terminate => break,
            l = lines.next_line() => l,
        };
        match line {
            Ok(Some(line)) => {
                if let Flow::Quit = run_line(&session, &line).await {
                    break;
                }
            }
            // End of input (or unreadable input) ends the session, like a shell.
            Ok(None) | Err(_) => break,
        }
    }
    client.shutdown().await;
    printer.abort();
    if args.json {
        output::line(serde_json::json!({"event": "stopped"}));
    }
    Ok(())
}
