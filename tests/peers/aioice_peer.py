#!/usr/bin/env python3
"""ICE peer built on aioice, for interop tests against rats' ICE agent.

Install:  python3 -m pip install aioice      (tested with aioice 0.13.0)

Usage:
  aioice_peer.py controlling|controlled [--stun HOST:PORT]
                 [--turn HOST:PORT --turn-user U --turn-pass P]
                 [--turn-transport udp|tcp] [--relay-only] [-v]

One JSON object per line on stdout (flushed); logging goes to stderr.

  1. Gathers candidates (IPv4 only; aioice never gathers 127.0.0.1, so run it
     in a network namespace with a non-loopback address), then prints
       {"event":"offer","ufrag":"...","pwd":"...",
        "candidates":["<foundation> 1 udp <prio> <ip> <port> typ host", ...]}
     (candidate strings have no "candidate:" prefix).
  2. Reads one line on stdin, the remote offer in the same format:
       {"ufrag":"...","pwd":"...","candidates":["...", ...]}
     (candidate strings may start with "candidate:" or "a=candidate:").
     Sets the remote credentials, adds every candidate, then end-of-candidates.
  3. Runs connect() (30 s timeout), then prints
       {"event":"connected","local":"ip:port","remote":"ip:port",
        "local_type":"host","remote_type":"host"}
     with the nominated pair (null if it cannot be found).
  4. Sends b"hello from aioice", waits (15 s) for one datagram and prints
       {"event":"received","data":"<utf-8 text>"}
     If that text does not start with "echo:", sends back b"echo:" + data.
  5. Waits for a "quit" line on stdin (or EOF), closes, prints
       {"event":"closed"} and exits 0.

Any failure prints {"event":"error","error":"..."} and exits 1.

Never point --stun/--turn at public servers from a test: use a local server.
"""

import argparse
import asyncio
import json
import logging
import sys
import threading

import aioice
from aioice import Candidate

CONNECT_TIMEOUT = 30.0
RECV_TIMEOUT = 15.0
CLOSE_TIMEOUT = 5.0
HELLO = b"hello from aioice"

log = logging.getLogger("aioice_peer")


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]")
    try:
        return host, int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port in {value!r}") from None


def fmt_addr(addr) -> str | None:
    if not addr:
        return None
    host, port = addr[0], addr[1]
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def strip_candidate(s: str) -> str:
    s = s.strip()
    if s.startswith("a="):
        s = s[2:]
    if s.startswith("candidate:"):
        s = s[len("candidate:"):]
    return s.strip()


class StdinLines:
    """Reads stdin lines in a daemon thread (works for pipes, files and ttys,
    and never blocks interpreter exit). get() returns None on EOF."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue = asyncio.Queue()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for line in sys.stdin:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
        except Exception as e:  # noqa: BLE001
            log.warning("stdin read failed: %s", e)
        finally:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    async def get(self) -> str | None:
        return await self._queue.get()


def nominated_pair(conn: aioice.Connection):
    """The selected pair of component 1. aioice keeps it in the private
    dict Connection._nominated (component -> CandidatePair)."""
    nominated = getattr(conn, "_nominated", None) or {}
    return nominated.get(1)


async def run(args) -> int:
    loop = asyncio.get_running_loop()
    stdin = StdinLines(loop)

    kwargs = dict(
        ice_controlling=(args.role == "controlling"),
        components=1,
        use_ipv4=True,
        use_ipv6=False,
    )
    if args.stun:
        kwargs["stun_server"] = args.stun
    if args.turn:
        kwargs["turn_server"] = args.turn
        kwargs["turn_username"] = args.turn_user
        kwargs["turn_password"] = args.turn_pass
        kwargs["turn_transport"] = args.turn_transport
    if args.relay_only:
        kwargs["transport_policy"] = aioice.TransportPolicy.RELAY

    conn = aioice.Connection(**kwargs)
    try:
        # 1. gather and publish our offer
        await conn.gather_candidates()
        cands = [c.to_sdp() for c in conn.local_candidates]
        log.info("local candidates: %s", cands)
        emit(
            {
                "event": "offer",
                "ufrag": conn.local_username,
                "pwd": conn.local_password,
                "candidates": cands,
            }
        )

        # 2. read the remote offer
        while True:
            line = await stdin.get()
            if line is None:
                raise RuntimeError("stdin closed before the remote offer")
            if line.strip():
                break
        offer = json.loads(line)
        conn.remote_username = offer["ufrag"]
        conn.remote_password = offer["pwd"]
        for raw in offer.get("candidates") or []:
            sdp = strip_candidate(raw)
            if not sdp:
                continue
            try:
                cand = Candidate.from_sdp(sdp)
            except Exception as e:
                raise ValueError(f"bad remote candidate {raw!r}: {e}") from e
            log.info("remote candidate: %s", sdp)
            await conn.add_remote_candidate(cand)
        await conn.add_remote_candidate(None)  # end-of-candidates

        # 3. connectivity checks
        try:
            await asyncio.wait_for(conn.connect(), CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            raise TimeoutError(f"ICE connect timed out after {CONNECT_TIMEOUT:.0f} s")
        pair = nominated_pair(conn)
        emit(
            {
                "event": "connected",
                "local": fmt_addr(pair.local_addr) if pair else None,
                "remote": fmt_addr(pair.remote_addr) if pair else None,
                "local_type": pair.local_candidate.type if pair else None,
                "remote_type": pair.remote_candidate.type if pair else None,
            }
        )

        # 4. data exchange
        await conn.send(HELLO)
        try:
            data = await asyncio.wait_for(conn.recv(), RECV_TIMEOUT)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no datagram received within {RECV_TIMEOUT:.0f} s")
        text = data.decode("utf-8", errors="replace")
        emit({"event": "received", "data": text})
        if not text.startswith("echo:"):
            await conn.send(b"echo:" + data)

        # 5. wait for "quit" or EOF
        while True:
            line = await stdin.get()
            if line is None or line.strip() == "quit":
                break
            log.info("ignoring stdin line %r", line.rstrip("\n"))

        await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT)
        emit({"event": "closed"})
        return 0
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        log.exception("failure")
        emit({"event": "error", "error": str(e) or type(e).__name__})
        try:
            await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT)
        except BaseException:  # noqa: BLE001
            pass
        return 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("role", choices=["controlling", "controlled"])
    p.add_argument("--stun", type=parse_hostport, metavar="HOST:PORT")
    p.add_argument("--turn", type=parse_hostport, metavar="HOST:PORT")
    p.add_argument("--turn-user")
    p.add_argument("--turn-pass")
    p.add_argument("--turn-transport", choices=["udp", "tcp"], default="udp")
    p.add_argument(
        "--relay-only",
        action="store_true",
        help="gather only relayed candidates (TransportPolicy.RELAY)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    try:
        args = p.parse_args()
    except SystemExit as e:
        if e.code not in (0, None):
            emit({"event": "error", "error": "bad command line"})
            return 1
        raise
    if args.turn and (args.turn_user is None or args.turn_pass is None):
        emit({"event": "error", "error": "--turn needs --turn-user and --turn-pass"})
        return 1

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    log.info("aioice %s, role %s", getattr(aioice, "__version__", "?"), args.role)

    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        emit({"event": "error", "error": "interrupted"})
        return 1
    except Exception as e:  # noqa: BLE001
        emit({"event": "error", "error": str(e) or type(e).__name__})
        return 1


if __name__ == "__main__":
    sys.exit(main())
