//! One `rats` tool process: its command line, its standard input (a bounded queue of command
//! lines), and readers that turn its standard output (JSON lines) and standard error (log
//! lines) into [`Report`]s for the main loop. Every child is on a kill list, so none outlives
//! the soak: killed on exit, on panic (hook), and by the kernel if the soak dies
//! (`PR_SET_PDEATHSIG`).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::events::{NodeEvent, parse_line};

/// Command lines queued for one process before further ones are dropped (and counted).
const STDIN_QUEUE: usize = 512;

/// Pids of running children, for the panic hook and the final sweep.
static KILL_LIST: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn kill_list() -> std::sync::MutexGuard<'static, Vec<u32>> {
    KILL_LIST.lock().unwrap_or_else(|e| e.into_inner())
}

/// SIGKILLs every child still on the kill list.
#[allow(unsafe_code)] // kill(2): the panic hook cannot reach the `Child` handles.
pub fn kill_all_children() {
    for pid in kill_list().drain(..) {
        // SAFETY: kill(2) with a pid we started and have not reaped yet.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

/// Makes a panic anywhere in the soak kill the children first.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        kill_all_children();
        default(info);
    }));
}

/// What a node's readers tell the main loop.
#[derive(Debug)]
pub struct Report {
    /// Index of the node.
    pub node: usize,
    /// Which start of the node (0 = first) the line came from.
    pub life: u32,
    /// What happened.
    pub what: ReportKind,
}

/// The content of a [`Report`].
#[derive(Debug)]
pub enum ReportKind {
    /// A JSON line of standard output.
    Event(NodeEvent),
    /// A line of standard error (the tool's log, panics).
    Log(String),
    /// Standard output closed: the process ended.
    Closed,
}

/// Everything that stays the same across restarts of one node.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub index: usize,
    pub rats: PathBuf,
    pub port: u16,
    pub data_dir: PathBuf,
    pub accept_dir: PathBuf,
    pub share_dir: PathBuf,
    pub log_file: PathBuf,
    /// `log.filter` directives, if any.
    pub log_filter: Option<String>,
}

/// A running process of a node.
pub struct RunningNode {
    child: Child,
    /// Its pid.
    pub pid: u32,
    /// Which start this is.
    pub life: u32,
    stdin: mpsc::Sender<String>,
}

/// The configuration keys given to every node through the environment. All nodes of the
/// soak share 127.0.0.1, which the default per-address limits (sized for peers at different
/// addresses) would treat as one crowded peer; in a real group each node has its own address.
const NODE_ENV: &[(&str, &str)] = &[
    ("RATS_MAX_CONNECTIONS_PER_IP", "1024"),
    ("RATS_MAX_PENDING_PER_IP", "256"),
    ("RATS_MEMORY_PER_IP", "67108864"),
];

impl NodeSpec {
    /// Starts the process (life `life`); its lines go to `reports`.
    #[allow(unsafe_code)] // pre_exec: PR_SET_PDEATHSIG, so no child outlives a killed soak.
    pub fn spawn(&self, life: u32, reports: &mpsc::Sender<Report>) -> std::io::Result<RunningNode> {
        let mut cmd = Command::new(&self.rats);
        cmd.arg("--json")
            .args(["--no-dht", "--no-mdns", "--no-nat"])
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--accept-dir")
            .arg(&self.accept_dir)
            .arg("--share-dir")
            .arg(&self.share_dir)
            .arg("--log-file")
            .arg(&self.log_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C in the terminal reaches the soak only, which
            // then stops the nodes itself (and counts a node that ends on its own as a crash).
            .process_group(0)
            .kill_on_drop(true);
        // Only our own settings reach the nodes, not whatever the soak was started with.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("RATS_") {
                cmd.env_remove(key);
            }
        }
        for (k, v) in NODE_ENV {
            cmd.env(k, v);
        }
        if let Some(f) = &self.log_filter {
            cmd.env("RATS_LOG__FILTER", f);
        }
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0);
        kill_list().push(pid);
        let (stdin_tx, mut stdin_rx) = mpsc::channel::<String>(STDIN_QUEUE);
        if let Some(mut stdin) = child.stdin.take() {
            tokio::spawn(async move {
                while let Some(line) = stdin_rx.recv().await {
                    if stdin.write_all(line.as_bytes()).await.is_err()
                        || stdin.write_all(b"\n").await.is_err()
                    {
                        return;
                    }
                }
            });
        }
        let node = self.index;
        if let Some(stdout) = child.stdout.take() {
            let tx = reports.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let what = ReportKind::Event(parse_line(&line));
                    if tx.send(Report { node, life, what }).await.is_err() {
                        return;
                    }
                }
                let _ = tx
                    .send(Report {
                        node,
                        life,
                        what: ReportKind::Closed,
                    })
                    .await;
            });
        }
        if let Some(stderr) = child.stderr.take() {
            let tx = reports.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let what = ReportKind::Log(line);
                    if tx.send(Report { node, life, what }).await.is_err() {
                        return;
                    }
                }
            });
        }
        Ok(RunningNode {
            child,
            pid,
            life,
            stdin: stdin_tx,
        })
    }
}

impl RunningNode {
    /// Queues one command line; false when the queue is full or the process is gone.
    pub fn command(&self, line: String) -> bool {
        self.stdin.try_send(line).is_ok()
    }

    /// `kill -9` and reap.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        kill_list().retain(|p| *p != self.pid);
    }

    /// Asks the process to quit; kills it if it has not ended within `grace`. Returns its exit
    /// status when it ended by itself.
    pub async fn quit(mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let _ = self.stdin.try_send("quit".into());
        let status = tokio::time::timeout(grace, self.child.wait()).await;
        let status = match status {
            Ok(Ok(s)) => Some(s),
            _ => {
                let _ = self.child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
                None
            }
        };
        kill_list().retain(|p| *p != self.pid);
        status
    }

    /// The exit status if the process has ended (by itself).
    pub fn try_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}
