"""A chat peer in one script: run it twice (two terminals, or two machines).

    python peer.py --port 9000                       # the first one listens
    python peer.py --connect 127.0.0.1:9000          # the second one connects

Type a line to chat with every connected peer. Commands:

    /send PATH           offer a file to every peer (a progress bar shows how far it got)
    /pub TOPIC TEXT      publish on a topic (every peer subscribed to it prints it)
    /sub TOPIC           subscribe to a topic
    /peers               list connected peers
    /quit                leave

Files offered to us are saved in ./received/. Add --local to keep to this machine (no DHT,
mDNS or NAT traversal).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import rats


def bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done * 100 // max(total, 1):3d}%"


async def send_file(client: rats.Client, peer: str, path: Path) -> None:
    transfer = await client.send_file(peer, path)
    async for p in transfer.progress():
        print(f"\r{path.name} to {peer[:8]} {bar(p.bytes_done, p.total_bytes)}", end="", flush=True)
    try:
        result = await transfer.result()
        print(f"\r{path.name} to {peer[:8]} {bar(1, 1)} sha256 {result.sha256}")
    except rats.TransferError as e:
        print(f"\n{path.name} to {peer[:8]}: {e}")


async def follow(sub: rats.Stream[rats.TopicMessage]) -> None:
    async for m in sub:
        print(f"[{m.topic}] {m.peer_id[:8]}: {m.data.decode(errors='replace')}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--connect", action="append", default=[])
    ap.add_argument("--local", action="store_true")
    args = ap.parse_args()
    inbox = Path("received")
    inbox.mkdir(exist_ok=True)

    async with rats.Client(port=args.port, local_only=args.local) as client:
        print(f"peer id {client.peer_id}; listening on {', '.join(client.listen_addresses)}")

        @client.on_text
        def chat(peer_id: str, text: str) -> None:
            print(f"{peer_id[:8]}: {text}")

        @client.on_event
        def event(ev: rats.Event) -> None:
            if ev.type in ("peer_connected", "peer_disconnected"):
                print(f"* {ev.type.replace('_', ' ')}: {ev.peer_id[:8]}")

        @client.on_transfer_request
        def offered(offer: rats.TransferOffer) -> Path:
            print(f"* {offer.peer_id[:8]} sends {offer.name} ({offer.total_bytes} bytes): saving in {inbox}/")
            return inbox / offer.name

        for address in args.connect:
            await client.connect(address)
        subs = []
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            line = line.strip()
            cmd, _, rest = line.partition(" ")
            if cmd == "/quit":
                break
            elif cmd == "/peers":
                for p in client.peers():
                    print(f"  {p.peer_id[:16]} {p.address} {p.method}")
            elif cmd == "/send" and rest:
                for p in client.peers():
                    loop.create_task(send_file(client, p.peer_id, Path(rest)))
            elif cmd == "/sub" and rest:
                sub = client.subscribe(rest)
                subs.append(sub)
                loop.create_task(follow(sub))
            elif cmd == "/pub" and rest:
                topic, _, text = rest.partition(" ")
                client.publish(topic, text)
            elif line:
                client.broadcast_text(line)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
