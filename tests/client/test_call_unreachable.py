"""`opencharacters call` with no server to talk to: one line (or JSON) and exit 1, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.server import free_port

pytestmark = pytest.mark.integration

AVATAR = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_an_unreachable_server_is_one_clear_line(as_json: bool) -> None:
    base = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "opencharacters", "call", AVATAR, "--base-url", base,
         "--api-key", "oc_test", *(["--json"] if as_json else [])],
        env=os.environ, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    expected = f"POST /v1/realtime_sessions: cannot reach {base} (Cannot connect to host"
    if as_json:
        assert json.loads(done.stdout)["error"].startswith(expected)
    else:
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith(f"Error: {expected}")
