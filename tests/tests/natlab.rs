//! The NAT lab (`rats_tests::natlab`) behaves as each `NatKind` claims, as judged by an
//! independent RFC 5780 client: coturn's `turnutils_natdiscovery` run in a host of the lab
//! against coturn's `turnserver` on the lab's server host.
//!
//! Needs root, `ip`, `nft` and coturn: `#[ignore]`d by default, run with `--include-ignored`
//! (as CI does); without them it fails saying what is missing.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rats_tests::natlab::{self, NatKind, NatLab};

/// A mapping verdict of `turnutils_natdiscovery -m`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Mapping {
    EndpointIndependent,
    AddressDependent,
    AddressAndPortDependent,
}

/// A filtering verdict of `turnutils_natdiscovery -f`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Filtering {
    EndpointIndependent,
    AddressDependent,
    AddressAndPortDependent,
}

/// What `turnutils_natdiscovery -m -f` printed, digested.
#[derive(Debug, Default)]
struct Discovery {
    /// "No NAT! (Endpoint Independent Mapping)" in the mapping section.
    no_nat: bool,
    mapping: Option<Mapping>,
    filtering: Option<Filtering>,
    /// Every "UDP reflexive addr" seen (ip, port).
    reflexive: Vec<(Ipv4Addr, u16)>,
    /// The verdict lines, verbatim.
    verdicts: Vec<String>,
}

/// Parses natdiscovery's output: sections start with "-= Mapping Behavior Discovery =-" or
/// "-= Filtering Behavior Discovery =-"; verdicts are lines "NAT with ... Mapping!" /
/// "NAT with ... Filtering!" / "No NAT! ..."; addresses appear as
/// "0: : IPv4. UDP reflexive addr: 198.51.100.21:39306" (the "0: :" prefix varies).
fn parse(out: &str) -> Discovery {
    let mut d = Discovery::default();
    let mut section = "";
    for line in out.lines().map(str::trim) {
        if line.contains("Mapping Behavior Discovery") {
            section = "mapping";
            continue;
        }
        if line.contains("Filtering Behavior Discovery") {
            section = "filtering";
            continue;
        }
        if let Some(rest) = line.split("UDP reflexive addr:").nth(1)
            && let Some((ip, port)) = rest.trim().rsplit_once(':')
            && let (Ok(ip), Ok(port)) = (ip.trim().parse(), port.trim().parse())
        {
            d.reflexive.push((ip, port));
        }
        if line.starts_with("No NAT!") {
            d.verdicts.push(line.to_string());
            if section == "mapping" {
                d.no_nat = true;
            }
            continue;
        }
        if !line.starts_with("NAT with ") {
            continue;
        }
        d.verdicts.push(line.to_string());
        let kind = if line.contains("Endpoint Independent") {
            0
        } else if line.contains("Address and Port Dependent") {
            2
        } else if line.contains("Address Dependent") {
            1
        } else {
            panic!("unknown verdict {line:?}");
        };
        if line.ends_with("Mapping!") {
            d.mapping = Some(
                [
                    Mapping::EndpointIndependent,
                    Mapping::AddressDependent,
                    Mapping::AddressAndPortDependent,
                ][kind],
            );
        } else if line.ends_with("Filtering!") {
            d.filtering = Some(
                [
                    Filtering::EndpointIndependent,
                    Filtering::AddressDependent,
                    Filtering::AddressAndPortDependent,
                ][kind],
            );
        }
    }
    d
}

/// Builds a lab with one host behind `kind`, starts coturn, runs
/// `turnutils_natdiscovery -m -f` in the host and checks the verdicts.
async fn check(kind: NatKind, no_nat: bool, mapping: Mapping, filtering: Filtering) {
    let started = Instant::now();
    natlab::require_coturn();
    let mut lab = NatLab::new();
    let host = lab.add_host(kind);
    let built = started.elapsed();
    let coturn = natlab::start_coturn(&lab, None).await;
    let coturn_up = started.elapsed() - built;

    let t = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        lab.command(lab.host_ns(host), "turnutils_natdiscovery")
            .args(["-m", "-f", "-L"])
            .arg(lab.host_ip(host).to_string())
            .arg(lab.server_ip().to_string())
            .output(),
    )
    .await
    .expect("natdiscovery finishes within 60 s")
    .expect("run turnutils_natdiscovery");
    let ran = t.elapsed();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let d = parse(&text);
    eprintln!(
        "{kind:?}: {:?} (lab {built:?}, coturn {coturn_up:?}, natdiscovery {ran:?})",
        d.verdicts
    );
    let context = || {
        format!(
            "{kind:?}: natdiscovery said:\n{text}\nrouter ruleset:\n{}\ncoturn log:\n{}",
            lab.router_ruleset(host),
            coturn.log()
        )
    };
    assert_eq!(d.no_nat, no_nat, "{}", context());
    assert_eq!(d.mapping, Some(mapping), "{}", context());
    assert_eq!(d.filtering, Some(filtering), "{}", context());
    // Every response saw the host at its public address.
    assert!(!d.reflexive.is_empty(), "{}", context());
    assert!(
        d.reflexive.iter().all(|(ip, _)| *ip == lab.public_ip(host)),
        "{}",
        context()
    );

    // rats' own check (the stun plugin of a node in the same host) agrees with coturn's tool.
    let probe = tokio::time::timeout(
        Duration::from_secs(60),
        lab.command(lab.host_ns(host), env!("CARGO_BIN_EXE_rats-nat-probe"))
            .arg("stun")
            .arg(format!("{}:3478", lab.server_ip()))
            .output(),
    )
    .await
    .expect("probe finishes within 60 s")
    .expect("run rats-nat-probe");
    let line = String::from_utf8_lossy(&probe.stdout).into_owned();
    let ours: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| {
        panic!(
            "probe output {line:?}: {e}\n{}",
            String::from_utf8_lossy(&probe.stderr)
        )
    });
    let b = &ours["behaviour"];
    let name = |m: Mapping| match m {
        Mapping::EndpointIndependent => "endpoint-independent",
        Mapping::AddressDependent => "address-dependent",
        Mapping::AddressAndPortDependent => "address-and-port-dependent",
    };
    let fname = |f: Filtering| match f {
        Filtering::EndpointIndependent => "endpoint-independent",
        Filtering::AddressDependent => "address-dependent",
        Filtering::AddressAndPortDependent => "address-and-port-dependent",
    };
    assert_eq!(b["nat"], !no_nat, "rats: {ours}\n{}", context());
    assert_eq!(b["mapping"], name(mapping), "rats: {ours}\n{}", context());
    assert_eq!(
        b["filtering"],
        fname(filtering),
        "rats: {ours}\n{}",
        context()
    );
    let mapped_ip = b["mapped"]
        .as_str()
        .and_then(|a| a.rsplit_once(':'))
        .map(|(ip, _)| ip.to_string());
    assert_eq!(
        mapped_ip,
        Some(lab.public_ip(host).to_string()),
        "rats: {ours}"
    );
    let expected_type = match kind {
        NatKind::None => "open",
        NatKind::FullCone => "full cone",
        NatKind::RestrictedCone => "restricted cone",
        NatKind::PortRestrictedCone => "port-restricted cone",
        NatKind::Symmetric => "symmetric",
    };
    assert_eq!(ours["nat_type"], expected_type, "rats: {ours}");
}

#[tokio::test]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn no_nat_is_endpoint_independent() {
    check(
        NatKind::None,
        true,
        Mapping::EndpointIndependent,
        Filtering::EndpointIndependent,
    )
    .await;
}

#[tokio::test]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn full_cone_is_eim_eif() {
    check(
        NatKind::FullCone,
        false,
        Mapping::EndpointIndependent,
        Filtering::EndpointIndependent,
    )
    .await;
}

#[tokio::test]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn restricted_cone_is_eim_adf() {
    check(
        NatKind::RestrictedCone,
        false,
        Mapping::EndpointIndependent,
        Filtering::AddressDependent,
    )
    .await;
}

#[tokio::test]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn port_restricted_cone_is_eim_apdf() {
    check(
        NatKind::PortRestrictedCone,
        false,
        Mapping::EndpointIndependent,
        Filtering::AddressAndPortDependent,
    )
    .await;
}

#[tokio::test]
#[ignore = "needs root, ip, nft and coturn (CI runs it with --include-ignored)"]
async fn symmetric_is_apdm_apdf() {
    check(
        NatKind::Symmetric,
        false,
        Mapping::AddressAndPortDependent,
        Filtering::AddressAndPortDependent,
    )
    .await;
}

/// The lab is closed: NAT'd hosts cannot reach each other's private addresses nor anything
/// outside 198.51.100.0/24, and no namespace has a route out.
#[tokio::test]
#[ignore = "needs root, ip and nft (CI runs it with --include-ignored)"]
async fn lab_is_closed() {
    let mut lab = NatLab::new();
    let a = lab.add_host(NatKind::PortRestrictedCone);
    let b = lab.add_host(NatKind::None);
    let mut namespaces = vec![lab.server_ns().to_string(), lab.switch_ns().to_string()];
    for h in [a, b] {
        namespaces.push(lab.host_ns(h).to_string());
        namespaces.extend(lab.router_ns(h).map(str::to_string));
    }
    for ns in &namespaces {
        let out = lab
            .command(ns, "ip")
            .args(["-4", "route", "get", "192.0.2.1"])
            .output()
            .await
            .expect("ip route get");
        let text = String::from_utf8_lossy(&out.stdout);
        // Only a NAT'd host has a default route, to its router (which has none).
        if ns == lab.host_ns(a) {
            assert!(text.contains("via 10.0.1.1"), "{ns}: {text}");
        } else {
            assert!(!out.status.success(), "{ns} routes 192.0.2.1: {text}");
        }
    }
    let out = lab
        .command(lab.router_ns(a).expect("router"), "ip")
        .args([
            "-4",
            "route",
            "get",
            "192.0.2.1",
            "from",
            "10.0.1.2",
            "iif",
            "lan",
        ])
        .output()
        .await
        .expect("ip route get");
    assert!(!out.status.success(), "router forwards out of the lab");
    // The server refuses private destinations at once.
    let out = lab
        .command(lab.server_ns(), "ip")
        .args(["-4", "route", "get", "10.0.1.2"])
        .output()
        .await
        .expect("ip route get");
    assert!(!out.status.success(), "server routes 10.0.1.2");
}
