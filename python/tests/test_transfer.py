"""Files and directories: offers accepted by a handler, progress, hashes, pulls, refusals."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import rats

from conftest import connected, wait_until


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_fifty_mib_file_with_progress_and_hash(make_client, tmp_path):
    a, b = await make_client(), await make_client()
    peer = await connected(a, b)
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(50 * 1024 * 1024))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    offers = []

    @b.on_transfer_request
    async def accept(offer: rats.TransferOffer):
        offers.append(offer)
        return inbox / offer.name

    transfer = await a.send_file(peer, src)
    seen = []
    async for p in transfer.progress():
        assert 0 <= p.bytes_done <= p.total_bytes == src.stat().st_size
        seen.append(p.bytes_done)
    result = await transfer.result(timeout=120)
    assert result.info.state == "completed" and result.info.direction == "outgoing"
    assert result.sha256 == sha256(src)
    assert seen and seen[-1] == src.stat().st_size and seen == sorted(seen)
    assert sha256(inbox / "big.bin") == sha256(src)
    assert len(offers) == 1 and offers[0].files[0].sha256 == sha256(src)
    assert offers[0].peer_id == a.peer_id and offers[0].total_bytes == src.stat().st_size
    received = b._transfer(transfer.id)
    assert (await received.result(timeout=30)).sha256 == sha256(src)


async def test_directory_tree(make_client, tmp_path):
    a, b = await make_client(), await make_client()
    peer = await connected(a, b)
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    files = {
        "a.txt": b"alpha",
        "sub/b.bin": os.urandom(300_000),
        "sub/deeper/c.bin": os.urandom(1_000_000),
        "empty": b"",
    }
    for rel, data in files.items():
        (tree / rel).write_bytes(data)
    dest = tmp_path / "got"

    b.on_transfer_request(lambda offer: dest)
    transfer = await a.send_directory(peer, tree)
    result = await transfer.result(timeout=60)
    assert result.info.kind == "directory" and result.info.files == len(files)
    assert result.sha256 is None
    for rel, data in files.items():
        assert (dest / rel).read_bytes() == data


async def test_refused_offer_raises_transfer_error(make_client, tmp_path):
    a, b = await make_client(), await make_client()
    peer = await connected(a, b)
    src = tmp_path / "f.txt"
    src.write_text("no thanks")
    b.on_transfer_request(lambda offer: None)
    transfer = await a.send_file(peer, src)
    with pytest.raises(rats.TransferError):
        await transfer.result(timeout=30)


async def test_pull_a_shared_file(make_client, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    (share / "doc.txt").write_bytes(b"pulled content" * 1000)
    a = await make_client()
    b = await make_client(config={"transfer": {"shared_root": str(share)}})
    peer = await connected(a, b)
    dest = tmp_path / "doc-copy.txt"
    transfer = await a.request_file(peer, "doc.txt", dest)
    result = await transfer.result(timeout=30)
    assert result.info.direction == "incoming"
    assert dest.read_bytes() == b"pulled content" * 1000


async def test_pause_resume_and_cancel(make_client, tmp_path):
    a, b = await make_client(), await make_client()
    peer = await connected(a, b)
    src = tmp_path / "c.bin"
    src.write_bytes(os.urandom(64 * 1024 * 1024))
    b.on_transfer_request(lambda offer: tmp_path / "c-copy.bin")

    # Paused at once, resumed, completed.
    transfer = await a.send_file(peer, src)
    transfer.pause()
    await wait_until(lambda: transfer.info().state == "paused")
    transfer.resume()
    result = await transfer.result(timeout=60)
    assert result.sha256 == sha256(src)

    # Cancelled at once: the result says so.
    transfer = await a.send_file(peer, src, name="c2.bin")
    transfer.cancel()
    with pytest.raises(rats.TransferError, match="cancelled"):
        await transfer.result(timeout=30)
