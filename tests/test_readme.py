"""The README's snippets, run as written against a fresh real server.

Every fenced `python`, `bash` or `js` block in README.md is preceded by a marker: `<!-- snippet:
NAME -->` (run here, in README order, in one working directory that holds the repository's
`docs/`) or `<!-- snippet-not-run: WHY -->` (make targets, browser code, certificates). The only
values a reader fills in are the ones the server printed (`RUNWAYML_BASE_URL`,
`RUNWAYML_API_SECRET`) and the avatar id the Python quick start printed: lines assigning those
are supplied through the environment instead; every other line runs verbatim."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"(?:<!-- (snippet(?:-not-run)?): ([^>]*?) -->\n)?```(\w*)\n(.*?)```", re.S)
READER_VALUES = re.compile(r"^(export RUNWAYML_BASE_URL=.*|AVATAR_ID=\.\.\.)$", re.M)


@dataclass(frozen=True)
class Snippet:
    marker: str | None
    name: str
    language: str
    code: str


def snippets() -> list[Snippet]:
    return [
        Snippet(marker, (name or "").strip(), language, code)
        for marker, name, language, code in BLOCK.findall(README.read_text())
    ]


def test_every_code_block_is_run_or_says_why_not() -> None:
    code = [s for s in snippets() if s.language in ("python", "bash", "sh", "js", "")]
    unmarked = [s.code[:60] for s in code if s.marker is None and s.language != ""]
    assert not unmarked, f"README blocks without a snippet marker: {unmarked}"
    assert all(s.language for s in code), "give every README block a language (text for output)"
    run = [s.name for s in code if s.marker == "snippet"]
    assert run == ["python-quickstart", "call-from-the-command-line", "keys", "animate", "models"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A fresh install's one call slot: the quick start must give its slot back for the call.
    server = Server(
        tmp_path_factory.mktemp("readme") / ".data",
        None,
        OPENCHARACTERS_SESSION_CAPACITY="1",
        OPENCHARACTERS_PRELOAD_ENGINES="true",
    ).start()
    yield server
    server.stop()


def test_the_readme_snippets_run_as_written(server: Server, tmp_path: Path) -> None:
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    env = {
        **server.env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "RUNWAYML_BASE_URL": server.base_url,
        "RUNWAYML_API_SECRET": API_KEY,
    }
    outputs: dict[str, str] = {}
    for snippet in snippets():
        if snippet.marker != "snippet":
            continue
        if snippet.language == "python":
            command = [sys.executable, "-c", snippet.code]
        else:
            script = READER_VALUES.sub("", snippet.code)
            command = ["bash", "-euo", "pipefail", "-c", script]
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, (
            f"{snippet.name} failed:\n{done.stdout}\n{done.stderr[-4000:]}\n"
            f"server log:\n{server.log()[-3000:]}"
        )
        outputs[snippet.name] = done.stdout
        if snippet.name == "python-quickstart":
            status, avatar_id = done.stdout.split()
            assert status == "READY"
            env["AVATAR_ID"] = avatar_id

    call = outputs["call-from-the-command-line"]
    assert "avatar:" in call and "caller:" in call, call
    # The question was heard as asked, and answered on its subject (not "I can't assist").
    heard = re.findall(r"^caller: (.*)$", call, re.M)
    reply = re.findall(r"^avatar: (.*)$", call, re.M)
    assert heard and {"help", "return"} <= set(re.findall(r"[a-z]+", heard[0].lower())), call
    # A small model words its answer its own way: about the return, the order or the item, or
    # a question back about it ("What specific item do you need assistance with?").
    answer = reply[-1].lower() if reply else ""
    words = set(re.findall(r"[a-z]+", answer))
    topical = {"return", "returns", "returning", "refund", "order", "purchase", "back", "item"}
    assert words & topical or answer.rstrip().endswith("?"), call
    assert "can't assist" not in reply[-1] and "cannot assist" not in reply[-1], call
    assert (tmp_path / "reply.mp4").stat().st_size > 10_000
    created = [line for line in outputs["keys"].splitlines() if line.startswith("oc_")]
    assert len(created) == 1 and "acme" in outputs["keys"], outputs["keys"]  # listed after
    assert (tmp_path / "talking.mp4").stat().st_size > 10_000
    assert (tmp_path / "poses.png").stat().st_size > 10_000
    # Nothing the snippets created still holds a call slot.
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"}
    active = httpx.get(f"{server.base_url}/v1/realtime_sessions", headers=headers, timeout=10)
    assert active.status_code == 200 and active.json()["data"] == [], active.text
