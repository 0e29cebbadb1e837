//! `transfer_state` seeds: the resume state a real transfer leaves in the temporary folders
//! of both sides once the receiver paused it (file and directory); `transfer_path` seeds that
//! no transfer sends but a hostile peer would.

use std::path::Path;
use std::time::Duration;

use rats::RatsClient;
use rats_transfer::{AcceptDecision, TransferId, TransferService};
use serde_json::json;

use crate::Error;
use crate::rats_traffic::wait_for;
use crate::seeds::Seeds;

/// Paths a peer may announce to escape or confuse the receiver.
const HOSTILE_PATHS: &[(&str, &str)] = &[
    ("dotdot", "../escape.txt"),
    ("dotdot-inner", "a/../../b"),
    ("absolute", "/etc/passwd"),
    ("windows-absolute", "C:\\Windows\\system.ini"),
    ("windows-drive-relative", "C:evil"),
    ("backslashes", "a\\..\\..\\b"),
    ("unc", "\\\\server\\share\\x"),
    ("device-con", "CON"),
    ("device-nul-ext", "sub/NUL.txt"),
    ("device-com1", "COM1.log"),
    ("trailing-dot", "name."),
    ("trailing-space", "name "),
    ("empty", ""),
    ("dot", "."),
    ("double-slash", "a//b"),
    ("nul-byte", "a\u{0}b"),
    ("newline", "a\nb"),
    (
        "long-name",
        "a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name.txt",
    ),
    ("rtl-override", "evil\u{202e}txt.exe"),
    ("colon-stream", "file.txt:stream"),
];

/// Writes the hostile path seeds.
pub fn hostile_paths(seeds: &mut Seeds) -> Result<(), Error> {
    for (name, p) in HOSTILE_PATHS {
        seeds.add("transfer_path", &format!("hostile-{name}"), p.as_bytes())?;
    }
    Ok(())
}

/// A 20 MB file and a directory sent slowly from D to E, paused by E as soon as data moves;
/// each side's `state.json` NUL `manifest.json` becomes a seed.
pub async fn paused_state(seeds: &mut Seeds, work: &Path) -> Result<(), Error> {
    let src = work.join("state-src");
    std::fs::create_dir_all(src.join("dir/sub"))?;
    let big: Vec<u8> = (0..20u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(src.join("big.bin"), &big)?;
    std::fs::write(src.join("dir/one.bin"), &big)?;
    std::fs::write(src.join("dir/sub/two.txt"), b"two\n")?;
    let d = node(work, "d").await?;
    let e = node(work, "e").await?;
    let e_id = d.connect(&e.listen_addrs()[0].to_string()).await?;
    let (td, te) = (service(&d)?, service(&e)?);
    let inbox = work.join("state-inbox");
    std::fs::create_dir_all(&inbox)?;
    te.set_accept_callback(move |offer| {
        let dest = inbox.join(&offer.name);
        async move { AcceptDecision::Accept(dest) }
    });
    for (what, path, dir) in [
        ("file", src.join("big.bin"), false),
        ("directory", src.join("dir"), true),
    ] {
        let id = if dir {
            td.send_directory(&e_id, &path, None, true).await?
        } else {
            td.send_file(&e_id, &path, None).await?
        };
        wait_for("data moves", || {
            te.transfer(id)
                .is_some_and(|i| i.progress.bytes_done > 0 || i.state.is_finished())
        })
        .await?;
        te.pause(id).map_err(|e| format!("pause the {what}: {e}"))?;
        for (side, t) in [("receiver", &te), ("sender", &td)] {
            let state = wait_for_state(t, id).await?;
            seeds.add("transfer_state", &format!("paused-{what}-{side}"), &state)?;
        }
        te.cancel(id)
            .map_err(|e| format!("cancel the {what}: {e}"))?;
        let _ = td.wait(id, Duration::from_secs(10)).await;
    }
    d.shutdown().await;
    e.shutdown().await;
    Ok(())
}

async fn node(work: &Path, name: &str) -> Result<RatsClient, Error> {
    let section = json!({
        "temp_dir": work.join(format!("tmp-{name}")),
        "chunk_size": 65536,
        "window": 2,
        "progress_interval_ms": 20,
    });
    Ok(rats_tests::local_builder()
        .configure(move |c| {
            c.plugins.insert("transfer".into(), section);
        })
        .start()
        .await?)
}

fn service(c: &RatsClient) -> Result<std::sync::Arc<TransferService>, Error> {
    c.transfers()
        .ok_or_else(|| "transfer service not linked".into())
}

/// `state.json` NUL `manifest.json` of transfer `id` in `t`'s temporary folder, once the
/// saved state says it is paused (the state is saved on a blocking thread after the pause).
async fn wait_for_state(t: &TransferService, id: TransferId) -> Result<Vec<u8>, Error> {
    let dir = t.temp_dir();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let hex = id.to_string();
    loop {
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let p = entry.path();
            if !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains(&hex))
            {
                continue;
            }
            let (Ok(state), Ok(manifest)) = (
                std::fs::read(p.join("state.json")),
                std::fs::read(p.join("manifest.json")),
            ) else {
                continue;
            };
            let saved: serde_json::Value = serde_json::from_slice(&state).unwrap_or_default();
            if saved["paused"] == true || saved["role"] == "sender" {
                let mut out = state;
                out.push(0);
                out.extend_from_slice(&manifest);
                return Ok(out);
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("no saved state for {hex} in {}", dir.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
