"""rats' log records in Python's logging."""

from __future__ import annotations

import logging
import time

import rats


async def test_records_reach_logging(make_client, caplog):
    caplog.set_level(logging.DEBUG, logger="rats")
    rats.enable_logging("debug")
    a, b = await make_client(), await make_client()
    await a.connect(b.address)
    deadline = time.time() + 10
    while time.time() < deadline and not any(r.name.startswith("rats.rats_") for r in caplog.records):
        import asyncio

        await asyncio.sleep(0.05)
    names = {r.name for r in caplog.records if r.name.startswith("rats.rats_")}
    assert names, "no rats records arrived"
    assert all(r.levelno in (5, 10, 20, 30, 40) for r in caplog.records if r.name in names)
