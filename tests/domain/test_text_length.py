"""Length limits count UTF-16 code units, as Runway's JavaScript clients do ("😀".length is 2)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from opencharacters.api.errors import describe_validation_error
from opencharacters.domain.requests import AvatarCreate, DocumentCreate, VoicePreview
from opencharacters.domain.text_length import utf16_length

pytestmark = pytest.mark.unit


def avatar(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "referenceImage": "https://example.com/a.png",
        "personality": "p",
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
    }


def test_utf16_length() -> None:
    assert utf16_length("") == 0
    assert utf16_length("Ada") == 3
    assert utf16_length("é" * 5) == 5  # one unit each, whatever UTF-8 takes
    assert utf16_length("😀") == 2  # beyond U+FFFF: a surrogate pair
    assert utf16_length("👩‍🚀") == 5  # woman, zero-width joiner, rocket


def test_emoji_count_twice_against_a_limit() -> None:
    assert AvatarCreate.model_validate(avatar("😀" * 25)).name == "😀" * 25  # 50 units
    assert AvatarCreate.model_validate(avatar("é" * 50))  # 50 units, 100 UTF-8 bytes
    with pytest.raises(ValidationError) as too_long:
        AvatarCreate.model_validate(avatar("😀" * 25 + "a"))  # 26 code points, 51 units
    message = describe_validation_error(dict(too_long.value.errors()[0]))
    assert message == "name: must be at most 50 characters (got 51)"


def test_minimums_count_units_too() -> None:
    ten_emoji = "😀" * 10  # 10 code points, 20 units: enough for a 20-character prompt
    assert VoicePreview.model_validate({"prompt": ten_emoji, "model": "eleven_ttv_v3"})
    with pytest.raises(ValidationError) as short:
        VoicePreview.model_validate({"prompt": "😀" * 9 + "a", "model": "eleven_ttv_v3"})
    assert describe_validation_error(dict(short.value.errors()[0])) == (
        "prompt: must be at least 20 characters"
    )
    with pytest.raises(ValidationError):
        DocumentCreate.model_validate({"name": "", "content": "c"})


def test_the_json_schema_keeps_the_limits() -> None:
    schema = AvatarCreate.model_json_schema()["properties"]["name"]
    assert (schema["minLength"], schema["maxLength"]) == (1, 50)
