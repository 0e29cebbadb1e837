//! `identity` mode: `identity.key`.

use std::path::Path;

use rats_core::Identity;

/// The key file's name in a data directory (`rats::data_dir::IDENTITY_FILE`, not exported).
pub const IDENTITY_FILE: &str = "identity.key";

pub fn run(dir: &Path) {
    let path = dir.join(IDENTITY_FILE);
    // The first key as a first start makes it (without the directory's lock, which the test
    // takes between runs: a child it spawns could inherit the lock for a moment).
    if let Err(e) = Identity::load_or_create(&path) {
        super::fail(&format!("first identity: {e}"));
    }
    let mut round = 0u64;
    loop {
        round += 1;
        if let Err(e) = Identity::generate().save(&path) {
            super::fail(&format!("save {}: {e}", path.display()));
        }
        if round == 1 {
            super::started();
        }
    }
}
