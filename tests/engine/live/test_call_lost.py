"""`opencharacters call` against a server that dies mid-call (kill -9 of it all or of the media
worker, and SIGTERM): the command notices within seconds, says so in one line (or in its JSON),
and saves what it received.
(An earlier client hung for minutes, then died with a traceback and no file.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from opencharacters.media.audio import read_audio
from tests.engine.live.conftest import create_avatar
from tests.engine.live.test_call_command import write_wav
from tests.support.http import api as api_client
from tests.support.server import API_KEY, Server
from tests.support.threads import niceness_against_main_thread

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# From the kill to the command's exit: noticing (about 2 s of media silence and one refused
# request), hanging up, and encoding the saved MP4 on a busy 2-core machine.
EXIT_WITHIN_S = 25.0


def children_of(pid: int) -> list[int]:
    """The server's media worker processes (it supervises them as its children)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def kill_server(server: Server, how: str) -> None:
    """`kill-9`: the whole server dies at once (the API process and its media workers), as on a
    crashed host; `worker-kill-9`: only the process carrying the call's media, the API stays;
    `term`: an operator's stop."""
    assert server.process is not None
    workers = children_of(server.process.pid)
    assert workers, "the server runs its calls in media worker processes"
    if how == "term":
        server.process.send_signal(signal.SIGTERM)
        return
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    if how == "kill-9":
        server.process.send_signal(signal.SIGKILL)


def greeting_heard(api: httpx.Client, avatar_id: str) -> bool:
    """The call is RUNNING and the greeting is over (its transcript entry is written)."""
    listed = api.get("/v1/avatar_conversations", params={"avatar": avatar_id}).json()["data"]
    for item in listed:
        if item["status"] == "in_progress":
            record = api.get(f"/v1/avatar_conversations/{item['id']}").json()
            if record["transcript"]:
                return True
    return False


@pytest.mark.parametrize(
    ("kill", "as_json"), [("kill-9", True), ("worker-kill-9", True), ("term", False)]
)
def test_the_call_command_notices_a_dead_server_and_keeps_what_it_got(
    tmp_path: Path, kill: str, as_json: bool
) -> None:
    server = Server(tmp_path / "server", None, OPENCHARACTERS_PRELOAD_ENGINES="true").start()
    try:
        with api_client(server) as api:
            avatar_id = create_avatar(api)
            # A long silent clip: the command is waiting for an answer when the server dies.
            clip = tmp_path / "silence.wav"
            write_wav(clip, np.zeros(48_000 * 120, dtype=np.float32), 48_000)
            saved = tmp_path / "received.mp4"
            command = [
                sys.executable, "-m", "opencharacters", "call", avatar_id,
                "--say", str(clip), "--save", str(saved), *(["--json"] if as_json else []),
            ]  # fmt: skip
            env = {**os.environ, "RUNWAYML_BASE_URL": server.base_url}
            env["RUNWAYML_API_SECRET"] = API_KEY
            caller = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            try:
                # The media worker loads its models for this first call: minutes on a busy box.
                deadline = time.monotonic() + 300
                while not greeting_heard(api, avatar_id):
                    assert caller.poll() is None, caller.communicate()
                    assert time.monotonic() < deadline, "the call never got past its greeting"
                    time.sleep(0.3)
                time.sleep(2)  # some listening time: media the saved file must hold
                kill_server(server, kill)
                killed_at = time.monotonic()
                out, err = caller.communicate(timeout=EXIT_WITHIN_S + 60)
                exited_after_s = time.monotonic() - killed_at
            finally:
                if caller.poll() is None:
                    caller.kill()
                    caller.wait()
    finally:
        server.stop()
    said = err.strip().splitlines()[-1:] if not as_json else [json.loads(out).get("error")]
    print(f"{kill}: exited {exited_after_s:.1f} s after the kill, saying {said}")
    assert caller.returncode == 1, (out, err)
    assert "Traceback" not in err, err
    assert exited_after_s < EXIT_WITHIN_S
    if as_json:
        result = json.loads(out)
        assert result["error"].startswith("call lost: "), result
        if kill == "kill-9":
            assert "refuses connections" in result["error"]
            assert result["status"] is None  # the server was gone: nothing to ask
        assert result["transcript"][0]["text"] == "Hi, I'm Ada."
        assert result["saved"] == str(saved)
    else:
        lines = err.strip().splitlines()
        assert [line for line in lines if "call lost" in line] == lines[-1:], err
        assert "avatar: Hi, I'm Ada." in out and f"saved {saved}" in out
    sound = read_audio(saved)
    assert sound.duration_s > 2, "the greeting and the listening after it were kept"


def test_a_caller_that_vanishes_ends_the_call_within_seconds(tmp_path: Path) -> None:
    """The caller's process dies (a closed tab, a crashed phone): no BYE, no END_CALL. The
    server notices that the caller's RTP stopped and ends the call COMPLETED after its media
    timeout, long before ICE's 30-45 s consent expiry would."""
    server = Server(
        tmp_path / "server",
        None,
        OPENCHARACTERS_PRELOAD_ENGINES="true",
        OPENCHARACTERS_ENGINES__NICENESS_BELOW_MODELS="5",  # checked on the way (an option)
    ).start()
    try:
        with api_client(server) as api:
            avatar_id = create_avatar(api)
            clip = tmp_path / "silence.wav"
            write_wav(clip, np.zeros(48_000 * 120, dtype=np.float32), 48_000)
            command = [
                sys.executable,
                "-m",
                "opencharacters",
                "call",
                avatar_id,
                "--say",
                str(clip),
            ]
            env = {**os.environ, "RUNWAYML_BASE_URL": server.base_url}
            env["RUNWAYML_API_SECRET"] = API_KEY
            caller = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                deadline = time.monotonic() + 300
                while not greeting_heard(api, avatar_id):
                    assert caller.poll() is None, "the call command stopped on its own"
                    assert time.monotonic() < deadline, "the call never got past its greeting"
                    time.sleep(0.3)
                # With the models first, Whisper's and llama.cpp's threads run 5 above the
                # media worker's event loop.
                assert server.process is not None
                assert -5 in niceness_against_main_thread(server.process.pid)
            finally:
                caller.kill()
                caller.wait()
            killed_at = time.monotonic()
            sessions = api.get("/v1/realtime_sessions").json()["data"]
            assert len(sessions) == 1
            session_id = sessions[0]["id"]
            while (session := api.get(f"/v1/realtime_sessions/{session_id}").json())[
                "status"
            ] == "RUNNING":
                assert time.monotonic() - killed_at < 40, "the call outlived its caller"
                time.sleep(0.5)
            ended_after_s = time.monotonic() - killed_at
    finally:
        server.stop()
    print(f"the call ended {ended_after_s:.1f} s after its caller died: {session}")
    assert session["status"] == "COMPLETED", session
    # The media timeout is 10 s; the rest is the watchdog's 1 s tick and the ending's writes.
    assert 9 < ended_after_s < 25
