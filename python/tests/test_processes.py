"""Two processes: a Python client in a child process, and the Rust `rats` tool."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rats

from conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import asyncio, sys, rats
async def main():
    async with rats.Client(local_only=True, listen=["tcp:127.0.0.1:0"]) as c:
        async with c.texts() as texts:
            # Listening for texts before the parent can send any.
            print(c.peer_id, c.address, flush=True)
            async for peer, text in texts:
                await c.send_text(peer, "echo: " + text)
                if text == "bye":
                    break
        await asyncio.sleep(0.2)
asyncio.run(main())
"""


async def test_python_client_in_another_process(make_client):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, stdout=asyncio.subprocess.PIPE
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
        child_id, child_addr = line
        me = await make_client()
        peer = await me.connect(child_addr)
        assert peer == child_id
        async with me.texts() as texts:
            for word in ("hello", "bye"):
                await me.send_text(peer, word)
                assert await asyncio.wait_for(texts.__anext__(), 10) == (peer, "echo: " + word)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()


def rats_tool() -> Path:
    env = os.environ.get("PATH_TO_RATS_TOOL")
    candidates = [Path(env)] if env else []
    candidates += [ROOT / "target" / p / "rats" for p in ("debug", "release")]
    for c in candidates:
        if c.is_file():
            return c
    pytest.fail("the rats tool is not built (cargo build -p rats-cli, or set PATH_TO_RATS_TOOL)")


async def test_python_and_the_rats_tool_talk(make_client, tmp_path):
    tool = await asyncio.create_subprocess_exec(
        str(rats_tool()), "--json", "--port", "0", "--no-dht", "--no-mdns", "--no-nat",
        "--data-dir", str(tmp_path / "tool"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )

    async def next_event(kind):
        while True:
            raw = await asyncio.wait_for(tool.stdout.readline(), 20)
            assert raw, "the tool exited"
            ev = json.loads(raw)
            if ev.get("event") == kind:
                return ev

    try:
        started = await next_event("started")
        port = next(a for a in started["listen"] if a.startswith("tcp:")).rsplit(":", 1)[1]
        me = await make_client()
        peer = await me.connect(f"127.0.0.1:{port}")
        assert peer == started["peer_id"]
        await next_event("peer_connected")
        async with me.texts() as texts:
            await me.send_text(peer, "from python")
            ev = await next_event("message")
            assert ev["from"] == me.peer_id and ev["text"] == "from python"
            tool.stdin.write(b"from rats\n")
            await tool.stdin.drain()
            assert await asyncio.wait_for(texts.__anext__(), 10) == (peer, "from rats")
    finally:
        tool.kill()
        await tool.wait()


EXIT_OPEN = r"""
import asyncio, rats
async def main():
    a = await rats.Client(local_only=True, listen=["tcp:127.0.0.1:0"]).start()
    b = await rats.Client(local_only=True, listen=["tcp:127.0.0.1:0"]).start()
    await a.connect(b.address)
    a.subscribe("t"); b.texts()
    print("ok", flush=True)
    # Exits with both clients open and streams waiting.
asyncio.run(main())
"""


def test_exit_with_clients_open_does_not_crash():
    for _ in range(5):
        r = subprocess.run([sys.executable, "-c", EXIT_OPEN], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr.decode()
        assert r.stdout.strip() == b"ok"


def test_garbage_collected_client_is_closed():
    code = r"""
import asyncio, gc, warnings, rats
async def main():
    c = await rats.Client(local_only=True, listen=["tcp:127.0.0.1:0"]).start()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        del c
        gc.collect()
    assert any(issubclass(x.category, ResourceWarning) for x in w), w
    print("ok", flush=True)
asyncio.run(main())
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == b"ok", r.stderr.decode()


CTRL_C = r"""
import asyncio, faulthandler, signal, rats
# A shell that starts a job in the background without job control (CI under `cmd &`) passes
# SIGINT on ignored, and Python then never raises KeyboardInterrupt: restore the default.
signal.signal(signal.SIGINT, signal.default_int_handler)
async def main():
    async with rats.Client(local_only=True, listen=["tcp:127.0.0.1:0"]) as c:
        async with c.texts() as texts:
            # If the script hangs after Ctrl-C, its threads' Python stacks reach the test's
            # failure message.
            faulthandler.dump_traceback_later(15, exit=True)
            print("ready", flush=True)
            async for _ in texts:  # waits for ever
                pass
try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_stops_a_script_cleanly():
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout.readline().strip() == b"ready"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0 and out.strip() == b"interrupted", err.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
