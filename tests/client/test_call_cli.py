"""`opencharacters call` gives back what it created: a session it gave up waiting for, or one it
was interrupted in (Ctrl-C, SIGTERM), is cancelled, and while it waits it says where it stands
in the queue. With the server's one call slot held by a quick-start session nobody joined."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.http import api, ready_avatar
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("cli"), None, OPENCHARACTERS_SESSION_CAPACITY="1")
    yield running.start()
    running.stop()


def active(http: httpx.Client) -> list[str]:
    return [row["id"] for row in http.get("/v1/realtime_sessions").json()["data"]]


def _signals_as_a_terminal_gives_them() -> None:
    # A child inherits ignored signals and the signal mask: deep in the full suite (native
    # libraries loaded in this process) the command once never saw the SIGINT it was sent,
    # while it always did alone. A user's terminal gives the defaults; so does this.
    interrupting = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, interrupting)
    for sig in interrupting:
        signal.signal(sig, signal.SIG_DFL)


def call_command(server: Server, avatar_id: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "opencharacters", "call", avatar_id, *args],
        env={**server.env, "RUNWAYML_BASE_URL": server.base_url, "RUNWAYML_API_SECRET": API_KEY},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_signals_as_a_terminal_gives_them,
    )


def wait_for_line(process: subprocess.Popen[str], wanted: str, timeout_s: float = 60) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout_s
    seen = ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if wanted in line:
            return seen
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"never printed {wanted!r}: {seen}")


def test_the_cli_says_it_is_queued_and_cancels_what_it_created(server: Server) -> None:
    with api(server) as http:
        avatar = ready_avatar(http)
        body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar["id"]}}
        held = http.post("/v1/realtime_sessions", json=body).json()["id"]  # the quick start's
        deadline = time.monotonic() + 10
        while http.get(f"/v1/realtime_sessions/{held}").json()["status"] != "READY":
            assert time.monotonic() < deadline
            time.sleep(0.1)

        # Gives up: says why, and leaves nothing behind.
        gave_up = call_command(server, avatar["id"], "--ready-timeout", "2")
        _, err = gave_up.communicate(timeout=60)
        assert gave_up.returncode == 1, err
        assert "queued behind 1 session (the server's call slots are busy)" in err, err
        assert "still queued behind 1 session after 2 s; it was cancelled" in err, err
        assert active(http) == [held]

        # Interrupted while queued, by Ctrl-C or by SIGTERM: the same.
        for sent, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            waiting = call_command(server, avatar["id"], "--ready-timeout", "120")
            wait_for_line(waiting, "queued behind 1 session")
            assert len(active(http)) == 2
            waiting.send_signal(sent)
            _, err = waiting.communicate(timeout=60)
            assert waiting.returncode == code, err
            assert "its session cancelled" in err, err
            assert active(http) == [held]

        http.delete(f"/v1/realtime_sessions/{held}")
        assert active(http) == []
