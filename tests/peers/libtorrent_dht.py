#!/usr/bin/env python3
"""Private, loopback-only BitTorrent mainline DHT (BEP 5) made of libtorrent
sessions, for interop tests against rats' DHT node.

Install:  python3 -m pip install libtorrent    (PyPI wheel, libtorrent 2.x)
Run:      python3 tests/peers/libtorrent_dht.py [N] [--bootstrap HOST:PORT]...
                                                [--timeout SECS] [--verbose]

Every session listens on 127.0.0.1 only; DHT bootstrap routers, LSD, UPnP and
NAT-PMP are disabled in the settings the sessions are *constructed* with, so
nothing is ever sent off loopback. Sessions bootstrap only from each other and
from the --bootstrap nodes (which must be loopback addresses too).

Line protocol, one JSON object per line on stdin/stdout:
  -> {"ready": true, "nodes": [["127.0.0.1", port], ...]}  (DHT UDP ports)
  <- {"cmd":"announce","hash":"<40 hex>","port":N[,"node":0][,"implied_port":false]
      [,"seed":false][,"timeout":10]}
  -> {"announced": "<hash>", "node": i, "stored_by": [session indices], "confirmed": bool}
     Printed once another local session has received the announce_peer
     (its dht_announce_alert), or after the timeout with confirmed=false
     (e.g. when the only closest node is an external one).
  <- {"cmd":"get_peers","hash":"<40 hex>","node":i[,"timeout":10][,"expect":N]}
  -> {"peers": [["127.0.0.1", port], ...], "hash": "<hash>", "node": i}
     Union of the peers of every dht_get_peers_reply_alert for that lookup.
     Returns once at least `expect` (default 1) peers were seen and no new
     reply arrived for 1 s, or at the timeout (possibly with an empty list).
  <- {"cmd":"add_node","host":"127.0.0.1","port":N}
  -> {"added": ["127.0.0.1", N]}
  <- {"cmd":"nodes"}
  -> {"routing": [dht node count per session]}
  <- {"cmd":"quit"}  (or EOF)
  -> {"bye": true}
Errors are reported as {"error": "..."}. Diagnostics go to stderr.
"""

import argparse
import ipaddress
import json
import os
import select
import sys
import time

import libtorrent as lt

HOST = "127.0.0.1"


def log(*args):
    print("[libtorrent_dht]", *args, file=sys.stderr, flush=True)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def settings_for(verbose):
    cat = lt.alert.category_t
    mask = (cat.dht_notification | cat.status_notification
            | cat.error_notification | cat.dht_operation_notification
            | cat.stats_notification)
    if verbose:
        mask |= cat.dht_log_notification
    wanted = {
        # Never leave loopback: no routers, no LSD/UPnP/NAT-PMP, 127.0.0.1 only.
        "enable_dht": True,
        "dht_bootstrap_nodes": "",
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        "listen_interfaces": HOST + ":0",
        "alert_mask": int(mask),
        "alert_queue_size": 100000,
        # All nodes share 127.0.0.1: lift the per-IP restrictions.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_enforce_node_id": False,
        "dht_prefer_verified_node_ids": False,
        "dht_ignore_dark_internet": False,
        "dht_extended_routing_table": True,
        "dht_max_peers_reply": 100,
        "dht_max_fail_count": 100,
        # The DHT rate limiter is keyed by source IP only: with every node
        # on 127.0.0.1 the default (5 pkt/s) would blacklist all of them.
        "dht_block_ratelimit": 100000,
        "dht_block_timeout": 1,
        "dht_upload_rate_limit": 10000000,
        "dht_aggressive_lookups": True,
        "dht_search_branching": 8,
    }
    known = lt.default_settings()
    pack = {k: v for k, v in wanted.items() if k in known}
    missing = sorted(set(wanted) - set(known))
    if missing and verbose:
        log("settings not in this libtorrent version:", missing)
    return pack


class Node:
    def __init__(self, idx, verbose):
        self.idx = idx
        # Settings go to the constructor so they are in force before the
        # session starts anything (e.g. the DHT bootstrap).
        self.ses = lt.session(settings_for(verbose))
        # Older (1.1/1.2) bindings keep some DHT knobs in dht_settings.
        if hasattr(self.ses, "get_dht_settings") and hasattr(lt, "dht_settings"):
            try:
                ds = self.ses.get_dht_settings()
                for k, v in (("restrict_routing_ips", False),
                             ("restrict_search_ips", False),
                             ("enforce_node_id", False),
                             ("ignore_dark_internet", False),
                             ("prefer_verified_node_ids", False),
                             ("block_ratelimit", 100000),
                             ("upload_rate_limit", 10000000)):
                    if hasattr(ds, k):
                        setattr(ds, k, v)
                self.ses.set_dht_settings(ds)
            except Exception as e:  # deprecated API may be absent
                log("dht_settings not applied:", e)
        self.udp_port = None
        self.tcp_port = None
        self.dht_nodes = 0


class Cluster:
    def __init__(self, n, verbose):
        self.verbose = verbose
        self.nodes = [Node(i, verbose) for i in range(n)]
        self.metric_dht_nodes = lt.find_metric_idx("dht.dht_nodes")
        # hash(hex) -> list of (session idx, ip, port) from dht_announce_alert
        self.incoming_announces = {}
        # (session idx, hash hex) -> set of (ip, port), and time of last reply
        self.replies = {}
        self.last_reply = {}

    # ---- alert pump -------------------------------------------------------
    def pump(self):
        for node in self.nodes:
            for a in node.ses.pop_alerts():
                self.handle(node, a)

    def handle(self, node, a):
        if isinstance(a, lt.listen_succeeded_alert):
            udp = a.socket_type == lt.socket_type_t.udp
            if udp:
                node.udp_port = a.port
            elif a.socket_type == lt.socket_type_t.tcp:
                node.tcp_port = a.port
            log("node %d listening %s %s:%d" % (node.idx, a.socket_type, a.address, a.port))
        elif isinstance(a, lt.listen_failed_alert):
            log("node %d listen failed: %s" % (node.idx, a.message()))
        elif isinstance(a, lt.dht_get_peers_reply_alert):
            h = str(a.info_hash)
            key = (node.idx, h)
            peers = self.replies.setdefault(key, set())
            for ip, port in a.peers():
                peers.add((ip, port))
            self.last_reply[key] = time.monotonic()
        elif isinstance(a, lt.dht_announce_alert):
            h = str(a.info_hash)
            self.incoming_announces.setdefault(h, []).append((node.idx, a.ip, a.port))
            log("node %d got announce_peer %s from %s port %d" % (node.idx, h, a.ip, a.port))
        elif isinstance(a, lt.session_stats_alert):
            vals = a.values  # dict keyed by metric name in the 2.x bindings
            node.dht_nodes = int(vals["dht.dht_nodes"] if isinstance(vals, dict)
                                 else vals[self.metric_dht_nodes])
        elif self.verbose or (a.category() & lt.alert.category_t.error_notification):
            log("node %d %s: %s" % (node.idx, type(a).__name__, a.message()))

    def wait(self, cond, timeout):
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if cond():
                return True
            if time.monotonic() >= deadline:
                return False
            for node in self.nodes:
                node.ses.wait_for_alert(20)

    # ---- operations -------------------------------------------------------
    def endpoints(self):
        return [[HOST, n.udp_port] for n in self.nodes]

    def add_node(self, host, port, skip=None):
        for node in self.nodes:
            if node.idx != skip:
                node.ses.add_dht_node((host, int(port)))

    def routing_counts(self):
        for node in self.nodes:
            node.dht_nodes = -1
            node.ses.post_session_stats()
        self.wait(lambda: all(n.dht_nodes >= 0 for n in self.nodes), 5)
        return [n.dht_nodes for n in self.nodes]

    def announce(self, hexhash, port, idx=0, implied_port=False, seed=False, timeout=10.0):
        flags = (1 if seed else 0) | (2 if implied_port else 0)
        before = len(self.incoming_announces.get(hexhash, []))
        self.nodes[idx].ses.dht_announce(lt.sha1_hash(bytes.fromhex(hexhash)), int(port), flags)
        got = lambda: len(self.incoming_announces.get(hexhash, [])) > before
        ok = self.wait(got, timeout)
        if ok:  # let the other stores land too
            self.wait(lambda: False, 0.5)
        stored = sorted({i for i, _, _ in self.incoming_announces.get(hexhash, [])[before:]})
        return {"announced": hexhash, "node": idx, "stored_by": stored, "confirmed": ok}

    def get_peers(self, hexhash, idx, timeout=10.0, expect=1):
        key = (idx, hexhash)
        self.replies[key] = set()
        self.last_reply.pop(key, None)
        self.nodes[idx].ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(hexhash)))

        def done():
            peers = self.replies.get(key, set())
            last = self.last_reply.get(key)
            return (len(peers) >= expect and last is not None
                    and time.monotonic() - last >= 1.0)

        self.wait(done, timeout)
        peers = sorted(self.replies.get(key, set()))
        return {"peers": [[ip, port] for ip, port in peers], "hash": hexhash, "node": idx}


def check_loopback(host):
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError("refusing non-loopback address %r" % host)


def parse_hostport(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    try:
        check_loopback(host)
        return host, int(port)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=4, help="number of libtorrent sessions")
    ap.add_argument("--bootstrap", action="append", default=[], metavar="HOST:PORT",
                    type=parse_hostport,
                    help="extra (loopback) DHT node to add to every session; repeatable")
    ap.add_argument("--timeout", type=float, default=15.0,
                    help="max seconds to wait for the routing tables at startup")
    ap.add_argument("--verbose", action="store_true", help="log every alert to stderr")
    args = ap.parse_args()
    extra = args.bootstrap

    t0 = time.monotonic()
    cl = Cluster(args.n, args.verbose)
    if not cl.wait(lambda: all(n.udp_port for n in cl.nodes), 10):
        emit({"error": "sessions did not listen"})
        return 1
    if not cl.wait(lambda: all(n.ses.is_dht_running() for n in cl.nodes), 10):
        emit({"error": "dht did not start"})
        return 1
    for node in cl.nodes:
        for other in cl.nodes:
            if other is not node:
                node.ses.add_dht_node((HOST, other.udp_port))
        for host, port in extra:
            node.ses.add_dht_node((host, port))
    # Wait until each session knows every other one (or the timeout).
    want = args.n - 1
    deadline = time.monotonic() + args.timeout
    counts = []
    while time.monotonic() < deadline:
        counts = cl.routing_counts()
        if all(c >= want for c in counts):
            break
        cl.wait(lambda: False, 0.2)
    log("startup took %.2fs, routing %s" % (time.monotonic() - t0, counts))
    emit({"ready": True, "nodes": cl.endpoints()})

    fd = sys.stdin.fileno()
    buf = b""
    eof = False
    while not eof:
        r, _, _ = select.select([fd], [], [], 0.1)
        cl.pump()
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            eof = True
        buf += chunk
        while b"\n" in buf or (eof and buf.strip()):
            if b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
            else:
                line, buf = buf, b""
            line = line.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
                cmd = msg.get("cmd")
                if cmd == "announce":
                    emit(cl.announce(msg["hash"].lower(), msg["port"], int(msg.get("node", 0)),
                                     bool(msg.get("implied_port", False)),
                                     bool(msg.get("seed", False)),
                                     float(msg.get("timeout", 10))))
                elif cmd == "get_peers":
                    emit(cl.get_peers(msg["hash"].lower(), int(msg.get("node", 0)),
                                      float(msg.get("timeout", 10)), int(msg.get("expect", 1))))
                elif cmd == "add_node":
                    host = msg.get("host", HOST)
                    check_loopback(host)
                    cl.add_node(host, int(msg["port"]))
                    emit({"added": [host, int(msg["port"])]})
                elif cmd == "nodes":
                    emit({"routing": cl.routing_counts()})
                elif cmd == "quit":
                    eof = True
                    break
                else:
                    emit({"error": "unknown cmd %r" % cmd})
            except Exception as e:
                emit({"error": "%s: %s" % (type(e).__name__, e)})
    for node in cl.nodes:
        node.ses.pause()
    emit({"bye": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
