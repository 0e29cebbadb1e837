//! Port mapping against a real router daemon: miniupnpd (Debian's nftables build) in a lab
//! router namespace, serving PCP, NAT-PMP and UPnP IGD on the LAN. A rats node behind it maps
//! its TCP port with each method; a node on the public side connects to the mapped address;
//! the mapping is gone after the node stops.
//!
//! Needs root, `ip`, `nft` and miniupnpd: `#[ignore]`d by default, run with
//! `--include-ignored` (as CI does); without them it fails saying what is missing.

use std::process::Stdio;
use std::time::Duration;

use rats_tests::natlab::{HostId, NatKind, NatLab};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn require_miniupnpd() {
    assert!(
        std::path::Path::new("/usr/sbin/miniupnpd").exists(),
        "miniupnpd is not installed (apt-get install miniupnpd-nftables); this test needs it (it \
         is #[ignore]d by default)"
    );
}

/// Starts miniupnpd in `host`'s router with its own nftables chains.
async fn start_miniupnpd(lab: &NatLab, host: HostId) -> tokio::process::Child {
    let router = lab.router_ns(host).expect("a NAT'd host");
    let k = host.number();
    // miniupnpd's chains, in a table of their own (the lab's NAT table stays as it is; its
    // forward chain lets DNAT'd packets through).
    let chains = "table inet miniupnpd {\n\
        chain forward { type filter hook forward priority -1; policy accept; jump miniupnpd; }\n\
        chain miniupnpd { }\n\
        chain prerouting { type nat hook prerouting priority -101; policy accept; jump prerouting_miniupnpd; }\n\
        chain prerouting_miniupnpd { }\n\
        chain postrouting { type nat hook postrouting priority 99; policy accept; jump postrouting_miniupnpd; }\n\
        chain postrouting_miniupnpd { }\n\
        }\n";
    let nft = lab.dir().join("miniupnpd.nft");
    std::fs::write(&nft, chains).expect("write nft");
    let st = std::process::Command::new("ip")
        .args(["netns", "exec", router, "nft", "-f"])
        .arg(&nft)
        .status()
        .expect("nft");
    assert!(st.success(), "load miniupnpd chains");
    let conf = lab.dir().join("miniupnpd.conf");
    std::fs::write(
        &conf,
        format!(
            "ext_ifname=wan\n\
             listening_ip=lan\n\
             http_port=0\n\
             enable_natpmp=yes\n\
             enable_upnp=yes\n\
             secure_mode=yes\n\
             system_uptime=yes\n\
             ext_ip={wan}\n\
             upnp_table_name=miniupnpd\n\
             upnp_nat_table_name=miniupnpd\n\
             uuid=3e1a5e6e-5c3a-4b3a-9e1a-00000000000{k}\n\
             allow 1024-65535 10.0.{k}.0/24 1024-65535\n\
             deny 0-65535 0.0.0.0/0 0-65535\n",
            wan = lab.public_ip(host),
        ),
    )
    .expect("write conf");
    let child = lab
        .command(router, "/usr/sbin/miniupnpd")
        .args(["-d", "-f"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start miniupnpd");
    tokio::time::sleep(Duration::from_millis(500)).await;
    child
}

/// Runs `rats-nat-probe portmap <port> <method>` in the host; returns the process (to stop
/// it later) and its report.
async fn probe(
    lab: &NatLab,
    host: HostId,
    port: u16,
    method: &str,
) -> (tokio::process::Child, Value) {
    let mut child = lab
        .command(lab.host_ns(host), env!("CARGO_BIN_EXE_rats-nat-probe"))
        .args(["portmap", &port.to_string(), method])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start probe");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("probe reports in time")
        .expect("read")
        .expect("a line");
    let v: Value = serde_json::from_str(&line).expect("json");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, v)
}

/// Whether the router's nftables hold a DNAT for `port`.
fn router_maps(lab: &NatLab, host: HostId, port: u16) -> bool {
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            lab.router_ns(host).expect("router"),
            "nft",
            "list",
            "table",
            "inet",
            "miniupnpd",
        ])
        .output()
        .expect("nft list");
    let text = String::from_utf8_lossy(&out.stdout);
    text.contains(&format!("dport {port}")) && text.contains("dnat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, nft and miniupnpd (CI runs it with --include-ignored)"]
async fn a_node_maps_its_port_on_a_real_router_and_is_reached_through_it() {
    require_miniupnpd();
    // miniupnpd refuses documentation and private ranges as the router's public address, so
    // this lab's public segment is 100.200.7.0/24: it exists only inside the lab.
    let mut lab = NatLab::with_public_net([100, 200, 7]);
    let host = lab.add_host(NatKind::PortRestrictedCone);
    let mut upnpd = start_miniupnpd(&lab, host).await;
    for (i, method) in ["pcp", "natpmp", "upnp"].into_iter().enumerate() {
        let port = 40_000 + i as u16;
        let (mut node, report) = probe(&lab, host, port, method).await;
        if report.get("error").is_some() {
            let _ = upnpd.start_kill();
            let out = upnpd.wait_with_output().await.expect("miniupnpd output");
            panic!(
                "{method}: no mapping: {report}\nminiupnpd: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let m = &report["mapping"];
        assert_eq!(m["method"], method, "{report}");
        assert_eq!(
            m["external"],
            format!("{}:{port}", lab.public_ip(host)),
            "{report}"
        );
        assert!(
            router_maps(&lab, host, port),
            "{method}: no DNAT rule in the router"
        );
        // The mapped address is told to peers (Hello) as an external address.
        let told = format!("tcp:{}:{port}", lab.public_ip(host));
        assert_eq!(report["external"], serde_json::json!([told]), "{report}");
        // From the public side, the mapped address reaches the node (unsolicited inbound is
        // otherwise dropped by this NAT).
        let reach = lab
            .command(lab.server_ns(), "bash")
            .arg("-c")
            .arg(format!(
                "exec 3<>/dev/tcp/{}/{port} && echo connected",
                lab.public_ip(host)
            ))
            .output();
        let out = tokio::time::timeout(Duration::from_secs(10), reach)
            .await
            .expect("connect in time")
            .expect("run bash");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("connected"),
            "{method}: {out:?}"
        );
        // Stopping the node removes the mapping.
        let mut stdin = node.stdin.take().expect("stdin");
        stdin.write_all(b"quit\n").await.expect("write");
        let _ = tokio::time::timeout(Duration::from_secs(10), node.wait()).await;
        assert!(
            !router_maps(&lab, host, port),
            "{method}: mapping left behind"
        );
    }
    let _ = upnpd.kill().await;
}
