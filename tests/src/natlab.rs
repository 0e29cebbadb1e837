//! A throw-away Internet with NATs, made of Linux network namespaces, for tests of NAT
//! traversal (STUN, TURN, hole punching) that must never touch the machine's real network.
//!
//! Layout of a [`NatLab`] named `natlab-<pid>-<n>`:
//!
//! ```text
//!   <name>-sw   : bridge `br0` = the "public Internet" 198.51.100.0/24 (TEST-NET-2)
//!                 ports `psrv`, `p<k>` (one per host k = 1, 2, ...)
//!   <name>-srv  : `eth0` = 198.51.100.10/24 and 198.51.100.11/24 (RFC 5780 needs two IPs)
//!                 route `unreachable 10.0.0.0/8`
//!
//!   host k behind a NAT (NatKind other than None):
//!   <name>-r<k> : router; `wan` = 198.51.100.(20+k)/24 on the bridge, `lan` = 10.0.k.1/24,
//!                 ip_forward on, nftables table `ip natlab` = the NAT (see [`NatKind`]),
//!                 route `unreachable 10.0.0.0/8`, no default route
//!   <name>-h<k> : `eth0` = 10.0.k.2/24, default route via 10.0.k.1
//!
//!   public host k (NatKind::None):
//!   <name>-h<k> : `eth0` = 198.51.100.(100+k)/24 on the bridge, route `unreachable 10.0.0.0/8`
//! ```
//!
//! Every veth pair is created with both ends directly inside lab namespaces, so nothing is
//! ever created in, or routed through, the root namespace. No namespace has a route out of
//! the lab: routers and public hosts know only 198.51.100.0/24 and their own LAN; a NAT'd
//! host's default route leads to its router, which knows nothing more.
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables). Without them [`NatLab::new`] panics
//! saying what is missing (tests that use the lab are `#[ignore]`d by default), and
//! [`NatLab::try_new`] returns why. Dropping the lab (also while unwinding from a panic) kills every process left in
//! its namespaces and deletes them; labs left by killed test processes are removed by the
//! next [`NatLab::new`].
//!
//! [`start_coturn`] runs coturn's `turnserver` on the server host (STUN with RFC 5780 on both
//! server IPs, TURN with user `rats`, password `secret`, realm `lab`).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::netns_common::{
    delete_namespace, is_dead, lab_pid, remove_stale_namespaces, require_root_and, unavailable,
};

/// Prefix of every namespace (and temporary directory) a [`NatLab`] creates.
const PREFIX: &str = "natlab";

/// Counter making lab names unique within this process.
static NEXT_LAB: AtomicUsize = AtomicUsize::new(0);

/// Most hosts a lab holds (router WAN addresses are 198.51.100.21..=99).
pub const MAX_HOSTS: usize = 79;

/// Default lifetime of an idle NAT mapping, in seconds (conntrack UDP timeouts and the
/// dynamic sets of the cone NATs).
pub const DEFAULT_MAPPING_TIMEOUT: u32 = 120;

/// The server's main address (STUN/TURN at port 3478).
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The default public segment, /24: TEST-NET-2.
pub const DEFAULT_PUBLIC_NET: [u8; 3] = [198, 51, 100];
/// The server's alternate address (RFC 5780 OTHER-ADDRESS).
pub const SERVER_ALT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);
/// STUN/TURN port of [`start_coturn`]'s server.
pub const STUN_PORT: u16 = 3478;
/// RFC 5780 alternate port of [`start_coturn`]'s server.
pub const STUN_ALT_PORT: u16 = 3479;
/// TURN user name of [`start_coturn`]'s server.
pub const TURN_USER: &str = "rats";
/// TURN password of [`start_coturn`]'s server.
pub const TURN_PASSWORD: &str = "secret";
/// TURN realm of [`start_coturn`]'s server.
pub const TURN_REALM: &str = "lab";

/// How a host reaches the public segment (RFC 4787 terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NatKind {
    /// No NAT: the host sits on the public segment with a public address.
    None,
    /// Endpoint-independent mapping, endpoint-independent filtering: once the host has sent
    /// from a port, anyone may send to the mapped port.
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering: inbound packets to a
    /// mapped port are accepted from any port of an IP the host has sent to from that port.
    RestrictedCone,
    /// Endpoint-independent mapping, address-and-port-dependent filtering: only replies from
    /// the exact IP and port the host has sent to (plain Linux masquerade).
    PortRestrictedCone,
    /// Address-and-port-dependent mapping (a new random public port per destination) and
    /// address-and-port-dependent filtering.
    Symmetric,
}

/// A host of a [`NatLab`], as returned by [`NatLab::add_host`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(usize);

impl HostId {
    /// Host number k (1-based): the host's LAN is 10.0.k.0/24, its router's WAN address
    /// 198.51.100.(20+k), or, for a public host, its address 198.51.100.(100+k).
    pub fn number(self) -> u8 {
        (self.0 + 1) as u8
    }
}

/// One host and, if NAT'd, its router.
struct Host {
    kind: NatKind,
    /// The host's namespace.
    ns: String,
    /// The router's namespace (NAT'd hosts only).
    router: Option<String>,
    /// Its bridge port in the switch namespace (router WAN or public host `eth0`).
    port: String,
    /// Current NAT mapping timeout in seconds.
    mapping_timeout: u32,
}

/// Packet loss and rate limit applied at a host's bridge port.
#[derive(Clone, Copy, Default)]
struct Shaping {
    loss_percent: u8,
    rate_kbytes: Option<u32>,
    /// Every packet dropped: the link is down.
    down: bool,
}

/// A public segment with a STUN/TURN server host, plus hosts behind NATs of chosen kinds.
///
/// Dropping the lab kills every process still running in its namespaces and deletes the
/// namespaces and its temporary directory (also when the test panics).
pub struct NatLab {
    /// `natlab-<pid>-<n>`; namespace names derive from it.
    name: String,
    /// The switch namespace (holds `br0`).
    switch: String,
    /// The server namespace.
    server: String,
    /// Hosts, index = `HostId.0`.
    hosts: Vec<Host>,
    /// Namespaces created so far, deleted in reverse order on drop.
    created: Vec<String>,
    /// Temporary directory (configs, logs), removed on drop.
    dir: PathBuf,
    /// Loss/rate per bridge port.
    shaping: Mutex<BTreeMap<String, Shaping>>,
    /// The public segment's /24.
    net: [u8; 3],
}

impl NatLab {
    /// Builds the public segment and the server host (no other host yet).
    ///
    /// Panics when not running as root or when `ip` or `nft` is missing (or namespaces cannot
    /// be created for lack of privilege), saying so: the tests that build a lab are
    /// `#[ignore]`d by default for that reason. A failing setup command cleans up what was
    /// already created and panics with the command and its stderr.
    // Not `Default`: building a lab creates namespaces and runs commands as root.
    #[allow(clippy::new_without_default)]
    pub fn new() -> NatLab {
        Self::with_public_net(DEFAULT_PUBLIC_NET)
    }

    /// Like [`new`](Self::new), but why the lab cannot be built here is an error, not a panic
    /// (for the `rats-natlab` program).
    pub fn try_new() -> Result<NatLab, String> {
        Self::try_with_public_net(DEFAULT_PUBLIC_NET)
    }

    /// Like [`new`](Self::new) with another /24 as the public segment (for daemons that refuse
    /// documentation ranges as public addresses, like miniupnpd). Whatever the range, it exists
    /// only inside the lab's namespaces: nothing routes there from outside or out from there.
    pub fn with_public_net(net: [u8; 3]) -> NatLab {
        Self::try_with_public_net(net).unwrap_or_else(|why| unavailable(&why))
    }

    /// Like [`with_public_net`](Self::with_public_net), but why the lab cannot be built here
    /// is an error.
    pub fn try_with_public_net(net: [u8; 3]) -> Result<NatLab, String> {
        if let Err(why) = available() {
            return Err(format!("the NAT lab is unavailable: {why}"));
        }
        remove_stale();

        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let mut lab = NatLab {
            switch: format!("{name}-sw"),
            server: format!("{name}-srv"),
            name,
            hosts: Vec::new(),
            created: Vec::new(),
            dir,
            shaping: Mutex::new(BTreeMap::new()),
            net,
        };

        // The first namespace tells whether we may create namespaces at all (a root
        // without CAP_SYS_ADMIN, e.g. in an unprivileged container, may not).
        let sw = lab.switch.clone();
        if let Err(e) = ip(&["netns", "add", &sw]) {
            if e.contains("Operation not permitted") || e.contains("Permission denied") {
                return Err(format!(
                    "the NAT lab is unavailable: cannot create network namespaces: {e}"
                ));
            }
            panic!("NAT lab setup failed: {e}");
        }
        lab.created.push(sw);

        if let Err(e) = lab.setup() {
            drop(lab); // kills and deletes whatever was created
            panic!("NAT lab setup failed: {e}");
        }
        Ok(lab)
    }

    /// Everything after the switch namespace exists: the bridge and the server.
    fn setup(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("create {}: {e}", self.dir.display()))?;
        let sw = self.switch.clone();
        ip(&["-n", &sw, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
        ])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;

        let srv = self.server.clone();
        self.add_namespace(&srv)?;
        self.plug(&srv, "eth0", "psrv")?;
        ip(&[
            "-n",
            &srv,
            "addr",
            "add",
            &format!("{}/24", self.server_ip()),
            "dev",
            "eth0",
        ])?;
        ip(&[
            "-n",
            &srv,
            "addr",
            "add",
            &format!("{}/24", self.server_alt_ip()),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &srv, "link", "set", "eth0", "up"])?;
        // Sending to a private address fails at once instead of vanishing (a relay that
        // forwards to a peer's private candidate must see an error, not a black hole).
        ip(&["-n", &srv, "route", "add", "unreachable", "10.0.0.0/8"])?;
        Ok(())
    }

    /// Creates namespace `ns` (recorded for deletion) with `lo` up.
    fn add_namespace(&mut self, ns: &str) -> Result<(), String> {
        ip(&["netns", "add", ns])?;
        self.created.push(ns.to_string());
        ip(&["-n", ns, "link", "set", "lo", "up"]).map(drop)
    }

    /// A veth pair from `ifname` in `ns` to bridge port `port` of `br0` (port up).
    fn plug(&self, ns: &str, ifname: &str, port: &str) -> Result<(), String> {
        let sw = &self.switch;
        // Both ends are created directly inside their namespaces.
        ip(&[
            "link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", port, "netns", sw,
        ])?;
        ip(&["-n", sw, "link", "set", port, "master", "br0"])?;
        ip(&["-n", sw, "link", "set", port, "up"]).map(drop)
    }

    /// Adds a host: for [`NatKind::None`] a public host on the bridge, otherwise a router
    /// doing that kind of NAT and a host behind it. Panics (the lab is then cleaned up by its
    /// drop) when a setup command fails or the lab is full ([`MAX_HOSTS`]).
    pub fn add_host(&mut self, kind: NatKind) -> HostId {
        assert!(
            self.hosts.len() < MAX_HOSTS,
            "a NAT lab has at most {MAX_HOSTS} hosts"
        );
        let id = HostId(self.hosts.len());
        let k = id.number();
        let ns = format!("{}-h{k}", self.name);
        let router = (kind != NatKind::None).then(|| format!("{}-r{k}", self.name));
        let host = Host {
            kind,
            ns,
            router,
            port: format!("p{k}"),
            mapping_timeout: DEFAULT_MAPPING_TIMEOUT,
        };
        if let Err(e) = self.setup_host(&host, k) {
            panic!("NAT lab: adding a {kind:?} host failed: {e}");
        }
        self.hosts.push(host);
        id
    }

    fn setup_host(&mut self, host: &Host, k: u8) -> Result<(), String> {
        let h = host.ns.as_str();
        self.add_namespace(h)?;
        let Some(r) = host.router.as_deref() else {
            self.plug(h, "eth0", &host.port)?;
            let addr = self.public(100 + k);
            ip(&["-n", h, "addr", "add", &format!("{addr}/24"), "dev", "eth0"])?;
            ip(&["-n", h, "link", "set", "eth0", "up"])?;
            ip(&["-n", h, "route", "add", "unreachable", "10.0.0.0/8"])?;
            return Ok(());
        };
        self.add_namespace(r)?;
        self.plug(r, "wan", &host.port)?;
        ip(&[
            "link", "add", "lan", "netns", r, "type", "veth", "peer", "name", "eth0", "netns", h,
        ])?;
        let wan = self.public(20 + k);
        ip(&["-n", r, "addr", "add", &format!("{wan}/24"), "dev", "wan"])?;
        ip(&[
            "-n",
            r,
            "addr",
            "add",
            &format!("10.0.{k}.1/24"),
            "dev",
            "lan",
        ])?;
        ip(&["-n", r, "link", "set", "wan", "up"])?;
        ip(&["-n", r, "link", "set", "lan", "up"])?;
        ip(&["-n", r, "route", "add", "unreachable", "10.0.0.0/8"])?;
        exec(r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"], None)?;
        let rules = nat_ruleset(host.kind, Ipv4Addr::new(10, 0, k, 2), host.mapping_timeout)
            .unwrap_or_default();
        exec(r, &["nft", "-f", "-"], Some(&rules))?;
        set_conntrack_udp_timeouts(r, host.mapping_timeout)?;

        ip(&[
            "-n",
            h,
            "addr",
            "add",
            &format!("10.0.{k}.2/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", h, "link", "set", "eth0", "up"])?;
        ip(&[
            "-n",
            h,
            "route",
            "add",
            "default",
            "via",
            &format!("10.0.{k}.1"),
        ])?;
        Ok(())
    }

    fn host(&self, id: HostId) -> &Host {
        self.hosts
            .get(id.0)
            .unwrap_or_else(|| panic!("{id:?} is not a host of this lab"))
    }

    /// The lab's name (`natlab-<pid>-<n>`), prefix of its namespace names.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Temporary directory of the lab (configs, logs); removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server host's namespace.
    pub fn server_ns(&self) -> &str {
        &self.server
    }

    /// The server's main address, 198.51.100.10.
    pub fn server_ip(&self) -> Ipv4Addr {
        self.public(10)
    }

    /// The server's second address, 198.51.100.11 (same interface).
    pub fn server_alt_ip(&self) -> Ipv4Addr {
        self.public(11)
    }

    /// The public segment's address ending in `last`.
    pub fn public(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.net[0], self.net[1], self.net[2], last)
    }

    /// The switch namespace (bridge `br0`, ports `psrv` and `p<k>`), e.g. for `tcpdump`.
    pub fn switch_ns(&self) -> &str {
        &self.switch
    }

    /// A host's namespace (for `ip netns exec`).
    pub fn host_ns(&self, id: HostId) -> &str {
        &self.host(id).ns
    }

    /// The namespace of a host's router, `None` for a public host.
    pub fn router_ns(&self, id: HostId) -> Option<&str> {
        self.host(id).router.as_deref()
    }

    /// The kind of NAT in front of a host.
    pub fn kind(&self, id: HostId) -> NatKind {
        self.host(id).kind
    }

    /// The hosts added so far.
    pub fn hosts(&self) -> impl Iterator<Item = HostId> + '_ {
        (0..self.hosts.len()).map(HostId)
    }

    /// A host's own address: 10.0.k.2 behind a NAT, 198.51.100.(100+k) for a public host.
    pub fn host_ip(&self, id: HostId) -> Ipv4Addr {
        let k = id.number();
        match self.host(id).kind {
            NatKind::None => self.public(100 + k),
            _ => Ipv4Addr::new(10, 0, k, 2),
        }
    }

    /// The address the public segment sees for a host: its router's WAN address
    /// 198.51.100.(20+k), or its own address for a public host.
    pub fn public_ip(&self, id: HostId) -> Ipv4Addr {
        let k = id.number();
        match self.host(id).kind {
            NatKind::None => self.public(100 + k),
            _ => self.public(20 + k),
        }
    }

    /// `ip netns exec <ns> <program>`, ready for `.arg(..)`s; killed when dropped.
    ///
    /// `ip netns exec` execs the program, so the child's pid is the program's own.
    pub fn command(&self, ns: &str, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", ns, program]).kill_on_drop(true);
        cmd
    }

    /// The router's live nftables ruleset (`nft list ruleset`), empty for a public host.
    pub fn router_ruleset(&self, id: HostId) -> String {
        match self.router_ns(id) {
            Some(r) => exec(r, &["nft", "list", "ruleset"], None).unwrap_or_else(|e| e),
            None => String::new(),
        }
    }

    /// Sets how long an idle NAT mapping of a NAT'd host lives (conntrack UDP timeouts, both
    /// unreplied and "stream", and the cone NATs' sets). Reloads the NAT rules, which forgets
    /// the cone NATs' current mappings: call it before the host sends. No-op for a public
    /// host.
    pub fn set_mapping_timeout(&mut self, id: HostId, secs: u32) {
        assert!(secs > 0, "a mapping timeout of 0 s");
        let ip4 = self.host_ip(id);
        let host = &mut self.hosts[id.0];
        let Some(r) = host.router.clone() else {
            return;
        };
        host.mapping_timeout = secs;
        let rules = nat_ruleset(host.kind, ip4, secs).unwrap_or_default();
        exec(&r, &["nft", "-f", "-"], Some(&rules))
            .and_then(|_| set_conntrack_udp_timeouts(&r, secs))
            .unwrap_or_else(|e| panic!("NAT lab: set_mapping_timeout failed: {e}"));
    }

    /// Drops `percent` % of the IPv4 packets going to, and independently of those coming
    /// from, a host's link to the public segment (its router's WAN, or a public host's
    /// `eth0`). 0 removes the loss. Applied on the bridge, so senders never see an error.
    pub fn set_loss(&self, id: HostId, percent: u8) {
        assert!(percent <= 100, "loss of {percent} %");
        self.shape(id, |s| s.loss_percent = percent);
    }

    /// Limits the IPv4 traffic to, and separately from, a host's link to the public segment
    /// to `kbytes_per_sec` kilobytes/s each way (excess dropped); `None` removes the limit.
    pub fn set_rate_limit(&self, id: HostId, kbytes_per_sec: Option<u32>) {
        assert!(kbytes_per_sec != Some(0), "a rate limit of 0");
        self.shape(id, |s| s.rate_kbytes = kbytes_per_sec);
    }

    /// Cuts a host's link to the public segment: every IPv4 packet to or from its bridge port
    /// (router WAN or public host `eth0`) is dropped, silently, like a cable pulled somewhere
    /// along the path (the host's own interface stays up). [`link_up`](Self::link_up) undoes it.
    pub fn link_down(&self, id: HostId) {
        self.shape(id, |s| s.down = true);
    }

    /// Restores a link cut by [`link_down`](Self::link_down).
    pub fn link_up(&self, id: HostId) {
        self.shape(id, |s| s.down = false);
    }

    /// Makes a NAT'd host's router forget every mapping at once, like a NAT that reboots:
    /// flushes its conntrack table (`conntrack -F`, package `conntrack`) and the cone NATs'
    /// mapping sets. Packets of existing flows arriving from outside are then dropped until
    /// the host sends again and a new mapping is made. No-op for a public host; panics when
    /// `conntrack` is missing or fails.
    pub fn forget_mappings(&self, id: HostId) {
        let Some(r) = self.router_ns(id) else {
            return;
        };
        let set = match self.kind(id) {
            NatKind::FullCone => Some("mapped"),
            NatKind::RestrictedCone => Some("contacted"),
            _ => None,
        };
        if let Some(set) = set {
            exec(r, &["nft", "flush", "set", "ip", "natlab", set], None)
                .unwrap_or_else(|e| panic!("NAT lab: flushing set {set} failed: {e}"));
        }
        // conntrack -F prints "connection tracking table has been emptied" on stderr.
        exec(r, &["conntrack", "-F"], None)
            .unwrap_or_else(|e| panic!("NAT lab: conntrack -F failed (package conntrack): {e}"));
    }

    /// Like [`forget_mappings`](Self::forget_mappings), and the public ports of the host's UDP
    /// flows are then taken by flows of the router's own (conntrack entries inserted with
    /// `conntrack -I`), so the host's next packets leave from new public ports: a NAT that
    /// reboots without keeping ports. Packets of the old flows arriving from outside reach
    /// the router itself and are dropped. Only for the NATs without port-keyed sets
    /// ([`NatKind::PortRestrictedCone`], [`NatKind::Symmetric`]); returns how many public
    /// ports were taken.
    pub fn forget_mappings_and_ports(&self, id: HostId) -> usize {
        assert!(
            matches!(
                self.kind(id),
                NatKind::PortRestrictedCone | NatKind::Symmetric
            ),
            "forget_mappings_and_ports needs a masquerading NAT, not {:?}",
            self.kind(id)
        );
        let r = self.router_ns(id).expect("a NAT'd host").to_string();
        let host = self.host_ip(id).to_string();
        let listing = exec(&r, &["conntrack", "-L", "-p", "udp"], None)
            .unwrap_or_else(|e| panic!("NAT lab: conntrack -L failed (package conntrack): {e}"));
        // "udp 17 117 src=H dst=R sport=h dport=r src=R dst=W sport=r dport=P [ASSURED] ..."
        let taken: Vec<[String; 4]> = listing
            .lines()
            .filter_map(|line| {
                let v: Vec<&str> = ["src=", "dst=", "sport=", "dport="]
                    .iter()
                    .flat_map(|k| {
                        line.split_whitespace()
                            .filter_map(move |w| w.strip_prefix(k))
                            .take(2)
                    })
                    .collect();
                // v = [orig src, reply src, orig dst, reply dst, orig sport, reply sport, ...]
                (v.len() == 8 && v[0] == host).then(|| {
                    [v[1], v[3], v[5], v[7]].map(str::to_string) // reply: R, W, r, P
                })
            })
            .collect();
        // While the ports are handed over, the host's packets must not make new mappings on
        // them: the router drops what the host sends for those few milliseconds.
        let pause = "table ip natlab_pause {\n  chain forward {\n    \
                     type filter hook forward priority -10; policy accept;\n    \
                     iifname \"lan\" drop\n  }\n}\n";
        exec(&r, &["nft", "-f", "-"], Some(pause))
            .unwrap_or_else(|e| panic!("NAT lab: pausing the router failed: {e}"));
        self.forget_mappings(id);
        for [remote, wan, rport, port] in &taken {
            exec(
                &r,
                &[
                    "conntrack",
                    "-I",
                    "-p",
                    "udp",
                    "-s",
                    wan,
                    "-d",
                    remote,
                    "--sport",
                    port,
                    "--dport",
                    rport,
                    "-r",
                    remote,
                    "-q",
                    wan,
                    "--reply-port-src",
                    rport,
                    "--reply-port-dst",
                    port,
                    "-t",
                    "300",
                ],
                None,
            )
            .unwrap_or_else(|e| panic!("NAT lab: conntrack -I failed: {e}"));
        }
        exec(&r, &["nft", "delete", "table", "ip", "natlab_pause"], None)
            .unwrap_or_else(|e| panic!("NAT lab: resuming the router failed: {e}"));
        taken.len()
    }

    /// Updates a port's shaping and reloads the switch's `bridge natlab_shape` table.
    fn shape(&self, id: HostId, edit: impl FnOnce(&mut Shaping)) {
        let port = self.host(id).port.clone();
        let mut all = self.shaping.lock().unwrap_or_else(|p| p.into_inner());
        edit(all.entry(port).or_default());
        let mut rules = String::from(
            "table bridge natlab_shape\ndelete table bridge natlab_shape\n\
             table bridge natlab_shape {\n  chain forward {\n    \
             type filter hook forward priority 0; policy accept;\n",
        );
        for (port, s) in all.iter() {
            for dir in ["iifname", "oifname"] {
                if s.down {
                    rules += &format!("    {dir} \"{port}\" ether type ip drop\n");
                }
                if s.loss_percent > 0 {
                    rules += &format!(
                        "    {dir} \"{port}\" ether type ip numgen random mod 100 < {} drop\n",
                        s.loss_percent
                    );
                }
                if let Some(kb) = s.rate_kbytes {
                    rules += &format!(
                        "    {dir} \"{port}\" ether type ip limit rate over {kb} kbytes/second \
                         burst {kb} kbytes drop\n"
                    );
                }
            }
        }
        rules += "  }\n}\n";
        exec(&self.switch, &["nft", "-f", "-"], Some(&rules))
            .unwrap_or_else(|e| panic!("NAT lab: shaping failed: {e}\n{rules}"));
    }
}

impl Drop for NatLab {
    /// Kills every process left in the lab's namespaces, then deletes them (hosts and
    /// routers first, the switch last) and the temporary directory, ignoring errors.
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            delete_namespace(ns);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The nftables script (table `ip natlab`, replaced atomically) making a router behave as
/// `kind` for the host at `host` (the router's interfaces are `wan` and `lan`); `None` for
/// [`NatKind::None`].
///
/// Common to all kinds: outbound packets are masqueraded to the WAN address (Linux keeps the
/// source port when it is free, which gives endpoint-independent mapping; `fully-random`
/// picks a new random port per conntrack entry, i.e. per destination, for the symmetric
/// NAT); inbound packets are forwarded only when they belong to a known connection
/// (conntrack) or were let in by the kind's DNAT rule, and every other packet arriving on
/// `wan` is dropped in `input` too. That last drop matters: an unsolicited packet accepted
/// into the router's own stack would leave a conntrack entry for (remote, WAN:port), and a
/// later outbound flow from the host to that remote would then get a different public port.
///
/// Full cone: each host source port sending out is recorded in set `mapped` (refreshed per
/// packet, expiring after `timeout` s); inbound TCP/UDP to a recorded port is DNATed to the
/// host, whoever sends it. Restricted cone: the same with set `contacted` keyed by
/// (remote IP, protocol, host port), so only IPs the host has sent to from that port get in.
/// Both rely on the public port being the host's port (true here: one host per router).
pub fn nat_ruleset(kind: NatKind, host: Ipv4Addr, timeout_secs: u32) -> Option<String> {
    let t = timeout_secs;
    let (set, prerouting, masquerade, record) = match kind {
        NatKind::None => return None,
        NatKind::PortRestrictedCone => (String::new(), String::new(), "masquerade", String::new()),
        NatKind::Symmetric => (
            String::new(),
            String::new(),
            "masquerade fully-random",
            String::new(),
        ),
        NatKind::FullCone => (
            "  set mapped {\n    type inet_proto . inet_service\n    flags timeout\n    \
             size 65535\n  }\n"
                .to_string(),
            format!("    iifname \"wan\" meta l4proto . th dport @mapped dnat to {host}\n"),
            "masquerade",
            format!(
                "    iifname \"lan\" oifname \"wan\" meta l4proto {{ tcp, udp }} \
                 update @mapped {{ meta l4proto . th sport timeout {t}s }}\n"
            ),
        ),
        NatKind::RestrictedCone => (
            "  set contacted {\n    type ipv4_addr . inet_proto . inet_service\n    \
             flags timeout\n    size 65535\n  }\n"
                .to_string(),
            format!(
                "    iifname \"wan\" ip saddr . meta l4proto . th dport @contacted \
                 dnat to {host}\n"
            ),
            "masquerade",
            format!(
                "    iifname \"lan\" oifname \"wan\" meta l4proto {{ tcp, udp }} \
                 update @contacted {{ ip daddr . meta l4proto . th sport timeout {t}s }}\n"
            ),
        ),
    };
    Some(format!(
        "table ip natlab\n\
         delete table ip natlab\n\
         table ip natlab {{\n\
         {set}\
         \x20 chain prerouting {{\n\
         \x20   type nat hook prerouting priority dstnat; policy accept;\n\
         {prerouting}\
         \x20 }}\n\
         \x20 chain postrouting {{\n\
         \x20   type nat hook postrouting priority srcnat; policy accept;\n\
         \x20   oifname \"wan\" {masquerade}\n\
         \x20 }}\n\
         \x20 chain forward {{\n\
         \x20   type filter hook forward priority filter; policy accept;\n\
         {record}\
         \x20   ct state established,related accept\n\
         \x20   iifname \"wan\" ct status dnat accept\n\
         \x20   iifname \"wan\" drop\n\
         \x20 }}\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority filter; policy accept;\n\
         \x20   iifname \"wan\" ct state established,related accept\n\
         \x20   iifname \"wan\" drop\n\
         \x20 }}\n\
         }}\n"
    ))
}

/// Sets the router's conntrack UDP timeouts (unreplied and stream) to `secs`.
fn set_conntrack_udp_timeouts(router: &str, secs: u32) -> Result<(), String> {
    for key in [
        "net.netfilter.nf_conntrack_udp_timeout",
        "net.netfilter.nf_conntrack_udp_timeout_stream",
    ] {
        exec(router, &["sysctl", "-qw", &format!("{key}={secs}")], None)?;
    }
    Ok(())
}

/// Deletes namespaces and temporary directories left by earlier labs whose process is gone
/// (e.g. killed by SIGKILL, which skips `Drop`). Never touches those of live processes or of
/// other tools.
fn remove_stale() {
    remove_stale_namespaces(PREFIX);
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if lab_pid(PREFIX, &name.to_string_lossy()).is_some_and(is_dead) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Ok when we are root and `ip` and `nft` run; otherwise why not.
fn available() -> Result<(), String> {
    require_root_and(&[("ip", "-V", "iproute2"), ("nft", "--version", "nftables")])
}

/// Runs `ip <args>`; its stdout, or an error naming the command and its stderr.
fn ip(args: &[&str]) -> Result<String, String> {
    output("ip", args, None)
}

/// Runs `ip netns exec <ns> <args>` with `stdin` fed in; its stdout or an error.
fn exec(ns: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    output("ip", &all, stdin)
}

fn output(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let what = || format!("`{program} {}`", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", what()))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| format!("{}: writing stdin: {e}", what()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", what()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} failed ({}): {}",
            what(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Panics unless coturn is installed ([`coturn_installed`]); the tests that call it are
/// `#[ignore]`d by default for that reason.
pub fn require_coturn() {
    if !coturn_installed() {
        unavailable("coturn (turnserver, turnutils_natdiscovery) is not installed");
    }
}

/// True when coturn's `turnserver` and `turnutils_natdiscovery` are installed.
pub fn coturn_installed() -> bool {
    let runs = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok() // natdiscovery exits non-zero on usage; existing is enough
    };
    runs("turnserver", "--version") && runs("turnutils_natdiscovery", "-h")
}

/// coturn's `turnserver` running in a lab's server namespace; killed on drop.
pub struct Coturn {
    child: std::process::Child,
    log: PathBuf,
    conf: PathBuf,
    addr: SocketAddr,
}

/// Counter making coturn file names unique within a process.
static NEXT_COTURN: AtomicUsize = AtomicUsize::new(0);

/// Starts `turnserver` in `lab`'s server namespace and waits until it listens.
///
/// STUN (RFC 5389/5780: both server IPs, ports 3478 and 3479, so CHANGE-REQUEST works) and
/// TURN over UDP and TCP on 198.51.100.10:3478 and 198.51.100.11:3478, long-term credentials
/// user [`TURN_USER`] / password [`TURN_PASSWORD`], realm [`TURN_REALM`], relayed addresses
/// on 198.51.100.10. With `lifetime_secs`, allocations live at most that long
/// (`max-allocate-lifetime`: the server grants min(requested, max), default request 600 s),
/// so tests can watch refreshes. One server per lab at a time. Logs (verbose) go to
/// [`Coturn::log_path`]. Panics when it does not come up within 10 s.
pub async fn start_coturn(lab: &NatLab, lifetime_secs: Option<u32>) -> Coturn {
    let n = NEXT_COTURN.fetch_add(1, Ordering::Relaxed);
    let dir = lab.dir();
    let conf = dir.join(format!("coturn-{n}.conf"));
    let log = dir.join(format!("coturn-{n}.log"));
    // No trailing comments: coturn would take them as part of the value.
    let mut text = format!(
        "listening-ip={server_ip}\n\
         listening-ip={server_alt_ip}\n\
         listening-port={STUN_PORT}\n\
         alt-listening-port={STUN_ALT_PORT}\n\
         relay-ip={server_ip}\n\
         min-port=49152\n\
         max-port=65535\n\
         fingerprint\n\
         lt-cred-mech\n\
         user={TURN_USER}:{TURN_PASSWORD}\n\
         realm={TURN_REALM}\n\
         no-cli\n\
         no-tls\n\
         no-dtls\n\
         verbose\n\
         log-file=stdout\n\
         simple-log\n\
         pidfile={pid}\n\
         userdb={db}\n",
        server_ip = lab.server_ip(),
        server_alt_ip = lab.server_alt_ip(),
        pid = dir.join(format!("coturn-{n}.pid")).display(),
        db = dir.join(format!("coturn-{n}.db")).display(),
    );
    if let Some(secs) = lifetime_secs {
        text += &format!("max-allocate-lifetime={secs}\n");
    }
    std::fs::write(&conf, &text).unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
    let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let err = out.try_clone().expect("dup log file");
    let child = Command::new("ip")
        .args(["netns", "exec", lab.server_ns(), "turnserver", "-c"])
        .arg(&conf)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("start turnserver: {e}"));
    let mut coturn = Coturn {
        child,
        log,
        conf,
        addr: SocketAddr::V4(SocketAddrV4::new(lab.server_ip(), STUN_PORT)),
    };

    let wanted: Vec<String> = [
        ("udp", lab.server_ip(), STUN_PORT),
        ("udp", lab.server_ip(), STUN_ALT_PORT),
        ("udp", lab.server_alt_ip(), STUN_PORT),
        ("udp", lab.server_alt_ip(), STUN_ALT_PORT),
        ("tcp", lab.server_ip(), STUN_PORT),
    ]
    .iter()
    .map(|(p, a, port)| format!("{p} {a}:{port}"))
    .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = coturn.child.try_wait() {
            panic!("turnserver exited ({status}):\n{}", coturn.log());
        }
        let listening = lab
            .command(lab.server_ns(), "ss")
            .args(["-Hlnut"])
            .output()
            .await
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        // "udp   UNCONN 0 0 198.51.100.10:3478 0.0.0.0:*"
        let have: Vec<String> = listening
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some(format!("{} {}", f.first()?, f.get(4)?))
            })
            .collect();
        if wanted.iter().all(|w| have.contains(w)) {
            return coturn;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "turnserver not listening after 10 s (have {have:?}):\n{}",
                coturn.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Coturn {
    /// The STUN/TURN address to use: 198.51.100.10:3478.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Path of the server's log (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Path of the configuration file it runs with.
    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Names and SHA-256 digests (hex) of the files in `dir`, sorted by name.
pub fn file_digests(dir: &Path) -> Vec<(String, String)> {
    use sha2::Digest;
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(bytes) = std::fs::read(e.path()) {
            files.push((
                e.file_name().to_string_lossy().into_owned(),
                hex::encode(sha2::Sha256::digest(&bytes)),
            ));
        }
    }
    files.sort();
    files
}

/// A program run in a lab namespace that talks in JSON lines (`rats-natlab node ...`, an
/// interop peer), with its stdin for commands.
pub struct LabNode {
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl LabNode {
    /// Starts `program <args>` on `host`.
    pub fn spawn(
        lab: &NatLab,
        host: HostId,
        program: &str,
        args: &[String],
    ) -> Result<LabNode, String> {
        use tokio::io::AsyncBufReadExt;
        let mut child = lab
            .command(lab.host_ns(host), program)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("start {program}: {e}"))?;
        let out = child.stdout.take().ok_or("no stdout")?;
        Ok(LabNode {
            child,
            lines: tokio::io::BufReader::new(out).lines(),
        })
    }

    /// The next JSON line before `deadline`; `None` at the deadline or when the node exits.
    pub async fn next(&mut self, deadline: std::time::Instant) -> Option<serde_json::Value> {
        loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            let line = tokio::time::timeout(left, self.lines.next_line())
                .await
                .ok()?
                .ok()??;
            if let Ok(v) = serde_json::from_str(&line) {
                return Some(v);
            }
        }
    }

    /// The next JSON line within `secs`; panics (naming `what`) if none comes or it reports an
    /// `error`.
    pub async fn expect_next(&mut self, secs: u64, what: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let v = self
            .next(deadline)
            .await
            .unwrap_or_else(|| panic!("no {what} within {secs} s (or the program exited)"));
        assert!(v.get("error").is_none(), "{what}: {v}");
        v
    }

    /// Waits for the `ready` line (20 s at most) and returns it.
    pub async fn ready(&mut self) -> Result<serde_json::Value, String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while let Some(v) = self.next(deadline).await {
            match v["event"].as_str() {
                Some("ready") => return Ok(v),
                Some("error") => return Err(v.to_string()),
                _ => {}
            }
        }
        Err("lab node not ready in time".into())
    }

    /// Writes a command line to the node's stdin.
    pub async fn command(&mut self, line: &str) -> Result<(), String> {
        use tokio::io::AsyncWriteExt;
        let stdin = self.child.stdin.as_mut().ok_or("no stdin")?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())
    }
}
