//! What every network-namespace lab needs: a check that we may build one, a clear failure when
//! we may not, deleting a namespace with whatever still runs in it, and removing the
//! namespaces of labs whose process died. Only the standard library, so the `rats` package's
//! tests include this file too (`#[path]`).

use std::process::{Command, Stdio};

/// Ok when we are root and each `(program, version flag, package)` runs; otherwise why not.
pub fn require_root_and(programs: &[(&str, &str, &str)]) -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse::<u32>().ok());
    if euid != Some(0) {
        return Err("not running as root".into());
    }
    for (program, arg, what) in programs {
        match Command::new(program)
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) if s.success() => {}
            Ok(s) => return Err(format!("`{program} {arg}` failed: {s}")),
            Err(e) => return Err(format!("the `{program}` command ({what}) is missing: {e}")),
        }
    }
    Ok(())
}

/// Fails the test that needs what is missing, saying what. Such tests are
/// `#[ignore = "needs ..."]`: `cargo test` lists them as ignored, and run on purpose
/// (`-- --include-ignored`, as CI does) without what they need they fail instead of passing.
pub fn unavailable(why: &str) -> ! {
    panic!(
        "{why}; this test needs it (it is #[ignore]d by default; the README's test section lists \
         what the ignored tests need)"
    );
}

/// Kills what runs in `ns` (`ip netns pids`, SIGKILL) and deletes it, ignoring errors.
pub fn delete_namespace(ns: &str) {
    if let Ok(out) = Command::new("ip")
        .args(["netns", "pids", ns])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if pid.parse::<u32>().is_ok_and(|p| p != std::process::id()) {
                let _ = Command::new("kill")
                    .args(["-9", pid])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The pid in a lab name `<prefix>-<pid>-...`.
pub fn lab_pid(prefix: &str, name: &str) -> Option<u32> {
    let mut parts = name.split('-');
    if parts.next() != Some(prefix) {
        return None;
    }
    parts.next()?.parse().ok()
}

/// True when `pid` is not this process and no longer runs (gone, or a zombie not yet reaped:
/// a test binary killed with SIGKILL stays one until its parent waits for it).
pub fn is_dead(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "<pid> (<comm>) <state> ...": comm may hold spaces and parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// Deletes namespaces `<prefix>-<pid>-...` whose process is gone (killed by SIGKILL, which
/// skips `Drop`). Never touches those of live processes or of other tools.
pub fn remove_stale_namespaces(prefix: &str) {
    let Ok(out) = Command::new("ip")
        .args(["netns", "list"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    // Deleting a namespace deletes its veth ends, and their peers go with them.
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "<prefix>-<pid>-<n>-<role> (id: 3)"
        if let Some(ns) = line.split_whitespace().next()
            && lab_pid(prefix, ns).is_some_and(is_dead)
        {
            delete_namespace(ns);
        }
    }
}
