//! `ice_offer` seeds: offers that real ICE sessions gather on loopback (host candidates, and
//! server-reflexive and relay ones from the local coturn), plus edited copies; `holepunch`
//! seeds: the hole-punch signals in the JSON form rats sends (`PunchMessage` is internal to
//! rats-nat, so they are written here in its serde format).

use std::net::SocketAddr;

use rats_nat::ice::{IceConfig, IceOffer, IceSession, IceTurnServer};

use crate::Error;
use crate::seeds::Seeds;

/// Offers from two sessions (controlling and controlled) using coturn at `server`.
pub async fn ice_offers(seeds: &mut Seeds, server: SocketAddr) -> Result<(), Error> {
    let config = IceConfig {
        loopback_only: true,
        stun: vec![server.to_string()],
        turn: Some(IceTurnServer {
            server: server.to_string(),
            username: "rats".into(),
            password: "secret".into(),
        }),
        gather_ms: 3_000,
        ..IceConfig::default()
    };
    let offerer = IceSession::new(&config, true).await?;
    let answerer = IceSession::new(
        &IceConfig {
            turn: None,
            ..config.clone()
        },
        false,
    )
    .await?;
    let (offer, answer) = tokio::join!(offerer.gather(), answerer.gather());
    let (offer, answer) = (offer?, answer?);
    if !offer.candidates.iter().any(|c| c.contains("relay")) {
        eprintln!(
            "note: the ICE offer has no relay candidate: {:?}",
            offer.candidates
        );
    }
    add(seeds, "gathered-offer-with-turn", &offer)?;
    add(seeds, "gathered-answer", &answer)?;
    let mut edited = offer.clone();
    edited.candidates = offer
        .candidates
        .iter()
        .map(|c| format!("a=candidate:{c}"))
        .collect();
    add(seeds, "offer-with-a-prefixes", &edited)?;
    let mut extra = answer.clone();
    extra.candidates.extend([
        "candidate:1 1 udp 2130706431 ::1 50000 typ host".to_string(),
        "candidate:2 1 tcp 1518280447 192.0.2.7 9 typ host tcptype active".to_string(),
        "candidate:3 1 udp 2130706431 3f2a6c1e-0000-4000-8000-000000000001.local 50001 typ host"
            .to_string(),
        "candidate:4 1 udp 1694498815 198.51.100.9 40000 typ srflx raddr 0.0.0.0 rport 0"
            .to_string(),
    ]);
    add(seeds, "answer-with-ipv6-tcp-mdns-srflx", &extra)?;
    let mut short = answer.clone();
    short.pwd = "short".into();
    add(seeds, "answer-with-short-password", &short)?;
    offerer.close().await;
    answerer.close().await;
    Ok(())
}

fn add(seeds: &mut Seeds, name: &str, offer: &IceOffer) -> Result<(), Error> {
    seeds.add("ice_offer", name, &serde_json::to_vec(offer)?)?;
    Ok(())
}

/// Hole-punch signals: connect, accept (with and without TCP), sync, cancel, and a few that
/// must be refused (loopback, IPv6, no address).
pub fn holepunch(seeds: &mut Seeds) -> Result<(), Error> {
    let signals: &[(&str, &str)] = &[
        (
            "connect",
            r#"{"t":"connect","id":4242,"addrs":["198.51.100.7:40000"],"varies":false}"#,
        ),
        (
            "connect-two-addrs-tcp",
            r#"{"t":"connect","id":4243,"addrs":["198.51.100.7:40000","203.0.113.5:5000"],"varies":true,"tcp":"198.51.100.7:7878"}"#,
        ),
        (
            "accept",
            r#"{"t":"accept","id":4242,"addrs":["203.0.113.5:5000"],"varies":false,"hold_ms":250}"#,
        ),
        (
            "accept-tcp",
            r#"{"t":"accept","id":4243,"addrs":["203.0.113.5:5000"],"varies":true,"hold_ms":0,"tcp":"203.0.113.5:7878"}"#,
        ),
        ("sync", r#"{"t":"sync","id":4242}"#),
        ("cancel", r#"{"t":"cancel","id":18446744073709551615}"#),
        (
            "refused-loopback",
            r#"{"t":"connect","id":1,"addrs":["127.0.0.1:5000"],"varies":false}"#,
        ),
        (
            "refused-ipv6",
            r#"{"t":"connect","id":1,"addrs":["[2001:db8::1]:5000"],"varies":false}"#,
        ),
        (
            "refused-no-addrs",
            r#"{"t":"accept","id":1,"addrs":[],"varies":false,"hold_ms":5}"#,
        ),
        ("refused-unknown-type", r#"{"t":"nope","id":1}"#),
    ];
    for (name, json) in signals {
        seeds.add("holepunch", name, json.as_bytes())?;
    }
    Ok(())
}
