//! Where an incoming file or directory goes: `dir/name`, else `dir/name (1)`,
//! `dir/name (2)`... so that neither something on disk nor a transfer still running is
//! overwritten.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Highest number tried after a name.
const MAX_NUMBER: u32 = 9999;
/// How long a picked name stays reserved before its transfer shows up in the service.
const HOLD: Duration = Duration::from_secs(60);
/// Most names reserved at once.
const MAX_HELD: usize = 256;

/// Hands out destination paths; a path handed out stays reserved for a while.
#[derive(Default)]
pub struct Destinations {
    held: Mutex<VecDeque<(PathBuf, Instant)>>,
}

impl Destinations {
    /// A free path for `name` in `dir`; `busy` are the destinations of running transfers.
    /// A file's number goes before its extension (`report (1).pdf`).
    pub fn pick(
        &self,
        dir: &Path,
        name: &str,
        is_file: bool,
        busy: &[PathBuf],
    ) -> Result<PathBuf, String> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        held.retain(|(_, at)| now.duration_since(*at) < HOLD);
        for n in 0..=MAX_NUMBER {
            let candidate = dir.join(numbered(name, n, is_file));
            let taken = candidate.symlink_metadata().is_ok()
                || busy.contains(&candidate)
                || held.iter().any(|(p, _)| *p == candidate);
            if !taken {
                if held.len() >= MAX_HELD {
                    held.pop_front();
                }
                held.push_back((candidate.clone(), now));
                return Ok(candidate);
            }
        }
        Err(format!("no free name for {name:?} in {}", dir.display()))
    }

    /// Ends the reservation of `path` (its transfer finished).
    pub fn release(&self, path: &Path) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(p, _)| p != path);
    }
}

/// `name` with ` (n)` added (nothing for 0); for a file before its extension.
pub fn numbered(name: &str, n: u32, is_file: bool) -> String {
    if n == 0 {
        return name.to_string();
    }
    let dot = if is_file {
        name.rfind('.').filter(|&i| i > 0)
    } else {
        None
    };
    match dot {
        Some(i) => format!("{} ({n}){}", &name[..i], &name[i..]),
        None => format!("{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_go_before_a_files_extension() {
        assert_eq!(numbered("a.txt", 0, true), "a.txt");
        assert_eq!(numbered("a.txt", 2, true), "a (2).txt");
        assert_eq!(numbered(".bashrc", 1, true), ".bashrc (1)");
        assert_eq!(numbered("docs.v1", 1, false), "docs.v1 (1)");
    }

    #[test]
    fn taken_and_reserved_names_are_skipped() {
        let dir = std::env::temp_dir().join(format!("rats-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("f.bin"), b"x").expect("write");
        let d = Destinations::default();
        let first = d.pick(&dir, "f.bin", true, &[]).expect("name");
        assert_eq!(first, dir.join("f (1).bin"));
        let second = d.pick(&dir, "f.bin", true, &[]).expect("name");
        assert_eq!(second, dir.join("f (2).bin"));
        d.release(&first);
        let busy = [dir.join("f (1).bin")];
        let third = d.pick(&dir, "f.bin", true, &busy).expect("name");
        assert_eq!(third, dir.join("f (3).bin"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
