"""Recordings the blob store refuses at a call's end are kept and stored later, within bounds."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from opencharacters.engine.recording_uploads import PendingRecordings

pytestmark = pytest.mark.unit


class FlakyStore:
    """A blob store that is down until `up` is set (only what PendingRecordings uses)."""

    def __init__(self) -> None:
        self.up = False
        self.stored: dict[str, bytes] = {}

    def put_file(self, key: str, source: Path) -> None:
        if not self.up:
            raise ConnectionError("store unreachable")
        self.stored[key] = source.read_bytes()


def recording(tmp_path: Path, name: str, size: int = 100) -> Path:
    path = tmp_path / "in-progress" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def test_a_refused_recording_is_kept_and_stored_when_the_store_returns(tmp_path: Path) -> None:
    store = FlakyStore()
    noted: list[tuple[str, str]] = []
    pending = PendingRecordings(
        tmp_path / "pending",
        store,  # type: ignore[arg-type]
        lambda session_id, key: noted.append((session_id, key)),
    )
    source = recording(tmp_path, "s1.mp4")
    data = source.read_bytes()

    assert asyncio.run(pending.store("s1", "recordings/o/s1.mp4", source)) is False
    assert not source.exists()
    assert pending.pending() == ["s1"]
    assert pending.retry_once() == 1  # still down
    assert noted == []

    store.up = True
    assert pending.retry_once() == 0
    assert store.stored == {"recordings/o/s1.mp4": data}
    assert noted == [("s1", "recordings/o/s1.mp4")]
    assert pending.pending() == []
    assert list((tmp_path / "pending").iterdir()) == []


def test_an_accepted_recording_goes_straight_to_the_store(tmp_path: Path) -> None:
    store = FlakyStore()
    store.up = True
    pending = PendingRecordings(tmp_path / "pending", store, lambda *_: None)  # type: ignore[arg-type]
    source = recording(tmp_path, "s1.mp4")
    assert asyncio.run(pending.store("s1", "k", source)) is True
    assert "k" in store.stored and not source.exists() and pending.pending() == []


def test_pending_recordings_are_bounded_by_age_and_bytes(tmp_path: Path) -> None:
    store = FlakyStore()
    pending = PendingRecordings(
        tmp_path / "pending",
        store,  # type: ignore[arg-type]
        lambda *_: None,
        max_pending_s=3600,
        max_pending_bytes=250,
    )
    for index in range(3):
        asyncio.run(pending.store(f"s{index}", f"k{index}", recording(tmp_path, f"{index}.mp4")))
        note = tmp_path / "pending" / f"s{index}.json"
        os.utime(note, (time.time() - 100 + index, time.time() - 100 + index))
    # 300 bytes were refused; the oldest went to stay within 250.
    assert pending.pending() == ["s1", "s2"]

    note = tmp_path / "pending" / "s1.json"
    note.write_text(json.dumps({"key": "k1", "since": time.time() - 7200}))
    assert pending.retry_once() == 1  # s1 is too old: given up; s2 still waits
    assert pending.pending() == ["s2"]
    assert not (tmp_path / "pending" / "s1.mp4").exists()


def test_the_retry_loop_stores_what_was_kept(tmp_path: Path) -> None:
    store = FlakyStore()
    noted: list[str] = []
    pending = PendingRecordings(
        tmp_path / "pending",
        store,  # type: ignore[arg-type]
        lambda session_id, _key: noted.append(session_id),
    )

    async def scenario() -> None:
        loop = asyncio.create_task(pending.run())
        try:
            await pending.store("s1", "k1", recording(tmp_path, "1.mp4"))
            store.up = True
            deadline = time.monotonic() + 10
            while not noted:
                assert time.monotonic() < deadline, "the loop did not retry"
                await asyncio.sleep(0.05)
        finally:
            loop.cancel()

    asyncio.run(scenario())
    assert noted == ["s1"] and "k1" in store.stored
