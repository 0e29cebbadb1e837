//! Disk faults (issue 19, section 3): a full disk under a transfer and under the data
//! directory, and `kill -9` at random moments while rats writes its files (`config.json`,
//! the peer files, the identity key, transfer state). Each test prints one line
//! `FAULT <name>: <what rats did>, recovered in <s> s, data lost: <what>` for the README's
//! reliability table.
//!
//! The kill tests run the `rats-persist-stress` program (one mode per kind of file; for
//! transfer state, two nodes in one process pushing a tree again and again, once with the
//! state on the same file system as the downloads and once on another, `/dev/shm`), kill it
//! 100 times at random moments and check the files with the library's own loaders.
//!
//! The full-disk tests mount a small tmpfs (root): `#[ignore]`d by default, run with
//! `--include-ignored`. What `transfer.rs` already covers is not repeated here: its
//! `a_full_disk_pauses_the_transfer_and_keeps_what_arrived` resumes in the same process; the
//! test here checks the files on disk at the error and resumes after a restart of the
//! receiver, whose last save hit the full disk too.

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rand::{Rng, RngCore};
use rats::RatsClient;
use rats_core::{Event, Identity};
use rats_persist::{
    CONFIG_FILE, KnownPeer, PEERS_EVER_FILE, PEERS_FILE, PeersEverFile, PeersFile, load_config,
    parse_peer_file, write_atomic,
};
use rats_tests::{SmallDisk, TempDir, addr_of, local_builder, next_matching, wait_until};
use rats_transfer::{AcceptDecision, TransferEvent, TransferService, TransferState};
use sha2::{Digest, Sha256};
use tokio::io::AsyncBufReadExt;

/// Kills per kind of file.
const KILLS: usize = 100;
const STRESS: &str = env!("CARGO_BIN_EXE_rats-persist-stress");
/// `rats::data_dir::IDENTITY_FILE` (not exported).
const IDENTITY_FILE: &str = "identity.key";
const WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// kill -9 during writes
// ---------------------------------------------------------------------------------------

/// A private copy of the stress writer, checked to know `mode`. A copy, because a build
/// from another checkout that shares the target directory can replace the file while a
/// test runs (it happened here); checked, to say so clearly rather than fail oddly.
fn stress_writer(mode: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new("rats-fault-writer");
    let copy = dir.path().join("rats-persist-stress");
    std::fs::copy(STRESS, &copy).expect("copy the writer");
    // A child that another test forked while the copy was open for writing holds it open
    // until it execs: the copy is "busy" for that moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let usage = loop {
        match std::process::Command::new(&copy).output() {
            Err(e) if e.raw_os_error() == Some(26) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            run => break run.expect("run the writer"),
        }
    };
    let usage = String::from_utf8_lossy(&usage.stderr);
    assert!(
        usage.contains(mode),
        "{STRESS} does not know mode {mode} ({usage}): a build of an older version, from \
         another checkout sharing the target directory? Build it again."
    );
    (dir, copy)
}

/// Runs the stress writer `exe` in `mode` on `dirs` (its directory, and for the transfer
/// modes optionally the transfer state's) until it says `writing`, lets it write for a random
/// 1..=`max_ms` ms and kills it with SIGKILL. Returns what it printed before `writing`, and
/// how long it took to get there (its start, with the loading it does).
async fn run_and_kill(
    exe: &Path,
    mode: &str,
    dirs: &[&Path],
    max_ms: u64,
) -> (Vec<String>, Duration) {
    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .arg(mode)
        .args(dirs)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the writer");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut before = Vec::new();
    let started = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line == "writing" {
                return true;
            }
            before.push(line);
        }
        false
    })
    .await;
    if !matches!(started, Ok(true)) {
        let _ = child.start_kill();
        let out = child.wait_with_output().await.expect("wait");
        panic!(
            "{mode} writer did not start ({started:?}, {:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ready = spawned.elapsed();
    // The moment of the kill is what varies; nothing waits on it.
    let writing_for = rand::thread_rng().gen_range(1..=max_ms);
    tokio::time::sleep(Duration::from_millis(writing_for)).await;
    child.start_kill().expect("kill -9");
    let out = child.wait_with_output().await.expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(9),
        "the {mode} writer ended by itself ({:?}): {stderr}",
        out.status
    );
    assert!(!stderr.contains("MISMATCH"), "{stderr}");
    (before, ready)
}

/// Temporary files a killed writer left, told apart by path, size and time: evidence that
/// a kill landed in the middle of a write.
#[derive(Default)]
struct MidWrite(HashSet<(PathBuf, u64, Option<SystemTime>)>);

impl MidWrite {
    /// Notes the files under `dir` (recursively) whose name `is_temp` picks; how many are new.
    fn note(&mut self, dir: &Path, is_temp: &dyn Fn(&str) -> bool) -> usize {
        let mut new = 0;
        for path in files_under(dir) {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if !name.is_some_and(|n| is_temp(&n)) {
                continue;
            }
            let meta = std::fs::metadata(&path).ok();
            let key = (
                path,
                meta.as_ref().map_or(0, |m| m.len()),
                meta.and_then(|m| m.modified().ok()),
            );
            if self.0.insert(key) {
                new += 1;
            }
        }
        new
    }
}

/// Every file (not folder) under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn names_containing(dir: &Path, part: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(part))
                .collect()
        })
        .unwrap_or_default()
}

fn persist_section(c: &mut rats_core::NodeConfig) {
    c.plugins.insert(
        "persist".into(),
        serde_json::json!({"reconnect_on_start": false}),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_peer_file_writes_leaves_valid_files() {
    let (_bin, writer) = stress_writer("peers");
    let dir = TempDir::new("rats-fault-kill9-peers");
    let mut mid_write = MidWrite::default();
    let (mut interrupted, mut slowest_check) = (0, Duration::ZERO);
    for round in 0..KILLS {
        run_and_kill(&writer, "peers", &[dir.path()], 40).await;
        interrupted += mid_write.note(dir.path(), &|n| n.starts_with(".peers"));
        let checked = Instant::now();
        let peers = std::fs::read(dir.path().join(PEERS_FILE)).expect("peers.rats exists");
        parse_peer_file::<PeersFile>(&peers)
            .unwrap_or_else(|e| panic!("kill {round}: peers.rats unreadable: {e}"));
        let ever = std::fs::read(dir.path().join(PEERS_EVER_FILE)).expect("peers_ever exists");
        parse_peer_file::<PeersEverFile>(&ever)
            .unwrap_or_else(|e| panic!("kill {round}: peers_ever.rats unreadable: {e}"));
        slowest_check = slowest_check.max(checked.elapsed());
    }
    // The library's own loader: a node on the directory reads both files, keeps nothing
    // aside and clears the temporary files left behind.
    let started = Instant::now();
    let node = local_builder()
        .data_dir(dir.path())
        .configure(persist_section)
        .start()
        .await
        .expect("start");
    let load_time = started.elapsed();
    let warnings = node.config_warnings();
    assert!(
        warnings.iter().all(|w| !w.contains("corrupt")),
        "{warnings:?}"
    );
    let store = node.peer_store().expect("peer store");
    assert!(!store.last_session_peers().is_empty(), "peers.rats loaded");
    assert!(names_containing(dir.path(), ".corrupt-").is_empty());
    assert!(names_containing(dir.path(), ".tmp-").is_empty());
    node.shutdown().await;
    println!("kills: peers {KILLS} ({interrupted} in the middle of a write)");
    println!(
        "FAULT kill -9 during peer-file writes ({KILLS}x, {interrupted} mid-write): \
         peers.rats and peers_ever.rats parsed after every kill (old or new version, never \
         torn), a restarted node loaded them and removed the temporary files, recovered in \
         {:.2} s, data lost: none (at most the save in flight)",
        (slowest_check + load_time).as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_config_writes_leaves_a_valid_config() {
    let (_bin, writer) = stress_writer("config");
    let dir = TempDir::new("rats-fault-kill9-config");
    let mut mid_write = MidWrite::default();
    let (mut interrupted, mut missing, mut slowest) = (0, 0, Duration::ZERO);
    for round in 0..KILLS {
        run_and_kill(&writer, "config", &[dir.path()], 40).await;
        interrupted += mid_write.note(dir.path(), &|n| n.starts_with(".config.json.tmp-"));
        // The writer deletes the file to play a first start; killed right then, there is
        // none and the defaults are written again.
        let exists = dir.path().join(CONFIG_FILE).exists();
        if !exists {
            missing += 1;
        }
        let loading = Instant::now();
        let loaded = load_config(dir.path(), &serde_json::Map::new(), rats::KNOWN_SECTIONS)
            .unwrap_or_else(|e| panic!("kill {round}: config.json refused: {e}"));
        slowest = slowest.max(loading.elapsed());
        assert!(
            loaded.warnings.iter().all(|w| !w.contains("corrupt")),
            "kill {round}: {:?}",
            loaded.warnings
        );
        assert!(names_containing(dir.path(), ".corrupt-").is_empty());
        assert!(
            names_containing(dir.path(), ".tmp-").is_empty(),
            "kill {round}: loading removes what a killed writer left"
        );
    }
    println!(
        "kills: config {KILLS} ({interrupted} in the middle of a write, {missing} between \
         the writer's delete and its first write)"
    );
    println!(
        "FAULT kill -9 during config.json writes ({KILLS}x, {interrupted} mid-write): \
         config.json loaded without a warning after every kill (old or new version, never \
         torn; the killed writer's temporary file removed at load), recovered in {:.3} s, \
         data lost: none (at most the save in flight)",
        slowest.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_identity_writes_leaves_a_valid_key() {
    let (_bin, writer) = stress_writer("identity");
    let dir = TempDir::new("rats-fault-kill9-identity");
    let mut mid_write = MidWrite::default();
    let (mut interrupted, mut slowest) = (0, Duration::ZERO);
    for round in 0..KILLS {
        run_and_kill(&writer, "identity", &[dir.path()], 20).await;
        interrupted += mid_write.note(dir.path(), &|n| n == "identity.tmp");
        let loading = Instant::now();
        // What a start does (`DataDirLock::identity`), without the lock: a writer spawned
        // meanwhile by a test running beside this one could inherit it for a moment.
        let (_, created) = Identity::load_or_create(&dir.path().join(IDENTITY_FILE))
            .unwrap_or_else(|e| panic!("kill {round}: identity.key refused: {e}"));
        assert!(!created, "kill {round}: the key file was there and is kept");
        slowest = slowest.max(loading.elapsed());
    }
    assert!(dir.path().join(IDENTITY_FILE).exists());
    println!("kills: identity {KILLS} ({interrupted} in the middle of a write)");
    println!(
        "FAULT kill -9 during identity.key writes ({KILLS}x, {interrupted} mid-write): the \
         key loaded after every kill (old or new key, never torn), recovered in {:.3} s, data \
         lost: none",
        slowest.as_secs_f64()
    );
}

/// `restored <side> <listed> of <on disk>` lines of the transfer stress writer.
fn restored_counts(lines: &[String]) -> [(usize, usize); 2] {
    let mut out = [(usize::MAX, usize::MAX); 2];
    for l in lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        if let ["restored", side, listed, "of", on_disk] = words.as_slice() {
            let i = usize::from(*side == "b");
            out[i] = (
                listed.parse().expect("number"),
                on_disk.parse().expect("number"),
            );
        }
    }
    assert!(
        out.iter().all(|c| c.0 != usize::MAX),
        "no restored counts in {lines:?}"
    );
    out
}

/// What the transfer folders of one side (under `temp`) hold: those with both state files
/// (checked: JSON documents of the expected shape) and those without (a kill before the
/// first save, or in the middle of a removal; the library drops them).
fn check_transfer_folders(temp: &Path) -> (usize, usize) {
    let (mut with_state, mut without) = (0, 0);
    let Ok(entries) = std::fs::read_dir(temp) else {
        return (0, 0);
    };
    for e in entries.flatten() {
        let folder = e.path();
        let state = folder.join("state.json");
        let manifest = folder.join("manifest.json");
        // The manifest is written first, the state second, and a removal takes them in any
        // order: a folder without both is one of those moments.
        if !state.exists() || !manifest.exists() {
            without += 1;
            continue;
        }
        let json = |p: &Path| -> serde_json::Value {
            let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} torn: {e}", p.display()))
        };
        let s = json(&state);
        for key in ["id", "peer", "role", "local_path", "saved_at"] {
            assert!(
                s.get(key).is_some(),
                "{} has no {key}: {s}",
                state.display()
            );
        }
        assert!(json(&manifest).is_object(), "{}", manifest.display());
        with_state += 1;
    }
    (with_state, without)
}

/// A copy into place that a move across file systems had under way (hidden, beside the
/// file it becomes).
fn is_partial_copy(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(".rats-part"))
}

/// Compares every received file under `<dir>/inbox/<transfer>/` with its source (partial
/// copies aside); how many files, and the partial copies.
fn check_inbox(dir: &Path) -> (usize, Vec<PathBuf>) {
    let (src, inbox) = (dir.join("src"), dir.join("inbox"));
    let (mut files, mut partial) = (0, Vec::new());
    for got in files_under(&inbox) {
        if is_partial_copy(&got) {
            partial.push(got);
            continue;
        }
        let rel: PathBuf = got
            .strip_prefix(&inbox)
            .expect("under inbox")
            .components()
            .skip(1)
            .collect();
        let want = std::fs::read(src.join(&rel))
            .unwrap_or_else(|e| panic!("{}: no source ({e})", got.display()));
        assert!(
            std::fs::read(&got).expect("received") == want,
            "{} differs from its source",
            got.display()
        );
        files += 1;
    }
    (files, partial)
}

/// What `transfer_state_kills` saw.
struct TransferKills {
    interrupted: usize,
    restored: usize,
    without_state: usize,
    /// Partial copies seen after kills (each counted once).
    partial_copies: HashSet<PathBuf>,
    files_checked: usize,
    slowest_start: Duration,
    drain_time: Duration,
    summary: String,
}

/// Kills the transfer stress writer `KILLS` times (transfer state in `temp`, else in the
/// data directories) and checks after each kill that every state file left is whole, that
/// the next start restores exactly those transfers, and that every file in the inbox is its
/// source; then lets the restored transfers finish and checks that the receiver's all
/// completed, with no partial copy left beside the files.
async fn transfer_state_kills(tag: &str, temp: Option<&Path>) -> TransferKills {
    let (_bin, writer) = stress_writer("transfer-drain");
    let dir = TempDir::new(&format!("rats-fault-kill9-{tag}"));
    let temp_of =
        |side: &str| temp.map_or_else(|| dir.path().join(side).join("transfers"), |t| t.join(side));
    let (a, b) = (temp_of("a"), temp_of("b"));
    let mut args = vec![dir.path()];
    args.extend(temp);
    let mut mid_write = MidWrite::default();
    let is_temp = |n: &str| n.ends_with(".json.tmp");
    let mut seen = TransferKills {
        interrupted: 0,
        restored: 0,
        without_state: 0,
        partial_copies: HashSet::new(),
        files_checked: 0,
        slowest_start: Duration::ZERO,
        drain_time: Duration::ZERO,
        summary: String::new(),
    };
    let mut on_disk: Option<[usize; 2]> = None;
    for round in 0..KILLS {
        let (lines, ready) = run_and_kill(&writer, "transfer-state", &args, 500).await;
        seen.slowest_start = seen.slowest_start.max(ready);
        // The library's own loader (the writer's start) restored every transfer whose state
        // files the last kill left, the ones this test checked.
        assert!(
            !lines.is_empty(),
            "kill {round}: nothing printed before writing"
        );
        let counts = restored_counts(&lines);
        for (side, (listed, found)) in ["a", "b"].iter().zip(counts) {
            assert_eq!(listed, found, "kill {round}, side {side}: {lines:?}");
            seen.restored += listed;
        }
        if let Some(expected) = on_disk {
            assert_eq!([counts[0].1, counts[1].1], expected, "kill {round}");
        }
        let (sa, wa) = check_transfer_folders(&a);
        let (sb, wb) = check_transfer_folders(&b);
        seen.without_state += wa + wb;
        on_disk = Some([sa, sb]);
        let (files, partial) = check_inbox(dir.path());
        seen.files_checked += files;
        seen.partial_copies.extend(partial);
        seen.interrupted += mid_write.note(&a, &is_temp);
        seen.interrupted += mid_write.note(&b, &is_temp);
    }
    // Last, every transfer left is finished: the receiver's all complete, with the right
    // content.
    let drained = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new(&writer)
            .arg("transfer-drain")
            .args(&args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("drained in time")
    .expect("run the drain");
    seen.drain_time = drained.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.is_empty(), "the drain printed nothing");
    let counts = restored_counts(&stdout.lines().map(str::to_string).collect::<Vec<_>>());
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for l in stdout.lines() {
        if let Some(rest) = l.strip_prefix("finished ") {
            let mut words = rest.splitn(3, ' ');
            let (side, _id, state) = (words.next(), words.next(), words.next());
            let (side, state) = (side.unwrap_or_default(), state.unwrap_or_default());
            if side == "b" {
                assert_eq!(state, "completed", "a restored receiver: {l}");
            }
            *outcomes.entry(format!("{side} {state}")).or_default() += 1;
        }
    }
    let (files, partial) = check_inbox(dir.path());
    seen.files_checked += files;
    assert!(
        partial.is_empty(),
        "partial copies left beside the received files: {partial:?}"
    );
    seen.summary = format!(
        "last drain: restored a {} b {}, outcomes {outcomes:?}",
        counts[0].0, counts[1].0
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_transfer_state_writes_leaves_resumable_transfers() {
    let k = transfer_state_kills("transfer", None).await;
    println!(
        "kills: transfer state {KILLS} ({} in the middle of a state write, {} transfers \
         restored after kills, {} folders without a state yet or half removed); {}; {} file \
         comparisons with the sources",
        k.interrupted, k.restored, k.without_state, k.summary, k.files_checked
    );
    println!(
        "FAULT kill -9 during transfer-state writes ({KILLS}x, {} mid-write): every \
         state.json/manifest.json parsed, every saved transfer was restored by the next start \
         and the receiver's all completed with the right content, recovered in {:.2} s \
         (restart with restore; all restored transfers finished in {:.1} s), data lost: none \
         (what was verified is kept, through the chunk log; chunks in flight are sent again)",
        k.interrupted,
        k.slowest_start.as_secs_f64(),
        k.drain_time.as_secs_f64()
    );
}

/// A directory on another file system than the system temp directory (`/dev/shm`),
/// removed when dropped.
struct OtherFileSystem(PathBuf);

impl OtherFileSystem {
    fn new(tag: &str) -> Self {
        use std::os::unix::fs::MetadataExt;
        let shm = Path::new("/dev/shm");
        let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
        assert!(
            dev(shm).is_some() && dev(shm) != dev(&std::env::temp_dir()),
            "this test needs /dev/shm on another file system than {}",
            std::env::temp_dir().display()
        );
        let dir = shm.join(format!(
            "{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("create");
        OtherFileSystem(dir)
    }
}

impl Drop for OtherFileSystem {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_files_move_across_file_systems_leaves_no_partial_copy() {
    let temp = OtherFileSystem::new("rats-fault-kill9-xfs");
    let k = transfer_state_kills("xfs", Some(&temp.0)).await;
    println!(
        "kills: transfer state across file systems {KILLS} ({} in the middle of a state \
         write, {} with a copy into place under way, {} transfers restored after kills); {}; \
         {} file comparisons with the sources",
        k.interrupted,
        k.partial_copies.len(),
        k.restored,
        k.summary,
        k.files_checked
    );
    println!(
        "FAULT kill -9 while finished files are copied into place across file systems \
         ({KILLS}x, {} with a copy under way): no file at its real name was ever partial, the \
         restarted receiver redid each cut copy over its leftover and every transfer completed \
         with the right content and no hidden copy left, recovered in {:.2} s, data lost: none",
        k.partial_copies.len(),
        k.slowest_start.as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// full disk
// ---------------------------------------------------------------------------------------

fn transfer_event(e: &Event) -> Option<TransferEvent> {
    match e {
        Event::Service { service, event } if *service == rats_transfer::SERVICE_NAME => {
            event.downcast_ref::<TransferEvent>().cloned()
        }
        _ => None,
    }
}

fn accept_into(t: &TransferService, dir: PathBuf) {
    t.set_accept_callback(move |offer| {
        let dest = dir.join(&offer.name);
        async move { AcceptDecision::Accept(dest) }
    });
}

/// The verified prefix of file 0 (in chunks) as the receiver's `state.json` says.
fn saved_prefix(state: &Path) -> u64 {
    let bytes = std::fs::read(state).expect("state.json exists");
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("state.json parses");
    v["prefixes"][0].as_u64().expect("a prefix")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root (mounts a tmpfs)"]
async fn a_full_download_disk_keeps_consistent_files_and_resumes_after_a_restart() {
    const CHUNK: u64 = 65536;
    let dir = TempDir::new("rats-fault-disk-full-transfer");
    let disk = SmallDisk::mount(dir.path().join("small"), "16m");
    let section = |temp: PathBuf| {
        serde_json::json!({
            "chunk_size": CHUNK, "window": 2, "free_space_margin": 0,
            "progress_interval_ms": 0, "save_interval_ms": 100, "temp_dir": temp,
        })
    };
    let a_section = section(dir.path().join("tmp-a"));
    let a = local_builder()
        .configure(move |c| {
            c.plugins.insert("transfer".into(), a_section);
        })
        .start()
        .await
        .expect("sender starts");
    // The receiver keeps its identity off the small disk, its partial data and inbox on it.
    let (b_data, temp, inbox) = (
        dir.path().join("b"),
        disk.0.join("tmp"),
        disk.0.join("inbox"),
    );
    let start_b = || {
        let (s, data, inbox) = (section(temp.clone()), b_data.clone(), inbox.clone());
        async move {
            let b = local_builder()
                .data_dir(data)
                .configure(move |c| {
                    persist_section(c);
                    c.plugins.insert("transfer".into(), s);
                })
                .start()
                .await
                .expect("receiver starts");
            accept_into(&b.transfers().expect("transfers"), inbox);
            b
        }
    };
    let b = start_b().await;
    std::fs::create_dir_all(&inbox).expect("inbox");
    let b_id = a.connect(&addr_of(&b)).await.expect("connect");
    let ta = a.transfers().expect("transfers");
    let src = dir.path().join("twelve.bin");
    let mut data = vec![0u8; 12 << 20];
    rand::thread_rng().fill_bytes(&mut data);
    std::fs::write(&src, &data).expect("source");
    let mut events = b.events();
    let tb = b.transfers().expect("transfers");
    let id = ta.send_file(&b_id, &src, None).await.expect("send");
    wait_until(30, "a quarter has arrived", || {
        tb.stats().bytes_received >= 3 << 20
    })
    .await;
    // Someone else fills the disk while the file arrives (the receiver pauses meanwhile so
    // that the transfer cannot finish first; the pause saves the state).
    tb.pause(id).expect("pause");
    wait_until(10, "the sender sees the pause", || {
        ta.transfer(id)
            .is_some_and(|i| i.state == TransferState::Paused { by_peer: true })
    })
    .await;
    let filler = disk.fill("filler");
    tb.resume(id).expect("resume");
    // A clear error: the transfer pauses, saying why.
    let reason = next_matching(&mut events, 30, |e| match transfer_event(e) {
        Some(TransferEvent::Paused {
            id: i,
            reason: Some(r),
            by_peer: false,
        }) if i == id => Some(r),
        _ => None,
    })
    .await;
    assert!(reason.starts_with("disk full writing "), "{reason}");
    wait_until(10, "the sender is told", || {
        ta.transfer(id)
            .is_some_and(|i| i.state == TransferState::Paused { by_peer: true })
    })
    .await;
    // Nothing corrupt: no file at the destination; what the state says is verified is the
    // source's bytes.
    let check_disk = || {
        assert!(
            !inbox.join("twelve.bin").exists(),
            "no half file in the inbox"
        );
        let folder = temp.join(id.to_hex());
        let verified = saved_prefix(&folder.join("state.json")) * CHUNK;
        let part = std::fs::read(folder.join("0.part")).expect("partial data kept");
        assert!(part.len() as u64 >= verified, "{} < {verified}", part.len());
        assert!(
            part[..verified as usize] == data[..verified as usize],
            "the verified prefix is the source's"
        );
        verified
    };
    check_disk();
    // A new offer while the disk is full is refused up front, saying why.
    let late = dir.path().join("late.bin");
    std::fs::write(&late, vec![7u8; 100_000]).expect("source");
    let late_id = ta.send_file(&b_id, &late, None).await.expect("offer");
    let refused = ta.wait(late_id, WAIT).await.expect("answered");
    let refusal = refused.state.to_string();
    assert!(
        refusal.contains("not enough free space"),
        "the sender is told: {refusal}"
    );
    assert!(!inbox.join("late.bin").exists());
    let received = tb.stats().bytes_received;
    assert!(received > 0 && received < data.len() as u64, "{received}");
    // The receiver stops while the disk is still full (its last save fails as well) and
    // starts again once there is room.
    b.shutdown().await;
    drop(b); // releases the data directory
    let verified = check_disk();
    std::fs::remove_file(&filler).expect("room again");
    let freed = Instant::now();
    let b = start_b().await;
    let tb = b.transfers().expect("transfers");
    assert!(tb.transfer(id).is_some(), "restored from its saved state");
    let sent_before = ta.stats().bytes_sent;
    a.connect(&addr_of(&b)).await.expect("reconnect");
    wait_until(30, "the restored transfer is back", || {
        tb.transfer(id).is_some_and(|i| {
            i.state != TransferState::WaitingForPeer && i.state != TransferState::Pending
        })
    })
    .await;
    if tb
        .transfer(id)
        .is_some_and(|i| i.state == TransferState::Paused { by_peer: false })
    {
        // Its last good save was made while paused.
        tb.resume(id).expect("resume");
    }
    let done = tb.wait(id, WAIT).await.expect("finished");
    assert_eq!(done.state, TransferState::Completed);
    let recovered = freed.elapsed();
    let got = std::fs::read(inbox.join("twelve.bin")).expect("arrived");
    assert_eq!(Sha256::digest(&got), Sha256::digest(&data), "SHA-256");
    let sent_again = ta.stats().bytes_sent - sent_before;
    // What was verified is not sent again (a window of chunks in flight at the restart
    // may be).
    assert!(
        sent_again <= data.len() as u64 - verified + 2 * CHUNK,
        "continued from the verified prefix: {sent_again} sent again, {verified} verified"
    );
    println!(
        "FAULT full disk during a transfer (16 MiB tmpfs filled up, 12 MiB file): paused with \"{}\" \
         on the receiver, \"paused by peer\" on the sender; a new offer meanwhile was \
         refused (\"{}\"); no file at the destination, the verified prefix ({} KiB) on disk \
         intact; after a restart with room it continued from there ({} KiB sent again) and the \
         SHA-256 matched, recovered in {:.2} s, data lost: none",
        reason.replace(&*disk.0.to_string_lossy(), "<disk>"),
        refusal,
        verified / 1024,
        sent_again / 1024,
        recovered.as_secs_f64()
    );
    a.shutdown().await;
    b.shutdown().await;
    drop(b); // its files are closed before the unmount
    drop(disk);
}

fn connected(node: &RatsClient) -> Vec<KnownPeer> {
    node.peers()
        .into_iter()
        .map(|p| KnownPeer {
            id: p.peer_id,
            addrs: p.listen_addrs,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root (mounts a tmpfs)"]
async fn a_full_data_directory_keeps_the_old_files_and_reports_the_error() {
    let dir = TempDir::new("rats-fault-disk-full-data");
    // The node's warnings, to see that a failed save is logged (the log file is not on the
    // small disk).
    let log_file = dir.path().join("rats.log");
    rats::rats_log::init(&rats::rats_log::LogConfig {
        level: rats::rats_log::LogLevel::Warn,
        stderr: false,
        file: Some(log_file.clone()),
        timestamps: false,
        colors: Some(false),
        ..Default::default()
    })
    .expect("log to a file");
    let disk = SmallDisk::mount(dir.path().join("small"), "1m");
    let data = disk.0.join("data");
    let start = || {
        local_builder()
            .data_dir(data.clone())
            .configure(persist_section)
            .start()
    };
    let node = start().await.expect("starts");
    let store = node.peer_store().expect("peer store");
    let first = local_builder().start().await.expect("peer");
    let first_id = node.connect(&addr_of(&first)).await.expect("connect");
    store.save(connected(&node)).await.expect("saved with room");
    let read = |name: &str| std::fs::read(data.join(name)).expect("file");
    let (peers, ever, config) = (read(PEERS_FILE), read(PEERS_EVER_FILE), read(CONFIG_FILE));
    // The disk fills; another peer comes; saving fails and says why, the files stay as
    // they were.
    let filler = disk.fill("filler");
    let second = local_builder().start().await.expect("peer");
    node.connect(&addr_of(&second)).await.expect("connect");
    let err = store
        .save(connected(&node))
        .await
        .expect_err("no room to save");
    assert_eq!(err.raw_os_error(), Some(28), "{err}");
    let settings = br#"{"max_peers": 3}"#;
    let err = write_atomic(&data.join(CONFIG_FILE), settings).expect_err("no room to save");
    assert_eq!(err.raw_os_error(), Some(28), "{err}");
    let unchanged = || {
        assert!(read(PEERS_FILE) == peers, "peers.rats unchanged");
        assert!(read(PEERS_EVER_FILE) == ever, "peers_ever.rats unchanged");
        assert!(read(CONFIG_FILE) == config, "config.json unchanged");
        assert!(
            names_containing(&data, ".tmp-").is_empty(),
            "no temporary file"
        );
    };
    unchanged();
    // Stopping saves once more: it fails, is logged, nothing panics.
    node.shutdown().await;
    drop(node); // releases the data directory
    unchanged();
    if let Some(log) = rats::rats_log::global() {
        log.flush();
    }
    let logged = std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(
        logged
            .lines()
            .any(|l| l.contains("saving the peer store at shutdown failed")
                && l.contains("No space left on device")),
        "{logged}"
    );
    // A start whose config.json is gone cannot write the defaults: a warning, it runs.
    std::fs::remove_file(data.join(CONFIG_FILE)).expect("remove config.json");
    let refill = disk.fill("refill");
    let node = start().await.expect("starts without its defaults written");
    let warnings = node.config_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("could not write default") && w.contains("No space left")),
        "{warnings:?}"
    );
    assert!(!data.join(CONFIG_FILE).exists());
    assert!(
        names_containing(&data, ".tmp-").is_empty(),
        "no temporary file"
    );
    node.shutdown().await;
    drop(node);
    // A first start on the full disk fails with a clear error.
    let fresh = disk.0.join("fresh");
    let err = local_builder()
        .data_dir(fresh.clone())
        .start()
        .await
        .expect_err("no room for a key");
    let err = err.to_string();
    assert!(err.contains("No space left on device"), "{err}");
    let litter = names_containing(&fresh, "tmp");
    assert!(litter.is_empty(), "temporary files left: {litter:?}");
    // Room again: the node starts from the files kept.
    std::fs::remove_file(&filler).expect("room again");
    std::fs::remove_file(&refill).expect("room again");
    let freed = Instant::now();
    let node = start().await.expect("starts again");
    let recovered = freed.elapsed();
    let warnings = node.config_warnings();
    assert!(
        warnings.iter().all(|w| !w.contains("corrupt")),
        "{warnings:?}"
    );
    let store = node.peer_store().expect("peer store");
    assert!(
        store.last_session_peers().iter().any(|p| p.id == first_id),
        "the peers saved before the disk filled"
    );
    store.save(connected(&node)).await.expect("saves again");
    println!(
        "FAULT full data directory (1 MiB tmpfs): peer-store and settings saves failed with \
         \"No space left on device\" (the shutdown save logged as a warning), peers.rats, \
         peers_ever.rats and config.json stayed as they were, no temporary file left; a start \
         without config.json warned that it could not write the defaults and ran; a first \
         start there failed with \"{}\" and left no temporary file; once freed the node \
         started from the kept files, recovered in {:.3} s, data lost: the peers met while the \
         disk was full",
        err.replace(&*disk.0.to_string_lossy(), "<disk>"),
        recovered.as_secs_f64()
    );
    node.shutdown().await;
    first.shutdown().await;
    second.shutdown().await;
    drop(node); // its files are closed before the unmount
    drop(disk);
}
