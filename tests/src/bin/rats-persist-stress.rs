//! Writes one kind of the files rats keeps on disk in a loop, as fast as it can, until
//! killed. The crash-safety tests kill it with SIGKILL at random moments and check, with the
//! library's own loaders, that every file is still valid.
//!
//! Usage: `rats-persist-stress [MODE] <dir>`, MODE one of
//! - `peers` (the default): `peers.rats` and `peers_ever.rats`, through the peer store's own
//!   save and through `write_atomic` directly (with tables that vary in size);
//! - `config`: `config.json`, as a first start writes its defaults (`load_config`) and as a
//!   settings save rewrites it (read, change keys, `write_atomic`: what `rats_save_config`
//!   of the C API does);
//! - `identity`: `identity.key`, rewritten with `Identity::save` (rats writes it once, at
//!   the first start; rewriting it exercises the same writer many times);
//! - `transfer-state`: two nodes in this process push a directory tree to each other again
//!   and again, so the transfer service writes its `state.json`, `manifest.json` and chunk
//!   logs (see `transfer_state.rs` for what it prints). A third argument puts the transfer
//!   state and partial data there (another file system: finished files are then copied into
//!   place rather than renamed).
//!
//! It prints `writing` once the first file is complete.

#[path = "rats-persist-stress/config.rs"]
mod config;
#[path = "rats-persist-stress/identity.rs"]
mod identity;
#[path = "rats-persist-stress/peers.rs"]
mod peers;
#[path = "rats-persist-stress/transfer_state.rs"]
mod transfer_state;

use std::path::PathBuf;

const USAGE: &str = "usage: rats-persist-stress [peers|config|identity] <dir>\n       \
     rats-persist-stress transfer-state|transfer-drain <dir> [<transfer temp dir>]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, dir, temp) = match args.as_slice() {
        [dir] => ("peers", PathBuf::from(dir), None),
        [mode, dir] => (mode.as_str(), PathBuf::from(dir), None),
        [mode, dir, temp] if mode.starts_with("transfer-") => {
            (mode.as_str(), PathBuf::from(dir), Some(PathBuf::from(temp)))
        }
        _ => fail(USAGE),
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        fail(&format!("{}: {e}", dir.display()));
    }
    match mode {
        "peers" => peers::run(&dir),
        "config" => config::run(&dir),
        "identity" => identity::run(&dir),
        "transfer-state" => transfer_state::run(&dir, temp, false),
        "transfer-drain" => transfer_state::run(&dir, temp, true),
        _ => fail(USAGE),
    }
}

/// Says why on stderr and exits with status 2: a test sees an exit, not the SIGKILL it sent.
fn fail(why: &str) -> ! {
    eprintln!("{why}");
    std::process::exit(2);
}

/// Prints `writing` (the tests wait for it before they start killing).
fn started() {
    println!("writing");
}
