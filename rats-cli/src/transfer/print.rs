//! What the tool prints about transfers: human lines, or one JSON object per line with
//! `--json`. Names and reasons come from peers and are printed with control characters
//! escaped.

use std::path::Path;
use std::time::Duration;

use indicatif::HumanBytes;
use rats::rats_transfer::{
    Direction, IncomingOffer, Kind, Progress, TransferId, TransferInfo, TransferState,
};
use serde_json::{Value, json};

use crate::output::{Output, clean, line, say};

/// A size for people: `12.30 MiB`.
pub fn size_text(bytes: u64) -> String {
    HumanBytes(bytes).to_string()
}

/// A rate for people: `1.50 MiB/s`.
pub fn rate_text(bytes_per_sec: f64) -> String {
    // Rates are finite and non-negative; anything else shows as 0.
    let r = if bytes_per_sec.is_finite() && bytes_per_sec > 0.0 {
        bytes_per_sec as u64
    } else {
        0
    };
    format!("{}/s", HumanBytes(r))
}

/// A time left: `4:05` or `1:02:03`.
pub fn eta_text(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// How far, in percent.
pub fn percent(p: &Progress, state: &TransferState) -> f64 {
    if p.total_bytes == 0 {
        return if *state == TransferState::Completed {
            100.0
        } else {
            0.0
        };
    }
    (p.bytes_done as f64 * 100.0 / p.total_bytes as f64).min(100.0)
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Outgoing => "out",
        Direction::Incoming => "in",
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::File => "file",
        Kind::Directory => "directory",
    }
}

/// A state's name for JSON, and the error of a failed transfer.
fn state_parts(s: &TransferState) -> (&'static str, Option<String>) {
    match s {
        TransferState::Pending => ("pending", None),
        TransferState::Active => ("active", None),
        TransferState::Paused { by_peer: false } => ("paused", None),
        TransferState::Paused { by_peer: true } => ("paused_by_peer", None),
        TransferState::WaitingForPeer => ("waiting_for_peer", None),
        TransferState::Completed => ("completed", None),
        TransferState::Failed(e) => ("failed", Some(e.to_string())),
        TransferState::Cancelled => ("cancelled", None),
    }
}

/// The rate worth showing: current while running, average once finished.
fn shown_rate(i: &TransferInfo) -> f64 {
    if i.state.is_finished() {
        i.progress.average_rate
    } else {
        i.progress.current_rate
    }
}

fn info_json(event: &str, i: &TransferInfo) -> Value {
    let (state, error) = state_parts(&i.state);
    json!({
        "event": event, "id": i.id, "short_id": i.id.short(), "peer": i.peer,
        "direction": direction_name(i.direction), "kind": kind_name(i.kind), "name": i.name,
        "path": i.local_path.display().to_string(), "files": i.files, "total_bytes": i.total_bytes,
        "bytes_done": i.progress.bytes_done, "state": state, "error": error,
        "percent": (percent(&i.progress, &i.state) * 10.0).round() / 10.0,
        "rate": shown_rate(i).round(),
    })
}

/// Longest name shown in the list, in characters.
const LIST_NAME_CHARS: usize = 32;

/// A peer-supplied name, cleaned and cut to `max` characters.
pub fn short_name(name: &str, max: usize) -> String {
    let name = clean(name);
    if name.chars().count() <= max {
        return name;
    }
    let mut cut: String = name.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `transfer 1a2b3c4d report.pdf`.
fn title(i: &TransferInfo) -> String {
    format!("transfer {} {}", i.id.short(), clean(&i.name))
}

fn offer_what(o: &IncomingOffer) -> String {
    match o.kind {
        Kind::File => {
            let sha = o
                .files
                .first()
                .map(|f| {
                    format!(
                        ", sha256 {}…",
                        clean(&f.sha256.chars().take(12).collect::<String>())
                    )
                })
                .unwrap_or_default();
            format!(
                "file '{}' ({}{sha})",
                clean(&o.name),
                size_text(o.total_bytes)
            )
        }
        Kind::Directory => format!(
            "directory '{}' ({} file{}, {})",
            clean(&o.name),
            o.files.len(),
            if o.files.len() == 1 { "" } else { "s" },
            size_text(o.total_bytes)
        ),
    }
}

fn offer_json(o: &IncomingOffer, prompt: bool, dest: Option<&Path>) -> Value {
    let sha256 = match o.kind {
        Kind::File => o.files.first().map(|f| f.sha256.clone()),
        Kind::Directory => None,
    };
    json!({
        "event": "transfer_offer", "id": o.id, "short_id": o.id.short(), "peer": o.peer,
        "kind": kind_name(o.kind), "name": o.name, "files": o.files.len(),
        "total_bytes": o.total_bytes, "sha256": sha256, "prompt": prompt,
        "destination": dest.map(|d| d.display().to_string()),
    })
}

impl Output {
    /// An offer that waits for `y` / `n`.
    pub fn offer_prompt(&self, o: &IncomingOffer, timeout: Duration) {
        if self.json {
            line(offer_json(o, true, None));
        } else {
            let id = o.id.short();
            say!(
                "? peer {} offers {} — accept with `y` / `accept {id}`, refuse with `n` / \
                 `reject {id}` (within {:.0} s)",
                o.peer.short(),
                offer_what(o),
                timeout.as_secs_f64()
            );
        }
    }

    /// An offer accepted by `--accept-dir`.
    pub fn offer_accepted(&self, o: &IncomingOffer, dest: &Path) {
        if self.json {
            line(offer_json(o, false, Some(dest)));
        } else {
            say!(
                "* peer {} offers {}: accepted into {} (transfer {})",
                o.peer.short(),
                offer_what(o),
                clean(&dest.display().to_string()),
                o.id.short()
            );
        }
    }

    /// A peer's offer or pull refused before it became a transfer (limits, `--trust`, the
    /// share), with what the peer was told.
    pub fn refused(&self, r: &super::refusals::Shown) {
        let what = if r.pull { "pull" } else { "offer" };
        if self.json {
            line(json!({
                "event": "transfer_refused", "id": r.id, "peer": r.peer, "pull": r.pull,
                "reason": r.reason, "not_shown_before": r.suppressed,
            }));
            return;
        }
        let more = match r.suppressed {
            0 => String::new(),
            n => format!(" ({n} more refused, not shown)"),
        };
        say!(
            "* refused a {what} from {}: {}{more}",
            r.peer.short(),
            clean(&r.reason)
        );
    }

    /// An offer refused without asking, or no longer waiting.
    pub fn offer_closed(&self, id: TransferId, reason: &str) {
        if self.json {
            line(json!({"event": "transfer_offer_closed", "id": id, "reason": reason}));
        } else {
            say!("* offer {}: {}", id.short(), clean(reason));
        }
    }

    /// The user answered an offer; `dest` is where an accepted one goes.
    pub fn offer_answered(&self, id: TransferId, dest: Option<&Path>) {
        if self.json {
            line(json!({
                "event": "transfer_answered", "id": id, "accepted": dest.is_some(),
                "destination": dest.map(|d| d.display().to_string()),
            }));
            return;
        }
        match dest {
            Some(d) => say!(
                "* offer {}: accepted, saving as {}",
                id.short(),
                clean(&d.display().to_string())
            ),
            None => say!("* offer {}: rejected", id.short()),
        }
    }

    /// `send-file`, `send-dir` or `get` got going.
    pub fn transfer_created(&self, i: &TransferInfo) {
        if self.json {
            line(info_json("transfer_created", i));
            return;
        }
        match i.direction {
            Direction::Outgoing => say!(
                "* {}: offered to {} ({}); waiting for them to accept",
                title(i),
                i.peer.short(),
                size_text(i.total_bytes)
            ),
            Direction::Incoming => say!(
                "* {}: asked {} for it, to be saved as {}",
                title(i),
                i.peer.short(),
                clean(&i.local_path.display().to_string())
            ),
        }
    }

    /// Data started to move.
    pub fn transfer_started(&self, i: &TransferInfo) {
        if self.json {
            line(info_json("transfer_started", i));
            return;
        }
        let how = match i.direction {
            Direction::Outgoing => format!("sending to {}", i.peer.short()),
            Direction::Incoming => format!("receiving from {}", i.peer.short()),
        };
        say!(
            "{}: started ({how}, {})",
            title(i),
            size_text(i.total_bytes)
        );
    }

    /// Paused or resumed.
    pub fn transfer_paused(&self, id: TransferId, paused: bool, by_peer: bool, why: Option<&str>) {
        if self.json {
            let event = if paused {
                "transfer_paused"
            } else {
                "transfer_resumed"
            };
            line(json!({"event": event, "id": id, "by_peer": by_peer, "reason": why}));
            return;
        }
        let what = match (paused, by_peer) {
            (false, _) => "resumed".to_string(),
            (true, false) => "paused".to_string(),
            (true, true) => "paused by peer".to_string(),
        };
        let why = why.map(|w| format!(": {}", clean(w))).unwrap_or_default();
        say!("* transfer {} {what}{why}", id.short());
    }

    /// Completed, failed or cancelled.
    pub fn transfer_finished(&self, i: &TransferInfo) {
        if self.json {
            line(info_json("transfer_finished", i));
            return;
        }
        let saved = match (&i.state, i.direction) {
            (TransferState::Completed, Direction::Incoming) => {
                format!(" → {}", clean(&i.local_path.display().to_string()))
            }
            _ => String::new(),
        };
        say!("{}: {}{saved}", title(i), clean(&i.state.to_string()));
    }

    /// The answer to `transfers`.
    pub fn transfers(&self, list: &[TransferInfo]) {
        if self.json {
            let items: Vec<Value> = list.iter().map(|i| info_json("transfer", i)).collect();
            line(json!({"event": "transfers", "count": list.len(), "transfers": items}));
            return;
        }
        say!("{} transfer(s)", list.len());
        let names: Vec<String> = list
            .iter()
            .map(|i| short_name(&i.name, LIST_NAME_CHARS))
            .collect();
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        for (i, name) in list.iter().zip(names) {
            let (state, error) = state_parts(&i.state);
            let rate = match &i.state {
                TransferState::Active | TransferState::Completed => rate_text(shown_rate(i)),
                _ => "-".to_string(),
            };
            let error = error
                .map(|e| format!("  ({})", clean(&e)))
                .unwrap_or_default();
            say!(
                "  {}  {:<3} {}  {name:<width$}  {state:<16} {:5.1}%  {rate}{error}",
                i.id.short(),
                direction_name(i.direction),
                i.peer.short(),
                percent(&i.progress, &i.state)
            );
        }
    }
}
