"""A custom voice names the voice model it is made from (`baseModel`, our extension): one of
the server's own Piper voices (engines.tts.piper_voices), through the real server."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from opencharacters.assets import PIPER_JOE
from tests.support.http import api, error_of, wait_for
from tests.support.server import Server

pytestmark = [pytest.mark.integration, pytest.mark.one_database]

PROMPT = "A bright, quick young female voice with a cheerful manner"


@pytest.fixture(scope="module")
def server(make_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("voices")
    model, config = (file.parts[0].resolve() for file in PIPER_JOE.files)
    shutil.copy(model, folder / "studio.onnx")
    shutil.copy(config, folder / "studio.onnx.json")
    yield make_server(
        OPENCHARACTERS_ENGINES__VOICES__PROMPT_PARSER="rules",
        OPENCHARACTERS_ENGINES__TTS__PIPER_VOICES=json.dumps(
            {"studio": str(folder / "studio.onnx")}
        ),
    )


def _create(http: Any, **extra: Any) -> Any:
    source = {"type": "text", "prompt": PROMPT, "model": "eleven_ttv_v3"}
    return http.post("/v1/voices", json={"name": "Studio voice", "from": source, **extra})


def test_a_custom_voice_is_made_from_the_named_model(server: Server) -> None:
    with api(server) as http:
        created = _create(http, baseModel="studio")
        assert created.status_code == 200, created.text
        voice_id = created.json()["id"]
        body = wait_for(
            lambda: http.get(f"/v1/voices/{voice_id}").json(),
            lambda v: v["status"] != "PROCESSING",
            timeout=240,
            interval=0.5,
        )
    assert body["status"] == "READY", body
    assert body["baseModel"] == "studio" and body["previewUrl"]
    engine = sa.create_engine(server.database_url)
    with engine.connect() as db:
        design = db.execute(
            sa.text("SELECT design FROM voices WHERE id = :id"), {"id": voice_id}
        ).scalar_one()
    engine.dispose()
    design = json.loads(design) if isinstance(design, str) else design
    assert design["base"] == "studio" and design["f0_hz"] > 165  # a female design on it


def test_an_unknown_model_is_refused_naming_the_field(server: Server) -> None:
    with api(server) as http:
        refused = _create(http, baseModel="nobody")
        assert refused.status_code == 400
        assert error_of(refused) == (
            "baseModel: unknown voice model 'nobody'; this server has: joe, studio"
        )
        too_long = _create(http, baseModel="x" * 65)
        assert too_long.status_code == 400 and "baseModel" in error_of(too_long)
        plain = _create(http)
        assert (
            plain.status_code == 200
            and "baseModel" not in http.get(f"/v1/voices/{plain.json()['id']}").json()
        )
