"""``python -m rats.bench``: small messages per second received into an ``async for`` loop,
and bulk throughput, through the Python API (two clients in one process on 127.0.0.1,
encrypted). It prints numbers (one JSON line per figure) and asserts nothing about them.

    python -m rats.bench [--secs S] [--size BYTES] [--mib N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from ._client import Client


async def _pair() -> "tuple[Client, Client, str]":
    receiver = await Client(local_only=True, listen=["tcp:127.0.0.1:0"]).start()
    sender = await Client(local_only=True, listen=[]).start()
    peer = await sender.connect(receiver.address)
    for _ in range(1000):
        if receiver.peer_count == 1:
            break
        await asyncio.sleep(0.01)
    return receiver, sender, peer


async def messages(secs: float, size: int) -> "dict[str, object]":
    """Messages of ``size`` bytes for about ``secs`` seconds, counted by an ``async for``."""
    if size < 2:
        raise ValueError("--size must be at least 2 (a 1-byte message ends the run)")
    receiver, sender, peer = await _pair()
    inbox = receiver.binaries(capacity=65536)
    payload = b"\x5a" * size
    sent = 0

    async def send() -> None:
        nonlocal sent
        native = sender._n
        deadline = time.perf_counter() + secs
        while time.perf_counter() < deadline:
            for _ in range(256):
                if not native.try_send_bytes(peer, payload):
                    await native.send_bytes(peer, payload)
                sent += 1
            await asyncio.sleep(0)
        # The end marker (one byte): the receiver may have caught up already and be waiting.
        await sender.send_bytes(peer, b"!")

    got = 0
    task = asyncio.get_running_loop().create_task(send())
    t0 = time.perf_counter()
    async for _peer, data in inbox:
        if len(data) != size:
            break
        got += 1
    elapsed = time.perf_counter() - t0
    await task
    if got != sent:
        raise RuntimeError(f"sent {sent} messages, {got} arrived")
    inbox.close()
    await sender.close()
    await receiver.close()
    return {
        "api": "python",
        "scenario": "messages",
        "size": size,
        "messages": got,
        "secs": round(elapsed, 3),
        "msgs_per_s": round(got / elapsed, 1),
    }


async def throughput(mib: int) -> "dict[str, object]":
    """``mib`` messages of 1 MiB, timed until the receiver had every byte."""
    receiver, sender, peer = await _pair()
    inbox = receiver.binaries(capacity=64)
    payload = b"\xa5" * (1 << 20)
    total = 0

    async def send() -> None:
        for _ in range(mib):
            await sender.send_bytes(peer, payload)

    t0 = time.perf_counter()
    task = asyncio.get_running_loop().create_task(send())
    async for _peer, data in inbox:
        total += len(data)
        if total >= mib << 20:
            break
    elapsed = time.perf_counter() - t0
    await task
    inbox.close()
    await sender.close()
    await receiver.close()
    return {
        "api": "python",
        "scenario": "throughput",
        "mib": mib,
        "secs": round(elapsed, 3),
        "mib_per_s": round(total / (1 << 20) / elapsed, 1),
    }


def main() -> None:
    """Runs both scenarios and prints their figures."""
    ap = argparse.ArgumentParser(prog="python -m rats.bench", description=__doc__)
    ap.add_argument("--secs", type=float, default=3.0)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--mib", type=int, default=512)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(messages(args.secs, args.size))), flush=True)
    print(json.dumps(asyncio.run(throughput(args.mib))), flush=True)


if __name__ == "__main__":
    main()
