"""A full or read-only data directory, on a real server whose data lives on a small tmpfs:
creations answer 507 with a clear message while reads keep working, and starting on a read-only
directory is one line, not a traceback. Needs root (mount); skipped otherwise."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.http import api, error_of, ready_avatar
from tests.support.media import face_data_uri
from tests.support.server import Server
from tests.support.storage import fill, remount, small_tmpfs

pytestmark = pytest.mark.integration

FULL = "The server's storage is full"
LEASE_FAILED = f"renewing the lease failed: {FULL}"


def test_a_full_disk_answers_507_and_reads_keep_working(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "data", "48m") as data:
        # The log stays off the small disk.
        server = Server(tmp_path / "outside", None, OPENCHARACTERS_DATA_DIR=str(data)).start()
        try:
            with api(server) as http:
                document = http.post("/v1/documents", json={"name": "FAQ", "content": "Hi."})
                assert document.status_code == 200
                avatar = ready_avatar(http)
                assert avatar["status"] == "READY"
                # New database writes must need new space: empty the write-ahead log first.
                with sqlite3.connect(data / "opencharacters.db") as db:
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                filler = fill(data)

                for path, body in [
                    ("/v1/documents", {"name": "Big", "content": "x" * 200_000}),
                    ("/v1/avatars", {**_avatar_body(), "referenceImage": face_data_uri()}),
                ]:
                    refused = http.post(path, json=body)
                    assert refused.status_code == 507, (path, refused.text)
                    assert error_of(refused).startswith(FULL)
                    assert "Reading existing data still works" in error_of(refused)
                # The media worker's lease renewals (every 0.5 s) meet the full disk too.
                deadline = time.monotonic() + 10
                while LEASE_FAILED not in server.log() and time.monotonic() < deadline:
                    time.sleep(0.1)

                # Reads still work, files included.
                listed = http.get("/v1/documents")
                assert listed.status_code == 200 and len(listed.json()["data"]) == 1
                got = http.get(f"/v1/avatars/{avatar['id']}")
                assert got.status_code == 200 and got.json()["status"] == "READY"
                preview = http.get(got.json()["referenceImageUri"])
                assert preview.status_code == 200 and preview.content[:2] == b"\xff\xd8"

                filler.unlink()
                again = http.post("/v1/documents", json={"name": "Later", "content": "Saved."})
                assert again.status_code == 200, again.text
            log = server.log()
            assert "storage failure" in log and "Traceback" not in log
            assert LEASE_FAILED in log
        finally:
            server.stop()


def _avatar_body() -> dict[str, object]:
    return {
        "name": "Full",
        "personality": "p",
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
    }


def test_starting_on_a_read_only_data_directory_is_one_clear_line(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "data", "16m") as data:
        server = Server(tmp_path / "outside", None, OPENCHARACTERS_DATA_DIR=str(data)).start()
        server.stop()  # leaves a database behind, as a real installation would
        remount(data, "ro")
        try:
            result = subprocess.run(
                [sys.executable, "-m", "opencharacters", "serve"],
                env=server.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            remount(data, "rw")
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    assert output.splitlines() == [
        f"Error: The data directory {data} is not writable: it is on a read-only file system. "
        "The server keeps its database and files there; make it writable, or choose another "
        "with OPENCHARACTERS_DATA_DIR."
    ]
