//! Replays every fuzz target's inputs on stable Rust, as part of the normal test run: the
//! committed seeds (`fuzz/seeds/<target>`, real traffic), the crash reproducers of fixed
//! findings (`fuzz/regressions/<target>`), and the corpus a local `cargo fuzz run` grew
//! (`fuzz/corpus/<target>`, if present). A fixed finding that comes back fails here without
//! a nightly toolchain. Also checks that this table and `fuzz/fuzz_targets/` name the same
//! targets calling the same entry points.

use std::path::{Path, PathBuf};

/// A fuzz target: its name (a file in `fuzz/fuzz_targets/`), the entry point it calls, and
/// that entry point.
type Target = (&'static str, &'static str, fn(&[u8]));

/// Every fuzz target.
const TARGETS: &[Target] = &[
    (
        "frames",
        "rats_core::__fuzz::frames",
        rats_core::__fuzz::frames,
    ),
    (
        "reassembly",
        "rats_core::__fuzz::reassembly",
        rats_core::__fuzz::reassembly,
    ),
    (
        "control",
        "rats_core::__fuzz::control",
        rats_core::__fuzz::control,
    ),
    (
        "hello",
        "rats_core::__fuzz::hello",
        rats_core::__fuzz::hello,
    ),
    (
        "message",
        "rats_core::__fuzz::message",
        rats_core::__fuzz::message,
    ),
    (
        "address",
        "rats_core::__fuzz::address",
        rats_core::__fuzz::address,
    ),
    (
        "handshake_payload",
        "rats_core::__fuzz::handshake_payload",
        rats_core::__fuzz::handshake_payload,
    ),
    (
        "identity_key_file",
        "rats_core::__fuzz::identity_key_file",
        rats_core::__fuzz::identity_key_file,
    ),
    (
        "transfer_wire",
        "rats_transfer::__fuzz::wire",
        rats_transfer::__fuzz::wire,
    ),
    (
        "transfer_path",
        "rats_transfer::__fuzz::path",
        rats_transfer::__fuzz::path,
    ),
    (
        "transfer_state",
        "rats_transfer::__fuzz::state",
        rats_transfer::__fuzz::state,
    ),
    (
        "gossip_wire",
        "rats_gossipsub::__fuzz::wire",
        rats_gossipsub::__fuzz::wire,
    ),
    (
        "gossip_router",
        "rats_gossipsub::__fuzz::router",
        rats_gossipsub::__fuzz::router,
    ),
    (
        "dht_krpc",
        "rats_discovery_dht::__fuzz::krpc",
        rats_discovery_dht::__fuzz::krpc,
    ),
    (
        "dht_compact",
        "rats_discovery_dht::__fuzz::compact",
        rats_discovery_dht::__fuzz::compact,
    ),
    (
        "dht_saved_nodes",
        "rats_discovery_dht::__fuzz::saved_nodes",
        rats_discovery_dht::__fuzz::saved_nodes,
    ),
    (
        "mdns_txt",
        "rats_discovery_mdns::__fuzz::txt",
        rats_discovery_mdns::__fuzz::txt,
    ),
    ("stun", "rats_nat::__fuzz::stun", rats_nat::__fuzz::stun),
    ("turn", "rats_nat::__fuzz::turn", rats_nat::__fuzz::turn),
    (
        "holepunch",
        "rats_nat::__fuzz::holepunch",
        rats_nat::__fuzz::holepunch,
    ),
    (
        "ice_offer",
        "rats_nat::__fuzz::ice_offer",
        rats_nat::__fuzz::ice_offer,
    ),
    (
        "config",
        "rats_persist::__fuzz::config",
        rats_persist::__fuzz::config,
    ),
    (
        "peer_files",
        "rats_persist::__fuzz::peer_files",
        rats_persist::__fuzz::peer_files,
    ),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files directly in `dir` (none if it does not exist).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_runs_on_its_seeds_regressions_and_corpus() {
    let mut total = 0;
    for (name, _, entry) in TARGETS {
        let seeds = files_in(&fuzz_dir().join("seeds").join(name));
        let mut inputs = seeds.clone();
        inputs.extend(files_in(&fuzz_dir().join("regressions").join(name)));
        inputs.extend(files_in(&fuzz_dir().join("corpus").join(name)));
        for input in &inputs {
            let data = match std::fs::read(input) {
                Ok(data) => data,
                // A local fuzzer reduces its corpus while it runs.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", input.display()),
            };
            let run = std::panic::catch_unwind(|| entry(&data));
            assert!(
                run.is_ok(),
                "fuzz target {name} panics on {}",
                input.display()
            );
        }
        eprintln!("{name}: {} inputs ({} seeds)", inputs.len(), seeds.len());
        total += inputs.len();
    }
    assert!(
        total > 0,
        "no fuzz inputs found under {}",
        fuzz_dir().display()
    );
}

#[test]
fn the_table_matches_the_fuzz_targets() {
    let dir = fuzz_dir().join("fuzz_targets");
    let mut on_disk: Vec<String> = files_in(&dir)
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = TARGETS.iter().map(|t| t.0.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "fuzz/fuzz_targets and this table differ");
    for (name, path, _) in TARGETS {
        let source = std::fs::read_to_string(dir.join(format!("{name}.rs"))).expect("read");
        assert!(
            source.contains(&format!("{path}(data)")),
            "fuzz/fuzz_targets/{name}.rs does not call {path}"
        );
    }
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("read");
    for (name, _, _) in TARGETS {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
    }
}
