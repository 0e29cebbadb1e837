//! The ICE mode: one ICE agent of ours exchanging datagrams with another agent (aioice in the
//! interop test), offers passed through stdin and stdout.
//!
//! ```text
//! ice controlling|controlled --stun IP:PORT [--turn IP:PORT]
//! stdout: {"event":"offer","ufrag":..,"pwd":..,"candidates":[..]}
//! stdin:  the other side's offer, as one JSON line in the same form
//! stdout: {"event":"connected","local":..,"remote":..,"local_type":..,"remote_type":..}
//!         {"event":"received","data":..}     (the first datagram; answered with "echo:"+data)
//! stdin:  quit
//! ```

use std::time::Duration;

use rats::rats_nat::ice::{IceConfig, IceOffer, IceSession, IceTurnServer};
use serde_json::json;
use tokio::io::AsyncBufReadExt;

fn say(v: serde_json::Value) {
    println!("{v}");
}

pub(crate) async fn run(args: &[String]) -> i32 {
    match ice(args).await {
        Ok(()) => 0,
        Err(e) => {
            say(json!({"event": "error", "error": e}));
            1
        }
    }
}

async fn ice(args: &[String]) -> Result<(), String> {
    let controlling = match args.first().map(String::as_str) {
        Some("controlling") => true,
        Some("controlled") => false,
        _ => {
            return Err("usage: ice controlling|controlled --stun IP:PORT [--turn IP:PORT]".into());
        }
    };
    let mut config = IceConfig::default();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let v = it.next().ok_or(format!("{a} needs a value"))?.clone();
        match a.as_str() {
            "--stun" => config.stun.push(v),
            "--turn" => {
                config.turn = Some(IceTurnServer {
                    server: v,
                    username: "rats".into(),
                    password: "secret".into(),
                })
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let session = IceSession::new(&config, controlling)
        .await
        .map_err(|e| e.to_string())?;
    let offer = session.gather().await.map_err(|e| e.to_string())?;
    say(
        json!({"event": "offer", "ufrag": offer.ufrag, "pwd": offer.pwd, "candidates": offer.candidates}),
    );
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let line = lines
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no remote offer on stdin")?;
    let remote: IceOffer = serde_json::from_str(&line).map_err(|e| format!("remote offer: {e}"))?;
    let conn = session.connect(&remote).await.map_err(|e| e.to_string())?;
    say(json!({
        "event": "connected",
        "local": conn.local,
        "remote": conn.remote,
        "local_type": conn.local_kind,
        "remote_type": conn.remote_kind,
    }));
    conn.send(b"hello from rats")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(15), conn.recv(&mut buf))
        .await
        .map_err(|_| "no datagram within 15 s")?
        .map_err(|e| e.to_string())?;
    let data = String::from_utf8_lossy(&buf[..n]).into_owned();
    say(json!({"event": "received", "data": data}));
    if !data.starts_with("echo:") {
        let mut echo = b"echo:".to_vec();
        echo.extend_from_slice(&buf[..n]);
        conn.send(&echo).await.map_err(|e| e.to_string())?;
    }
    // Keep answering the other side's checks until told to stop.
    let _ = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
    session.close().await;
    say(json!({"event": "closed"}));
    Ok(())
}
