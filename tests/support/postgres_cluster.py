"""A PostgreSQL server of a test's own (initdb + pg_ctl on a temp directory and a free port), so
that the test can stop and start it without disturbing the shared one. As root, the server runs
as the `postgres` user (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.server import free_port

PG_BIN = Path(os.environ.get("OPENCHARACTERS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> bool:
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


class PrivatePostgres:
    def __init__(self) -> None:
        # Not under pytest's tmp_path: that is private to root, and the server's user must
        # reach its directory.
        self.root = Path(tempfile.mkdtemp(prefix="oc-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://opencharacters@127.0.0.1:{self.port}/postgres"
        self.log_path = self.root / "postgres.log"

    def _run(self, *command: str) -> None:
        argv = [str(PG_BIN / command[0]), *command[1:]]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)

    def init(self) -> PrivatePostgres:
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "opencharacters", "--auth=trust", "-E", "UTF8"
        )
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log_path), "-w", "start"
        )

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as in a restart or failover."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
