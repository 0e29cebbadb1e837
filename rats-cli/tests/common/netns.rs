//! A throw-away virtual LAN made of Linux network namespaces, for tests that must use
//! multicast (mDNS) without ever touching the machine's real network.
//!
//! Layout of a [`Lab`] with N hosts:
//!
//! ```text
//!   <prefix>-sw   : bridge `br0` (multicast snooping off), ports `p0` .. `p<N-1>`
//!   <prefix>-h<i> : `lo` up, `eth0` = 10.77.0.<i+1>/24, route 224.0.0.0/4 dev eth0
//! ```
//!
//! Every veth pair is created with both ends directly inside namespaces
//! (`ip link add eth0 netns H type veth peer name p<i> netns SW`), so nothing is ever
//! created in, or routed through, the root namespace. There is no default route: a host
//! can only reach the other hosts of its lab.
//!
//! Needs root and the `ip` command (iproute2). Without them [`Lab::new`] panics saying what is
//! missing: the tests that build a lab are `#[ignore]`d by default for that reason.

#![allow(dead_code)] // each test file uses a different part

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

// One implementation for the `rats` package's labs and the `tests` package's NAT lab.
#[path = "../../../tests/src/netns_common.rs"]
mod netns_common;
use netns_common::{delete_namespace, remove_stale_namespaces, require_root_and, unavailable};

/// Prefix of every namespace a [`Lab`] creates (`ratslab-<pid>-<n>-sw`, `...-h<i>`).
const PREFIX: &str = "ratslab";

/// Counter making lab names unique within this process.
static NEXT_LAB: AtomicUsize = AtomicUsize::new(0);

/// A switch namespace with a bridge and `hosts` host namespaces plugged into it.
///
/// Dropping the lab kills every process still running in its namespaces and deletes
/// the namespaces (also when the test panics).
pub struct Lab {
    /// `ratslab-<pid>-<n>`; namespace names derive from it.
    name: String,
    /// The switch namespace (holds `br0`).
    switch: String,
    /// Host namespaces, index = host number.
    hosts: Vec<String>,
    /// Namespaces created so far (switch first), deleted on drop.
    created: Vec<String>,
}

impl Lab {
    /// Builds a lab of `hosts` hosts (1..=253), host `i` having address `10.77.0.<i+1>`.
    ///
    /// Panics when not running as root or when `ip` is missing (or namespaces cannot be
    /// created for lack of privilege), saying so. A failing setup command cleans up what was
    /// already created and panics with the command and its stderr.
    pub fn new(hosts: usize) -> Lab {
        assert!(
            (1..=253).contains(&hosts),
            "a lab has 1..=253 hosts, not {hosts}"
        );
        if let Err(why) = available() {
            unavailable(&why);
        }
        remove_stale();

        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}-{}-{n}", std::process::id());
        let switch = format!("{name}-sw");
        let host_names: Vec<String> = (0..hosts).map(|i| format!("{name}-h{i}")).collect();
        let mut lab = Lab {
            name,
            switch: switch.clone(),
            hosts: host_names.clone(),
            created: Vec::new(),
        };

        // The first namespace tells whether we may create namespaces at all (a root
        // without CAP_SYS_ADMIN, e.g. in an unprivileged container, may not).
        if let Err(e) = run(&["netns", "add", &switch]) {
            if e.contains("Operation not permitted") || e.contains("Permission denied") {
                unavailable(&format!("cannot create network namespaces: {e}"));
            }
            panic!("network lab setup failed: {e}");
        }
        lab.created.push(switch.clone());

        if let Err(e) = lab.setup() {
            drop(lab); // kills and deletes whatever was created
            panic!("network lab setup failed: {e}");
        }
        lab
    }

    /// Everything after the switch namespace exists.
    fn setup(&mut self) -> Result<(), String> {
        let sw = self.switch.clone();
        run(&["-n", &sw, "link", "set", "lo", "up"])?;
        // mcast_snooping 0: the bridge floods all multicast to every port, whether or not
        // it saw IGMP joins (224.0.0.x would be flooded anyway, but be explicit).
        run(&[
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
            "stp_state",
            "0",
        ])?;
        let details = run(&["-n", &sw, "-d", "link", "show", "br0"])?;
        if !details.contains("mcast_snooping 0") {
            return Err(format!(
                "bridge br0 in {sw} still snoops multicast: {details}"
            ));
        }
        run(&["-n", &sw, "link", "set", "br0", "up"])?;

        for (i, host) in self.hosts.clone().iter().enumerate() {
            run(&["netns", "add", host])?;
            self.created.push(host.clone());
            let port = format!("p{i}");
            // Both ends are created directly inside their namespaces.
            run(&[
                "link", "add", "eth0", "netns", host, "type", "veth", "peer", "name", &port,
                "netns", &sw,
            ])?;
            run(&["-n", &sw, "link", "set", &port, "master", "br0"])?;
            run(&["-n", &sw, "link", "set", &port, "up"])?;
            let addr = format!("{}/24", self.ip(i));
            run(&["-n", host, "addr", "add", &addr, "dev", "eth0"])?;
            // A unique-local IPv6 address too (no duplicate detection delay), so IPv6 paths
            // are exercised, not only link-local ones.
            let addr6 = format!("{}/64", self.ip6(i));
            run(&[
                "-n", host, "-6", "addr", "add", &addr6, "dev", "eth0", "nodad",
            ])?;
            run(&["-n", host, "link", "set", "lo", "up"])?;
            run(&["-n", host, "link", "set", "eth0", "up"])?;
            run(&["-n", host, "route", "add", "224.0.0.0/4", "dev", "eth0"])?;
        }
        Ok(())
    }

    /// Host `i`'s unique-local IPv6 address, `fd77::<i+1>`.
    pub fn ip6(&self, i: usize) -> std::net::Ipv6Addr {
        std::net::Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, (i + 1) as u16)
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.hosts.len()
    }

    /// Name of host `i`'s network namespace (for `ip netns exec`).
    pub fn ns(&self, i: usize) -> &str {
        &self.hosts[i]
    }

    /// Name of the switch namespace (holding the bridge `br0`), e.g. for `tcpdump`.
    pub fn switch_ns(&self) -> &str {
        &self.switch
    }

    /// Host `i`'s IPv4 address on its `eth0`: `10.77.0.<i+1>`.
    pub fn ip(&self, i: usize) -> Ipv4Addr {
        assert!(
            i < self.hosts.len(),
            "host {i} of a {}-host lab",
            self.hosts.len()
        );
        Ipv4Addr::new(10, 77, 0, (i + 1) as u8)
    }

    /// `ip netns exec <ns(i)> <program>`, ready for `.arg(..)`s; killed when dropped.
    ///
    /// `ip netns exec` execs the program, so the child's pid is the program's own.
    pub fn command(&self, i: usize, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", self.ns(i), program])
            .kill_on_drop(true);
        cmd
    }
}

impl Drop for Lab {
    /// Kills every process left in the lab's namespaces, then deletes them (hosts first,
    /// the switch last), ignoring errors.
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            delete_namespace(ns);
        }
    }
}

fn remove_stale() {
    remove_stale_namespaces(PREFIX);
}

/// Ok when we are root and `ip` runs; otherwise why not.
fn available() -> Result<(), String> {
    require_root_and(&[("ip", "-V", "iproute2")])
}

/// Runs `ip <args>`; its stdout, or an error naming the command and its stderr.
fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`ip {}`: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
