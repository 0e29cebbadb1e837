//! `transfer-state` and `transfer-drain` modes: two nodes in this process (data directories
//! `<dir>/a`, the sender, and `<dir>/b`, the receiver; transfer state in each one's
//! `transfers/`, or in `<temp>/a` and `<temp>/b` when a temporary directory is given) push the tree `<dir>/src` (made on the first run) from a to b, again and
//! again, into `<dir>/inbox/<transfer id>/`. The receiver saves its state when a transfer
//! begins, after each file and every 100 ms; both sides on pauses and disconnects.
//!
//! At start, before anything else, it prints one line per side:
//! `restored <side> <listed> of <on disk>`: the transfers the service restored from the
//! state it found (the library's own loader), and the transfer folders that held both
//! `state.json` and `manifest.json`. A killed run's transfers continue in the next one.
//!
//! Each completed transfer's files are compared with the sources and removed; a mismatch
//! prints `MISMATCH <path>` on stderr and exits with status 3. A failed transfer prints
//! `failed <id>: <why>` on stderr.
//!
//! `transfer-drain` starts no new transfer: it waits (at most 60 s) until every restored
//! transfer has finished, prints `finished <side> <id> <state>` for each, leaves the received
//! files in place and exits with status 0.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::{Rng, RngCore};
use rats::RatsClient;
use rats_core::Event;
use rats_transfer::{AcceptDecision, TransferEvent, TransferId, TransferState};

/// Files in the tree sent.
const FILES: usize = 24;
/// Longest a drain or a transfer may take.
const DEADLINE: Duration = Duration::from_secs(60);

pub fn run(dir: &Path, temp: Option<PathBuf>, drain: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| super::fail(&format!("runtime: {e}")));
    runtime.block_on(stress(dir, temp, drain));
}

async fn stress(dir: &Path, temp: Option<PathBuf>, drain: bool) {
    let src = dir.join("src");
    let inbox = dir.join("inbox");
    make_tree(&src);
    let (a_dir, b_dir) = (dir.join("a"), dir.join("b"));
    // Each side's transfer folder: in its data directory, or under `temp`.
    let temp_of = |side: &str, data_dir: &Path| {
        temp.as_ref()
            .map_or_else(|| data_dir.join("transfers"), |t| t.join(side))
    };
    let (a_temp, b_temp) = (temp_of("a", &a_dir), temp_of("b", &b_dir));
    let on_disk = (saved_transfers(&a_temp), saved_transfers(&b_temp));
    let a = start(&a_dir, &a_temp).await;
    let b = start(&b_dir, &b_temp).await;
    let (ta, tb) = match (a.transfers(), b.transfers()) {
        (Some(ta), Some(tb)) => (ta, tb),
        _ => super::fail("no transfer service"),
    };
    let restored_a: HashSet<TransferId> = ta.transfers().iter().map(|i| i.id).collect();
    let restored_b: HashSet<TransferId> = tb.transfers().iter().map(|i| i.id).collect();
    println!("restored a {} of {}", restored_a.len(), on_disk.0);
    println!("restored b {} of {}", restored_b.len(), on_disk.1);
    let into = inbox.clone();
    tb.set_accept_callback(move |offer| {
        let dest = into.join(offer.id.to_hex());
        async move { AcceptDecision::Accept(dest) }
    });
    let events = (a.events(), b.events());
    let b_id = match a.connect(&b.listen_addrs()[0].to_string()).await {
        Ok(id) => id,
        Err(e) => super::fail(&format!("connect: {e}")),
    };
    if drain {
        drain_restored(events, restored_a, restored_b).await;
        // Compare what arrived (the test reads the files too).
        check_inbox(&src, &inbox, false);
        a.shutdown().await;
        b.shutdown().await;
        std::process::exit(0);
    }
    tokio::spawn(check_completed(events.1, src.clone(), inbox.clone()));
    super::started();
    loop {
        let id = match ta.send_directory(&b_id, &src, None, true).await {
            Ok(id) => id,
            Err(e) => super::fail(&format!("send: {e}")),
        };
        match ta.wait(id, DEADLINE).await {
            Ok(info) if info.state == TransferState::Completed => {}
            Ok(info) => eprintln!("failed {}: {}", id.to_hex(), info.state),
            Err(e) => super::fail(&format!("wait: {e}")),
        }
    }
}

/// Starts a node on `data_dir` (its identity kept there) with its transfer state in `temp`.
async fn start(data_dir: &Path, temp: &Path) -> RatsClient {
    let started = rats_tests::local_builder()
        .data_dir(data_dir)
        .configure(|c| {
            c.plugins.insert(
                "transfer".into(),
                serde_json::json!({
                    "chunk_size": 4096,
                    "window": 8,
                    "save_interval_ms": 100,
                    "free_space_margin": 0,
                    "progress_interval_ms": 1000,
                    "temp_dir": temp,
                }),
            );
            c.plugins.insert(
                "persist".into(),
                serde_json::json!({"reconnect_on_start": false}),
            );
        })
        .start()
        .await;
    started.unwrap_or_else(|e| super::fail(&format!("start {}: {e}", data_dir.display())))
}

/// The transfer folders under `temp` that hold both state files.
fn saved_transfers(temp: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let p = e.path();
            p.join("state.json").is_file() && p.join("manifest.json").is_file()
        })
        .count()
}

/// Makes the tree sent (files of varied sizes in a few folders), once.
fn make_tree(src: &Path) {
    if src.is_dir() {
        return;
    }
    let tmp = src.with_extension("making");
    let _ = std::fs::remove_dir_all(&tmp);
    let mut rng = rand::thread_rng();
    for i in 0..FILES {
        let path = tmp.join(format!("d{}", i % 3)).join(format!("f{i:02}.bin"));
        let mut data = vec![0u8; rng.gen_range(1..200 * 1024)];
        rng.fill_bytes(&mut data);
        let made = std::fs::create_dir_all(path.parent().unwrap_or(&tmp))
            .and_then(|()| std::fs::write(&path, &data));
        if let Err(e) = made {
            super::fail(&format!("{}: {e}", path.display()));
        }
    }
    if let Err(e) = std::fs::rename(&tmp, src) {
        super::fail(&format!("{}: {e}", src.display()));
    }
}

/// Compares every received file under `inbox/<id>/` with its source; exits with status 3 on
/// a difference. Removes the transfers' folders when `remove`.
fn check_inbox(src: &Path, inbox: &Path, remove: bool) {
    let Ok(entries) = std::fs::read_dir(inbox) else {
        return;
    };
    for e in entries.flatten() {
        check_received(src, &e.path());
        if remove {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Compares the files of one received tree with the sources.
fn check_received(src: &Path, root: &Path) {
    for rel in files_under(root) {
        let (got, want) = (
            std::fs::read(root.join(&rel)),
            std::fs::read(src.join(&rel)),
        );
        if !matches!((&got, &want), (Ok(g), Ok(w)) if g == w) {
            eprintln!("MISMATCH {}", root.join(&rel).display());
            std::process::exit(3);
        }
    }
}

/// The files (not folders) under `root`, relative to it.
fn files_under(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// The receiver's finished transfers: completed ones are checked and removed, failed ones
/// said.
async fn check_completed(mut events: rats_core::EventStream, src: PathBuf, inbox: PathBuf) {
    while let Some(e) = events.recv().await {
        let Some(TransferEvent::Finished(info)) = transfer_event(e.ok()) else {
            continue;
        };
        if info.state == TransferState::Completed {
            let root = inbox.join(info.id.to_hex());
            check_received(&src, &root);
            let _ = std::fs::remove_dir_all(root);
        } else {
            eprintln!("failed {}: {}", info.id.to_hex(), info.state);
        }
    }
}

/// Waits until each restored transfer has finished on its side and prints how.
async fn drain_restored(
    (mut ea, mut eb): (rats_core::EventStream, rats_core::EventStream),
    mut a: HashSet<TransferId>,
    mut b: HashSet<TransferId>,
) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !a.is_empty() || !b.is_empty() {
        let next = tokio::select! {
            e = ea.recv() => ("a", e),
            e = eb.recv() => ("b", e),
            _ = tokio::time::sleep_until(deadline) => {
                super::fail(&format!("restored transfers still running: a {a:?}, b {b:?}"))
            }
        };
        let (side, Some(e)) = next else {
            super::fail("event bus closed");
        };
        let Some(TransferEvent::Finished(info)) = transfer_event(e.ok()) else {
            continue;
        };
        let set = if side == "a" { &mut a } else { &mut b };
        if set.remove(&info.id) {
            println!("finished {side} {} {}", info.id.to_hex(), info.state);
        }
    }
}

fn transfer_event(e: Option<Event>) -> Option<TransferEvent> {
    match e? {
        Event::Service { service, event } if service == rats_transfer::SERVICE_NAME => {
            event.downcast_ref::<TransferEvent>().cloned()
        }
        _ => None,
    }
}
