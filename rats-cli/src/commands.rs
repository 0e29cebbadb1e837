//! The commands typed on standard input.

use std::path::{Path, PathBuf};
#[cfg(any(feature = "transfer", feature = "gossipsub"))]
use std::sync::Arc;

use rats::{PeerId, RatsClient};

use crate::output::Output;

/// What the input loop should do next.
pub enum Flow {
    Continue,
    Quit,
}

/// What commands work with.
pub struct Session {
    /// The running node.
    pub client: RatsClient,
    /// Where answers go.
    pub out: Output,
    /// The file-transfer UI (`None` when the service is switched off).
    #[cfg(feature = "transfer")]
    pub transfers: Option<Arc<crate::transfer::Ui>>,
    /// The publish/subscribe UI (`None` when the service is switched off).
    #[cfg(feature = "gossipsub")]
    pub topics: Option<Arc<crate::topics::Ui>>,
}

impl Session {
    /// A session on `client`; with file transfer, offers are accepted into `accept_dir`
    /// without asking (else asked about), and `share_dir` is announced as shared.
    pub fn new(
        client: RatsClient,
        out: Output,
        accept_dir: Option<PathBuf>,
        share_dir: Option<&Path>,
    ) -> Self {
        #[cfg(not(feature = "transfer"))]
        let _ = (accept_dir, share_dir);
        Session {
            #[cfg(feature = "transfer")]
            transfers: crate::transfer::Ui::install(&client, out, accept_dir, share_dir),
            #[cfg(feature = "gossipsub")]
            topics: crate::topics::Ui::install(&client, out),
            client,
            out,
        }
    }
}

/// The file-transfer commands.
const TRANSFER_WORDS: &[&str] = &[
    "send-file",
    "send-dir",
    "get",
    "transfers",
    "pause",
    "resume",
    "cancel",
    "accept",
    "reject",
    "y",
    "n",
];

/// The publish/subscribe commands.
const TOPIC_WORDS: &[&str] = &["sub", "unsub", "pub", "topics"];

/// The DHT commands.
const DHT_WORDS: &[&str] = &["dht", "find", "announce"];

/// Finds a connected peer by full id or unique id prefix.
pub fn find_peer(client: &RatsClient, text: &str) -> Result<PeerId, String> {
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() {
        return Err("missing peer id".into());
    }
    let matches: Vec<PeerId> = client
        .peers()
        .iter()
        .map(|p| p.peer_id)
        .filter(|id| id.to_hex().starts_with(&text))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("no connected peer matches {text:?}")),
        _ => Err(format!(
            "{text:?} matches several peers; type more of the id"
        )),
    }
}

/// Runs one input line.
pub async fn run_line(session: &Session, line: &str) -> Flow {
    let (client, out) = (&session.client, session.out);
    let line = line.trim();
    if line.is_empty() {
        return Flow::Continue;
    }
    let stripped = line.strip_prefix('/').unwrap_or(line);
    let (word, rest) = stripped
        .split_once(char::is_whitespace)
        .map(|(w, r)| (w, r.trim()))
        .unwrap_or((stripped, ""));
    let listen = || {
        client
            .listen_addrs()
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    match word {
        "help" | "?" => out.help(),
        "quit" | "exit" => return Flow::Quit,
        "id" | "info" => out.id(client.local_peer_id(), &listen()),
        "peers" => out.peers(&client.peers()),
        "connect" => {
            if rest.is_empty() {
                out.error("connect", "usage: connect <host:port>");
                return Flow::Continue;
            }
            // Connecting can take seconds: do not hold up the input loop.
            let (client, target) = (client.clone(), rest.to_string());
            tokio::spawn(async move {
                if let Err(e) = client.connect(&target).await {
                    out.error("connect", &format!("{target}: {e}"));
                }
            });
        }
        "disconnect" => match find_peer(client, rest) {
            Ok(p) => {
                client.disconnect(&p);
            }
            Err(e) => out.error("disconnect", &e),
        },
        "send" => {
            let (who, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if text.trim().is_empty() {
                out.error("send", "usage: send <peer> <text>");
                return Flow::Continue;
            }
            match find_peer(client, who) {
                Ok(p) => match client
                    .send_to(
                        &p,
                        crate::output::PRIVATE_TYPE,
                        &serde_json::json!({"text": text.trim()}),
                    )
                    .await
                {
                    Ok(()) => out.sent(Some(p), 1),
                    Err(e) => out.error("send", &e.to_string()),
                },
                Err(e) => out.error("send", &e),
            }
        }
        "broadcast" => broadcast(client, out, rest),
        w if TRANSFER_WORDS.contains(&w) => transfer_command(session, w, rest).await,
        w if TOPIC_WORDS.contains(&w) => topic_command(session, w, rest),
        w if DHT_WORDS.contains(&w) => dht_command(session, w, rest).await,
        "mdns" => mdns_command(session, rest).await,
        "nat" => nat_command(session, rest).await,
        _ => broadcast(client, out, line),
    }
    Flow::Continue
}

fn broadcast(client: &RatsClient, out: Output, text: &str) {
    if text.is_empty() {
        out.error("broadcast", "usage: broadcast <text>");
        return;
    }
    match client.broadcast_string(text) {
        Ok(n) => out.sent(None, n),
        Err(e) => out.error("broadcast", &e.to_string()),
    }
}

#[cfg(feature = "transfer")]
async fn transfer_command(session: &Session, word: &str, rest: &str) {
    match &session.transfers {
        Some(ui) => crate::transfer::commands::run(ui, &session.client, word, rest).await,
        None => session.out.error(
            word,
            "file transfer is switched off (see `disabled_plugins` in config.json)",
        ),
    }
}

#[cfg(not(feature = "transfer"))]
async fn transfer_command(session: &Session, word: &str, _rest: &str) {
    session
        .out
        .error(word, "this rats was built without file transfer");
}

#[cfg(feature = "gossipsub")]
fn topic_command(session: &Session, word: &str, rest: &str) {
    match &session.topics {
        Some(ui) => crate::topics::commands::run(ui, word, rest),
        None => session.out.error(
            word,
            "publish/subscribe is switched off (see `disabled_plugins` in config.json)",
        ),
    }
}

#[cfg(not(feature = "gossipsub"))]
fn topic_command(session: &Session, word: &str, _rest: &str) {
    session
        .out
        .error(word, "this rats was built without publish/subscribe");
}

#[cfg(feature = "dht")]
async fn dht_command(session: &Session, word: &str, rest: &str) {
    crate::dht::commands::run(&session.client, session.out, word, rest).await
}

#[cfg(feature = "nat")]
async fn nat_command(session: &Session, rest: &str) {
    crate::nat::run(&session.client, session.out, rest).await
}

#[cfg(not(feature = "nat"))]
async fn nat_command(session: &Session, _rest: &str) {
    session
        .out
        .error("nat", "this rats was built without NAT support");
}

#[cfg(feature = "mdns")]
async fn mdns_command(session: &Session, rest: &str) {
    crate::mdns::run(&session.client, session.out, rest).await
}

#[cfg(not(feature = "mdns"))]
async fn mdns_command(session: &Session, _rest: &str) {
    session
        .out
        .error("mdns", "this rats was built without mDNS");
}

#[cfg(not(feature = "dht"))]
async fn dht_command(session: &Session, word: &str, _rest: &str) {
    session
        .out
        .error(word, "this rats was built without the DHT");
}
