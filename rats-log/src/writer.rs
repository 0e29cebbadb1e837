//! The size-rotated log file and the console writer.
//!
//! [`RotatingFile`] is shared (`Arc`) between the fmt layer that writes to it and the
//! [`LogHandle`](crate::LogHandle) that clears or flushes it. Every event is written with one
//! call under one lock, so lines from many threads never interleave, and the rotation check
//! happens before the write: a file reaches at most `rotation_size` bytes, or a single event if
//! that event alone is larger.
//!
//! I/O errors never panic and never reach the caller of `tracing::info!`: the first one is
//! reported on stderr, later ones are silent, and the file keeps being retried (reopened at
//! most once a second while it cannot be opened).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing_subscriber::fmt::MakeWriter;

/// How often a file that could not be opened is tried again.
const REOPEN_INTERVAL: Duration = Duration::from_secs(1);

/// A log file rotated by size: `rats.log` is the live file, `rats.log.1` the newest old one,
/// `rats.log.N` the oldest kept.
#[derive(Debug)]
pub(crate) struct RotatingFile {
    state: Mutex<FileState>,
}

#[derive(Debug)]
struct FileState {
    path: PathBuf,
    file: Option<File>,
    /// Bytes in the live file.
    size: u64,
    /// Rotate before a write that would make the file larger than this; 0 = never.
    rotation_size: u64,
    /// How many rotated files are kept.
    retention: usize,
    /// The first I/O error was already reported on stderr.
    reported: bool,
    /// When opening the file last failed.
    last_open_failure: Option<Instant>,
}

impl RotatingFile {
    /// Opens (appending) or creates `path`, creating its parent directory.
    pub(crate) fn open(path: &Path, rotation_size: u64, retention: usize) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            state: Mutex::new(FileState {
                path: path.to_path_buf(),
                file: Some(file),
                size,
                rotation_size,
                retention,
                reported: false,
                last_open_failure: None,
            }),
        })
    }

    /// The path of the live file.
    pub(crate) fn path(&self) -> PathBuf {
        self.state.lock().path.clone()
    }

    /// Changes the rotation limits; they apply from the next write on.
    pub(crate) fn set_limits(&self, rotation_size: u64, retention: usize) {
        let mut st = self.state.lock();
        st.rotation_size = rotation_size;
        st.retention = retention;
    }

    /// Writes one event, rotating first if it would not fit. Never fails.
    pub(crate) fn write_event(&self, buf: &[u8]) {
        if buf.is_empty() {
            return;
        }
        let mut st = self.state.lock();
        let len = buf.len() as u64;
        if st.rotation_size > 0 && st.size > 0 && st.size.saturating_add(len) > st.rotation_size {
            st.rotate();
        }
        if st.file.is_none() {
            st.reopen();
        }
        let Some(file) = st.file.as_mut() else {
            return;
        };
        match file.write_all(buf) {
            Ok(()) => st.size += len,
            Err(e) => {
                // What reached the file is unknown; count it all so rotation errs early.
                st.size += len;
                st.report("cannot write to", &e);
            }
        }
    }

    /// Empties the live file (rotated files are kept).
    pub(crate) fn clear(&self) -> io::Result<()> {
        let mut st = self.state.lock();
        // Reopen rather than `set_len`: an append-only handle may not truncate (Windows).
        st.file = None;
        File::create(&st.path)?;
        st.size = 0;
        st.file = Some(open_append(&st.path)?);
        Ok(())
    }

    /// Pushes written data to the disk.
    pub(crate) fn flush(&self) -> io::Result<()> {
        let mut st = self.state.lock();
        match st.file.as_mut() {
            Some(f) => {
                f.flush()?;
                f.sync_data()
            }
            None => Ok(()),
        }
    }
}

impl FileState {
    /// `rats.log` → `rats.log.1` → ... → `rats.log.<retention>`; older ones are deleted.
    fn rotate(&mut self) {
        // Close first: an open file cannot be renamed everywhere (Windows).
        self.file = None;
        let result = if self.retention == 0 {
            remove_if_exists(&self.path)
        } else {
            self.shift_rotated()
        };
        if let Err(e) = result {
            self.report("cannot rotate", &e);
            // Keep the size bound all the same: start the live file again.
            if let Err(e) = File::create(&self.path) {
                self.report("cannot truncate", &e);
            }
        }
        self.reopen();
    }

    fn shift_rotated(&self) -> io::Result<()> {
        // The rotated files are `.1 ..= .(top - 1)`; the work is bounded by how many exist,
        // not by `retention`.
        let mut top = 1;
        while rotated_path(&self.path, top).exists() {
            top += 1;
        }
        // Delete the oldest kept file and those beyond it (left by a larger retention).
        for n in self.retention..top {
            remove_if_exists(&rotated_path(&self.path, n))?;
        }
        for n in (1..top.min(self.retention)).rev() {
            fs::rename(rotated_path(&self.path, n), rotated_path(&self.path, n + 1))?;
        }
        match fs::rename(&self.path, rotated_path(&self.path, 1)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Opens the live file again, at most once per [`REOPEN_INTERVAL`] after a failure.
    fn reopen(&mut self) {
        if self
            .last_open_failure
            .is_some_and(|t| t.elapsed() < REOPEN_INTERVAL)
        {
            return;
        }
        let opened = open_append(&self.path).and_then(|f| Ok((f.metadata()?.len(), f)));
        match opened {
            Ok((size, file)) => {
                self.file = Some(file);
                self.size = size;
                self.last_open_failure = None;
            }
            Err(e) => {
                self.last_open_failure = Some(Instant::now());
                self.report("cannot open", &e);
            }
        }
    }

    /// Reports the first I/O error on stderr; later ones are silent.
    fn report(&mut self, what: &str, error: &io::Error) {
        if !self.reported {
            self.reported = true;
            // `eprintln!` would panic if stderr is gone.
            let _ = writeln!(
                io::stderr(),
                "rats-log: {what} log file {}: {error} (further log file errors are not shown)",
                self.path.display()
            );
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// `rats.log` + 3 → `rats.log.3`.
pub(crate) fn rotated_path(path: &Path, n: usize) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// [`MakeWriter`] for the fmt layer over a shared [`RotatingFile`].
#[derive(Clone, Debug)]
pub(crate) struct FileMakeWriter(pub(crate) Arc<RotatingFile>);

impl<'a> MakeWriter<'a> for FileMakeWriter {
    type Writer = FileWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        FileWriter(&self.0)
    }
}

/// One event's writer; each `write` is a whole event (the fmt layer formats into a buffer
/// and writes it with a single `write_all`).
pub(crate) struct FileWriter<'a>(&'a RotatingFile);

impl Write for FileWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_event(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where console output goes: stderr, or (in this crate's tests) a buffer.
#[derive(Clone, Debug)]
pub(crate) enum Console {
    Stderr,
    #[cfg(test)]
    Capture(Arc<Mutex<Vec<u8>>>),
}

impl Console {
    /// Whether colours are on when the configuration leaves it to us.
    pub(crate) fn auto_colors(&self) -> bool {
        use std::io::IsTerminal;
        match self {
            Console::Stderr => {
                io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
            #[cfg(test)]
            Console::Capture(_) => false,
        }
    }
}

impl<'a> MakeWriter<'a> for Console {
    type Writer = ConsoleWriter;

    fn make_writer(&'a self) -> Self::Writer {
        match self {
            Console::Stderr => ConsoleWriter::Stderr(io::stderr()),
            #[cfg(test)]
            Console::Capture(buf) => ConsoleWriter::Capture(Arc::clone(buf)),
        }
    }
}

/// Writer of [`Console`].
pub(crate) enum ConsoleWriter {
    Stderr(io::Stderr),
    #[cfg(test)]
    Capture(Arc<Mutex<Vec<u8>>>),
}

impl Write for ConsoleWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            // A broken stderr must not disturb the program: drop the line.
            ConsoleWriter::Stderr(e) => {
                let _ = e.write_all(buf);
            }
            #[cfg(test)]
            ConsoleWriter::Capture(b) => b.lock().extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ConsoleWriter::Stderr(e) => {
                let _ = e.flush();
            }
            #[cfg(test)]
            ConsoleWriter::Capture(_) => {}
        }
        Ok(())
    }
}
