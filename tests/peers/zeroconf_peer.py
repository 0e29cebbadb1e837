#!/usr/bin/env python3
"""mDNS / DNS-SD peer built on python-zeroconf, for interop tests against rats'
mDNS discovery plugin.

Install:  python3 -m pip install zeroconf     (tested with 0.154)
Run ONLY inside a network namespace the test created, never in the root one:
  ip netns exec NS python3 tests/peers/zeroconf_peer.py MODE ...

mDNS is multicast: run in the root namespace this would talk to the machine's
real LAN. The script therefore refuses to run when it sees any non-loopback
IPv4 address outside 10.77.0.0/16 (the test lab's range) unless
--i-know-this-is-not-a-lab is given.

Zeroconf is bound to the namespace's non-loopback IPv4 addresses only
(interfaces=[...], IPv4 only), so it never uses `lo` or IPv6.

Modes (one JSON object per line on stdout, flushed; diagnostics on stderr):

  browse <service_type> [--secs N]
      -> {"event":"ready"}                       once the browser runs
      -> {"event":"found","name":"<instance>.<service_type>","port":N,
          "addresses":["10.77.0.1",...],"server":"host.local.",
          "properties":{"id":"...","v":"...",...}}
         when a service is added and resolved (TXT values decoded as UTF-8,
         a key without '=' gives null)
      -> {"event":"updated", ...same fields...}  when its records change
      -> {"event":"removed","name":"..."}        on goodbye / TTL expiry
      Exits after N seconds (default 30) or on stdin EOF (so give it a pipe,
      not /dev/null).

  publish <service_type> <instance_name> <port> [key=value ...]
      instance_name is the first label ("abc") or the full name
      ("abc._rats._tcp.local."). The service's host name is
      "<instance>-<first ip with dashes>.local." (the namespaces share the
      machine's hostname, so it cannot be used: A records would conflict).
      -> {"event":"published","name":"...","addresses":[...],"server":"..."}
      stays until stdin EOF or a "quit" line, then unregisters (goodbye)
      -> {"event":"unpublished"}

  garbage <target_ip> [--seed N] [--iface-ip IP]
      Sends a battery of malformed mDNS packets to 224.0.0.251:5353 and to
      <target_ip>:5353 (standard library sockets only; IP_MULTICAST_IF = this
      namespace's address towards target_ip). Each hand-made packet is sent as
      a response (flags 0x8400) and as a query (flags 0), from source port 5353
      when it can be bound (mDNS receivers may ignore other source ports) and
      again from an ephemeral port; then a huge packet (9000 bytes, 1400 if
      that fails) and 200 random packets (half fully random, half a response
      header followed by random bytes).
      Note: some of these packets, taken together, describe a resolvable but
      invalid service "garbage._rats._tcp.local." (port 8080, A 10.77.0.254,
      SRV target "_rats._tcp.local.", TXT id=ab v=1 port=99999): a receiver
      must not turn it into a peer (the id is not 64 hex digits).
      -> {"event":"sent","count":N,"errors":E,"src_port_5353":bool,"seed":S}
"""

import argparse
import ipaddress
import json
import os
import random
import socket
import struct
import sys
import threading
import time

MDNS_ADDR = "224.0.0.251"
MDNS_PORT = 5353
LAB_NET = ipaddress.ip_network("10.77.0.0/16")

_print_lock = threading.Lock()


def emit(obj):
    with _print_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def log(*args):
    with _print_lock:
        print("zeroconf_peer:", *args, file=sys.stderr, flush=True)


def local_ipv4s():
    """Non-loopback IPv4 addresses of this namespace (via ifaddr, a zeroconf dependency)."""
    import ifaddr

    out = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                addr = ipaddress.ip_address(ip.ip)
                if not addr.is_loopback and not addr.is_link_local:
                    out.append(ip.ip)
    return out


def check_lab(addrs, override):
    outside = [a for a in addrs if ipaddress.ip_address(a) not in LAB_NET]
    if outside and not override:
        sys.exit(
            f"zeroconf_peer: refusing to run: addresses {outside} are not in {LAB_NET}; "
            "run me inside a test network namespace (ip netns exec NS ...)"
        )
    if not addrs:
        sys.exit("zeroconf_peer: no non-loopback IPv4 address in this namespace")


def stdin_watcher(stop, on_line=None):
    """Sets `stop` on stdin EOF (or when on_line(line) returns True)."""

    def run():
        try:
            for line in sys.stdin:
                if on_line and on_line(line.strip()):
                    break
        except (OSError, ValueError):
            pass
        stop.set()

    threading.Thread(target=run, daemon=True).start()


def make_zeroconf(addrs):
    from zeroconf import IPVersion, Zeroconf

    return Zeroconf(interfaces=addrs, ip_version=IPVersion.V4Only)


def info_event(kind, info):
    props = {}
    for k, v in (info.properties or {}).items():
        key = k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
        if v is None:
            props[key] = None
        else:
            props[key] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return {
        "event": kind,
        "name": info.name,
        "port": info.port,
        "addresses": info.parsed_addresses(),
        "server": info.server,
        "properties": props,
    }


# ---------------------------------------------------------------- browse


def browse(args):
    from zeroconf import ServiceBrowser, ServiceStateChange

    addrs = local_ipv4s()
    check_lab(addrs, args.i_know_this_is_not_a_lab)
    zc = make_zeroconf(addrs)
    stop = threading.Event()
    found = set()  # names a "found" line was printed for (and not removed since)
    found_lock = threading.Lock()

    def resolve(type_, name):
        info = zc.get_service_info(type_, name, timeout=3000)
        if info is None or info.port is None:
            log(f"could not resolve {name}")
            return
        # Resolutions run concurrently: the first one to succeed says "found",
        # whether it was started by Added or by Updated.
        with found_lock:
            kind = "updated" if name in found else "found"
            found.add(name)
            emit(info_event(kind, info))

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Removed:
            with found_lock:
                found.discard(name)
                emit({"event": "removed", "name": name})
        else:
            # Resolving blocks: not on the browser's thread.
            threading.Thread(target=resolve, args=(service_type, name), daemon=True).start()

    browser = ServiceBrowser(zc, args.service_type, handlers=[on_change])
    emit({"event": "ready"})
    stdin_watcher(stop)
    stop.wait(args.secs)
    browser.cancel()
    zc.close()


# ---------------------------------------------------------------- publish


def publish(args):
    from zeroconf import ServiceInfo

    type_ = args.service_type
    if not type_.endswith("."):
        type_ += "."
    addrs = local_ipv4s()
    check_lab(addrs, args.i_know_this_is_not_a_lab)

    name = args.instance_name
    if not name.endswith("." + type_):
        name = f"{name}.{type_}"
    label = name[: -len(type_) - 1]
    host = "".join(c if c.isalnum() else "-" for c in label)[:40].strip("-") or "zc"
    server = f"{host}-{addrs[0].replace('.', '-')}.local."

    props = {}
    for kv in args.properties:
        if "=" in kv:
            k, v = kv.split("=", 1)
            props[k] = v
        else:
            props[kv] = None

    info = ServiceInfo(
        type_,
        name,
        port=args.port,
        properties=props,
        server=server,
        parsed_addresses=addrs,
    )
    zc = make_zeroconf(addrs)
    zc.register_service(info)
    emit({"event": "published", "name": name, "addresses": addrs, "server": server})

    stop = threading.Event()
    stdin_watcher(stop, on_line=lambda line: line == "quit")
    stop.wait()
    zc.unregister_service(info)  # sends the goodbye (TTL 0) packets
    zc.close()
    emit({"event": "unpublished"})


# ---------------------------------------------------------------- garbage


def header(flags, qd=0, an=0, ns=0, ar=0, ident=0):
    return struct.pack("!6H", ident, flags, qd, an, ns, ar)


def qname(*labels):
    out = b""
    for label in labels:
        b = label.encode()
        out += bytes([len(b)]) + b
    return out + b"\x00"


RATS = qname("_rats", "_tcp", "local")
INSTANCE = qname("garbage", "_rats", "_tcp", "local")
T_A, T_PTR, T_TXT, T_AAAA, T_SRV = 1, 12, 16, 28, 33


def rr(name, rtype, rdata, rdlength=None, cls=1, ttl=120):
    if rdlength is None:
        rdlength = len(rdata)
    return name + struct.pack("!HHIH", rtype, cls, ttl, rdlength) + rdata


def malformed(flags):
    """(description, packet) pairs; `flags` goes into every full header."""
    H = lambda **kw: header(flags, **kw)  # noqa: E731
    pkts = [
        ("empty", b""),
        ("truncated header 3 bytes", H()[:3]),
        ("truncated header 11 bytes", H(an=1)[:11]),
        ("65535 of every section, no body", H(qd=0xFFFF, an=0xFFFF, ns=0xFFFF, ar=0xFFFF)),
        ("65535 answers, one real", H(an=0xFFFF) + rr(RATS, T_PTR, INSTANCE)),
        # Offset 12 is the first byte after the header.
        ("question name: pointer to itself", H(qd=1) + b"\xc0\x0c" + struct.pack("!HH", T_PTR, 1)),
        ("answer name: pointer to itself", H(an=1) + rr(b"\xc0\x0c", T_PTR, INSTANCE)),
        ("label then pointer to its own start", H(qd=1) + b"\x01a\xc0\x0c" + struct.pack("!HH", T_PTR, 1)),
        # 12: c0 0e -> 14: c0 0c -> 12 ...
        ("two pointers at each other (question)", H(qd=1) + b"\xc0\x0e\xc0\x0c" + struct.pack("!H", 1)),
        (
            "two pointers at each other (answer)",
            H(an=1) + b"\x01a\xc0\x10\xc0\x0e" + struct.pack("!HHIH", T_PTR, 1, 120, 2) + b"\xc0\x0c",
        ),
        ("pointer past the end of the packet", H(qd=1) + b"\xff\xf0" + struct.pack("!HH", T_PTR, 1)),
        ("pointer forward into the void", H(an=1) + rr(b"\xc0\x40", T_PTR, INSTANCE)),
        ("label length 63, 10 bytes follow", H(qd=1) + b"\x3f" + b"a" * 10),
        ("label length 63, nothing follows", H(an=1) + b"\x05_rats\x3f"),
        ("label type 0x40 (extended)", H(qd=1) + b"\x41" + b"a" * 1 + b"\x00" + struct.pack("!HH", T_PTR, 1)),
        ("label type 0x80 (reserved)", H(qd=1) + b"\x80" + b"b" * 8 + b"\x00" + struct.pack("!HH", T_PTR, 1)),
        ("label type 0xbf", H(an=1) + rr(b"\xbf" + b"c" * 20 + b"\x00", T_PTR, INSTANCE)),
        ("name over 255 bytes", H(qd=1) + b"".join(b"\x3f" + b"x" * 63 for _ in range(6)) + b"\x00" + struct.pack("!HH", T_PTR, 1)),
        ("no terminating zero label", H(qd=1) + b"\x05_rats\x04_tcp\x05local"),
        ("answer rdlength 65535, 4 bytes present", H(an=1) + rr(RATS, T_PTR, b"\x01x\xc0\x0c", rdlength=0xFFFF)),
        ("answer rdlength 200, packet ends", H(an=1) + rr(RATS, T_PTR, b"", rdlength=200)),
        ("answer cut inside its fixed fields", H(an=1) + RATS + struct.pack("!HH", T_PTR, 1)),
        ("PTR _rats._tcp.local. rdata = pointer to itself", H(an=1) + RATS + struct.pack("!HHIH", T_PTR, 1, 120, 2) + b"\xc0" + bytes([12 + len(RATS) + 10])),
        (
            "PTR _rats._tcp.local. rdata = label + pointer loop",
            H(an=1) + RATS + struct.pack("!HHIH", T_PTR, 1, 120, 4) + b"\x01z\xc0" + bytes([12 + len(RATS) + 10]),
        ),
        (
            "PTR _rats._tcp.local. rdata = two-pointer loop",
            H(an=1) + RATS + struct.pack("!HHIH", T_PTR, 1, 120, 4)
            + b"\xc0" + bytes([12 + len(RATS) + 12]) + b"\xc0" + bytes([12 + len(RATS) + 10]),
        ),
        ("PTR rdata shorter than its name", H(an=1) + rr(RATS, T_PTR, INSTANCE[:9], rdlength=len(INSTANCE))),
        ("PTR rdata longer than its name", H(an=1) + rr(RATS, T_PTR, INSTANCE + b"\xde\xad\xbe\xef")),
        ("SRV rdlength 2", H(an=1) + rr(INSTANCE, T_SRV, b"\x00\x00")),
        ("SRV target pointer loop", H(an=1) + INSTANCE + struct.pack("!HHIH", T_SRV, 0x8001, 120, 8) + b"\x00\x00\x00\x00\x1f\x90\xc0" + bytes([12 + len(INSTANCE) + 16])),
        ("TXT string longer than rdata", H(an=1) + rr(INSTANCE, T_TXT, b"\xffid=")),
        ("TXT with non-UTF-8 and empty strings", H(an=1) + rr(INSTANCE, T_TXT, b"\x00\x04id=\xff\x03v=\x80\x01=\x06port=x")),
        ("TXT id of wrong length", H(an=1) + rr(INSTANCE, T_TXT, b"\x05id=ab\x03v=1\x0aport=99999")),
        ("A rdlength 3", H(an=1) + rr(qname("garbage", "local"), T_A, b"\x0a\x4d\x00")),
        ("A rdlength 5", H(an=1) + rr(qname("garbage", "local"), T_A, b"\x0a\x4d\x00\x01\x02")),
        ("AAAA rdlength 4", H(an=1) + rr(qname("garbage", "local"), T_AAAA, b"\xfe\x80\x00\x00")),
        (
            "complete-looking service, SRV target and A name = the service type",
            H(an=1, ar=2)
            + rr(RATS, T_PTR, INSTANCE)
            + INSTANCE + struct.pack("!HHIH", T_SRV, 0x8001, 120, 8) + b"\x00\x00\x00\x00\x1f\x90\xc0\x0c"
            + rr(b"\xc0\x0c", T_A, b"\x0a\x4d\x00\xfe"),
        ),
        ("deep pointer chain (120 hops)", deep_chain(flags, 120)),
    ]
    return pkts


def deep_chain(flags, hops):
    """`hops`+1 questions, each named by a pointer to the previous question's name: the
    last name is reached through `hops` chained (backward, otherwise valid) pointers."""
    body = qname("a") + struct.pack("!HH", T_PTR, 1)
    prev = 12  # offset of the first name
    for _ in range(hops):
        here = 12 + len(body)
        body += bytes([0xC0 | (prev >> 8), prev & 0xFF]) + struct.pack("!HH", T_PTR, 1)
        prev = here
    return header(flags, qd=hops + 1) + body


def garbage(args):
    target = args.target_ip
    iface_ip = args.iface_ip
    if iface_ip is None:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect((target, MDNS_PORT))  # no packet: only picks the route/source
        iface_ip = probe.getsockname()[0]
        probe.close()
    check_lab([iface_ip], args.i_know_this_is_not_a_lab)
    if ipaddress.ip_address(target) not in LAB_NET and not args.i_know_this_is_not_a_lab:
        sys.exit(f"zeroconf_peer: refusing to send to {target}: not in {LAB_NET}")

    def make_socket(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            except OSError:
                pass
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(iface_ip))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        s.bind((iface_ip, port))
        return s

    socks = []
    src5353 = False
    try:
        socks.append(make_socket(MDNS_PORT))
        src5353 = True
    except OSError as e:
        log(f"cannot bind source port 5353 ({e}); ephemeral port only")
    socks.append(make_socket(0))

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    count = 0
    errors = 0

    def send(pkt, sockets=socks):
        nonlocal count, errors
        for s in sockets:
            for dest in ((MDNS_ADDR, MDNS_PORT), (target, MDNS_PORT)):
                try:
                    s.sendto(pkt, dest)
                    count += 1
                except OSError as e:
                    errors += 1
                    log(f"send {len(pkt)} bytes to {dest}: {e}")
            time.sleep(0.002)  # do not just overflow the receiver's socket buffer

    for flags in (0x8400, 0x0000):
        for desc, pkt in malformed(flags):
            send(pkt)

    # Huge packet: 9000 bytes (IP fragments on a 1500-byte link), else 1400.
    huge = bytes(rng.getrandbits(8) for _ in range(9000))
    for s in socks[:1]:
        try:
            s.sendto(huge, (MDNS_ADDR, MDNS_PORT))
            s.sendto(huge, (target, MDNS_PORT))
            count += 2
        except OSError as e:
            log(f"9000-byte packet refused ({e}); sending 1400 bytes")
            send(huge[:1400], socks[:1])

    for i in range(200):
        n = rng.randint(1, 1400)
        body = bytes(rng.getrandbits(8) for _ in range(n))
        if i % 2:
            body = header(0x8400, qd=rng.randint(0, 3), an=rng.randint(1, 8), ar=rng.randint(0, 4)) + body
        send(body, socks[:1])

    for s in socks:
        s.close()
    emit({"event": "sent", "count": count, "errors": errors, "src_port_5353": src5353, "seed": seed})


# ---------------------------------------------------------------- main


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--i-know-this-is-not-a-lab", action="store_true", help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="mode", required=True)

    b = sub.add_parser("browse")
    b.add_argument("service_type")
    b.add_argument("--secs", type=float, default=30.0)

    pub = sub.add_parser("publish")
    pub.add_argument("service_type")
    pub.add_argument("instance_name")
    pub.add_argument("port", type=int)
    pub.add_argument("properties", nargs="*", metavar="key=value")

    g = sub.add_parser("garbage")
    g.add_argument("target_ip")
    g.add_argument("--seed", type=int)
    g.add_argument("--iface-ip")

    args = p.parse_args()
    {"browse": browse, "publish": publish, "garbage": garbage}[args.mode](args)


if __name__ == "__main__":
    main()
