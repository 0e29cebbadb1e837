//! The transfer commands: `send-file`, `send-dir`, `get`, `transfers`, `pause`, `resume`,
//! `cancel`, `accept` / `y`, `reject` / `n`.

use std::path::Path;
use std::sync::Arc;

use rats::RatsClient;
use rats::rats_transfer::TransferId;
use rats::rats_transfer::path::RelPath;

use super::Ui;
use super::parse::{find_transfer, local_path, split_args};
use super::prompts::Answer;
use crate::commands::find_peer;

/// Sent to the peer when `reject` / `n` gives no reason.
const DEFAULT_REASON: &str = "declined";

/// Runs transfer command `word` with arguments `rest`.
pub async fn run(ui: &Arc<Ui>, client: &RatsClient, word: &str, rest: &str) {
    let result = match word {
        "send-file" => send(ui, client, word, rest, false),
        "send-dir" => send(ui, client, word, rest, true),
        "get" => get(ui, client, rest),
        "transfers" => {
            ui.out.transfers(&ui.service.transfers());
            Ok(())
        }
        "pause" | "resume" | "cancel" => control(ui, word, rest),
        "accept" | "y" => answer(ui, rest, true),
        "reject" | "n" => answer(ui, rest, false),
        _ => Err(format!("unknown command {word:?}")),
    };
    if let Err(e) = result {
        ui.out.error(word, &e);
    }
}

/// `send-file <peer> <path>` and `send-dir <peer> <dir>`.
fn send(
    ui: &Arc<Ui>,
    client: &RatsClient,
    word: &str,
    rest: &str,
    dir: bool,
) -> Result<(), String> {
    let usage = if dir {
        "send-dir <peer> <dir>"
    } else {
        "send-file <peer> <path>"
    };
    let [peer, path] = split_args(rest)?
        .try_into()
        .map_err(|_| format!("usage: {usage}"))?;
    let peer = find_peer(client, &peer)?;
    let path = local_path(&path);
    let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    match (dir, meta.is_dir()) {
        (false, true) => return Err(format!("{} is a directory; use send-dir", path.display())),
        (true, false) => return Err(format!("{} is not a directory", path.display())),
        _ => {}
    }
    // Hashing a big file takes a while: do not hold up the input loop.
    let (ui, word) = (ui.clone(), word.to_string());
    tokio::spawn(async move {
        let started = if dir {
            ui.service.send_directory(&peer, &path, None, true).await
        } else {
            ui.service.send_file(&peer, &path, None).await
        };
        report(&ui, &word, started.map_err(|e| e.to_string()));
    });
    Ok(())
}

/// Prints the new transfer, or why there is none.
fn report(ui: &Ui, word: &str, started: Result<TransferId, String>) {
    match started {
        Ok(id) => {
            if let Some(info) = ui.service.transfer(id) {
                ui.out.transfer_created(&info);
            }
        }
        Err(e) => ui.out.error(word, &e),
    }
}

/// `get <peer> <remote> [local]`: a trailing `/` on `remote` asks for a directory.
fn get(ui: &Arc<Ui>, client: &RatsClient, rest: &str) -> Result<(), String> {
    let mut args = split_args(rest)?.into_iter();
    let (Some(peer), Some(typed), local, None) =
        (args.next(), args.next(), args.next(), args.next())
    else {
        return Err("usage: get <peer> <remote> [local]".into());
    };
    let peer = find_peer(client, &peer)?;
    let directory = typed.ends_with('/');
    let remote = typed.trim_end_matches('/').to_string();
    let name = remote.rsplit('/').next().unwrap_or(&remote);
    let name = RelPath::single(name)
        .map_err(|e| format!("{typed:?} is not a path a peer can serve: {e}"))?;
    let local = match local.map(|l| local_path(&l)) {
        // Like cp: into an existing directory, under the remote name.
        Some(l) if l.is_dir() => ui.free_path(&l, name.as_str(), !directory)?,
        Some(l) => l,
        None => {
            let cwd = std::env::current_dir()
                .map_err(|e| format!("cannot tell the current directory: {e}"))?;
            ui.free_path(&cwd, name.as_str(), !directory)?
        }
    };
    let ui = ui.clone();
    tokio::spawn(async move {
        let started = if directory {
            ui.service.request_directory(&peer, &remote, &local).await
        } else {
            ui.service.request_file(&peer, &remote, &local).await
        };
        report(&ui, "get", started.map_err(|e| with_path(e, &local)));
    });
    Ok(())
}

fn with_path(e: impl std::fmt::Display, local: &Path) -> String {
    format!("{e} (saving to {})", local.display())
}

/// `pause`, `resume` or `cancel <id>`.
fn control(ui: &Ui, word: &str, rest: &str) -> Result<(), String> {
    let [id] = split_args(rest)?
        .try_into()
        .map_err(|_| format!("usage: {word} <id>"))?;
    let list = ui.service.transfers();
    let info = find_transfer(&list, &id)?;
    if info.state.is_finished() {
        return Err(format!(
            "transfer {} is already {}",
            info.id.short(),
            info.state
        ));
    }
    let done = match word {
        "pause" => ui.service.pause(info.id),
        "resume" => ui.service.resume(info.id),
        _ => ui.service.cancel(info.id),
    };
    done.map_err(|e| e.to_string())
}

/// `accept [id]` / `y`, `reject [id] [reason]` / `n [reason]`.
fn answer(ui: &Ui, rest: &str, accept: bool) -> Result<(), String> {
    let (first, after) = rest
        .split_once(char::is_whitespace)
        .map(|(a, b)| (a, b.trim()))
        .unwrap_or((rest, ""));
    let is_hex = !first.is_empty() && first.chars().all(|c| c.is_ascii_hexdigit());
    if accept {
        if !after.is_empty() {
            return Err("usage: accept [id]".into());
        }
        if !first.is_empty() && !is_hex {
            return Err(format!("{first:?} is not an offer id"));
        }
        let id = (!first.is_empty()).then_some(first);
        return ui.prompts.answer(id, Answer::Accept).map(|_| ());
    }
    // The first word is an id when it picks an offer; else it starts the reason.
    let (id, reason) = if is_hex && ui.prompts.matches(first) {
        (Some(first), after)
    } else {
        (None, rest)
    };
    let reason = if reason.is_empty() {
        DEFAULT_REASON
    } else {
        reason
    };
    ui.prompts
        .answer(id, Answer::Reject(reason.to_string()))
        .map(|_| ())
}
