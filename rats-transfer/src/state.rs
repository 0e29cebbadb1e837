//! Resume state on disk: one folder per transfer in the temporary directory, holding
//! `state.json` and, on the receiving side, one `.part` file per unfinished file and the
//! chunk log. `state.json` is written to a temporary file, then renamed, so a crash leaves the
//! old or the new state (neither it nor the data is fsynced, so a power loss can lose more).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rats_core::PeerId;
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::id::TransferId;
use crate::manifest::Manifest;

const STATE_FILE: &str = "state.json";
/// Largest state file read back (a manifest of many files).
const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// Which side a saved transfer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SavedRole {
    Sender,
    Receiver,
}

/// What survives a restart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SavedTransfer {
    pub id: TransferId,
    pub peer: PeerId,
    pub role: SavedRole,
    pub manifest: Manifest,
    /// Receiver: the destination (file, or directory root). Sender: the source given.
    pub local_path: PathBuf,
    /// Sender: the source of each file.
    #[serde(default)]
    pub sources: Vec<PathBuf>,
    /// Receiver: files verified and in place.
    #[serde(default)]
    pub files_done: Vec<bool>,
    /// Receiver: verified chunks from the start of each file.
    #[serde(default)]
    pub prefixes: Vec<u64>,
    /// Whether this side had paused the transfer.
    #[serde(default)]
    pub paused: bool,
    /// Seconds since the Unix epoch of the last save.
    pub saved_at: u64,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The folder of one transfer.
pub(crate) fn transfer_dir(temp: &Path, id: TransferId) -> PathBuf {
    temp.join(id.to_hex())
}

/// The partial data of file `file`.
pub(crate) fn part_path(temp: &Path, id: TransferId, file: usize) -> PathBuf {
    transfer_dir(temp, id).join(format!("{file}.part"))
}

/// The log of chunks written since the last save: (file u32, chunk u64) big-endian records,
/// appended after each chunk is verified and written, emptied after each save. With it a
/// restarted receiver knows exactly what reached the disk, not only what the last save said.
pub(crate) fn chunk_log_path(temp: &Path, id: TransferId) -> PathBuf {
    transfer_dir(temp, id).join("chunks.log")
}

/// Size of one chunk log record.
pub(crate) const CHUNK_LOG_RECORD: usize = 12;

/// Reads the chunk log (missing or torn records are ignored).
pub(crate) fn read_chunk_log(temp: &Path, id: TransferId, max_records: u64) -> Vec<(u32, u64)> {
    let path = chunk_log_path(temp, id);
    let len = std::fs::metadata(&path).map_or(0, |m| m.len());
    if len / CHUNK_LOG_RECORD as u64 > max_records {
        return Vec::new();
    }
    let Ok(bytes) = std::fs::read(&path) else {
        return Vec::new();
    };
    bytes
        .chunks_exact(CHUNK_LOG_RECORD)
        .map(|r| {
            let mut f = [0u8; 4];
            f.copy_from_slice(&r[..4]);
            let mut c = [0u8; 8];
            c.copy_from_slice(&r[4..]);
            (u32::from_be_bytes(f), u64::from_be_bytes(c))
        })
        .collect()
}

/// Saves atomically.
pub(crate) fn save(temp: &Path, state: &SavedTransfer) -> std::io::Result<()> {
    let dir = transfer_dir(temp, state.id);
    std::fs::create_dir_all(&dir)?;
    let bytes = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    let tmp = dir.join("state.json.tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        // On disk before it replaces the old state: a power loss leaves one or the other.
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(STATE_FILE))
}

/// Removes a transfer's folder and everything in it.
pub(crate) fn remove(temp: &Path, id: TransferId) {
    let dir = transfer_dir(temp, id);
    if let Err(e) = std::fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        warn!(dir = %dir.display(), error = %e, "could not remove transfer data");
    }
}

/// Loads every saved transfer; removes the unreadable ones and those older than `ttl_secs`.
pub(crate) fn load_all(temp: &Path, ttl_secs: u64) -> Vec<SavedTransfer> {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return Vec::new();
    };
    let now = now_secs();
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(id) = entry.file_name().to_str().and_then(TransferId::from_hex) else {
            continue;
        };
        match read(&entry.path().join(STATE_FILE)) {
            Some(s) if s.id == id && now.saturating_sub(s.saved_at) <= ttl_secs => out.push(s),
            _ => {
                debug!(transfer = %id.short(), "removing stale or unreadable transfer data");
                remove(temp, id);
            }
        }
    }
    out
}

fn read(path: &Path) -> Option<SavedTransfer> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_STATE_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}
