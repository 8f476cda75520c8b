"""Every documented limit of the request bodies, at its edge (model level; the API tests
check the same limits through the server)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from opencharacters.domain.requests import (
    MAX_DATA_URI_CHARS,
    AvatarCreate,
    AvatarUpdate,
    DocumentCreate,
    DocumentUpdate,
    SessionCreate,
)

pytestmark = pytest.mark.unit

AVATAR_ID = "3f1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"


def avatar(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Ada",
        "referenceImage": "https://example.com/a.png",
        "personality": "p",
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
    }
    body.update(overrides)
    return body


def tool(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "client_event", "name": "show", "description": "d"}
    body.update(overrides)
    return body


def session(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gwm1_avatars",
        "avatar": {"type": "custom", "avatarId": AVATAR_ID},
    }
    body.update(overrides)
    return body


def ok(model: Any, body: dict[str, Any]) -> None:
    model.model_validate(body)


def bad(model: Any, body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(body)
    return str(raised.value)


@pytest.mark.parametrize(
    ("field", "good", "too_much"),
    [
        ("name", "n" * 50, "n" * 51),
        ("personality", "p" * 10_000, "p" * 10_001),
        ("startScript", "s" * 2000, "s" * 2001),
        (
            "referenceImage",
            "https://a.co/" + "x" * (2048 - 13),
            "https://a.co/" + "x" * (2049 - 13),
        ),
        ("referenceImage", "runway://" + "x" * 4991, "runway://" + "x" * 4992),
        (
            "referenceImage",
            "data:image/png;base64," + "A" * (MAX_DATA_URI_CHARS - 22),
            "data:image/png;base64," + "A" * (MAX_DATA_URI_CHARS - 21),
        ),
        (
            "documentIds",
            [f"00000000-0000-4000-8000-{i:012d}" for i in range(50)],
            [f"00000000-0000-4000-8000-{i:012d}" for i in range(51)],
        ),
    ],
)
def test_avatar_limits(field: str, good: Any, too_much: Any) -> None:
    ok(AvatarCreate, avatar(**{field: good}))
    bad(AvatarCreate, avatar(**{field: too_much}))
    ok(AvatarUpdate, {field: good})
    bad(AvatarUpdate, {field: too_much})


@pytest.mark.parametrize(
    "reference",
    [
        "https://a.c",
        "http://example.com/a.png",
        "ftp://x/y.png",
        "data:text/plain,abc",
        "runway://x",
    ],
)
def test_reference_image_forms(reference: str) -> None:
    bad(AvatarCreate, avatar(referenceImage=reference))


def test_minimum_lengths_and_required_fields() -> None:
    bad(AvatarCreate, avatar(name=""))
    bad(AvatarCreate, avatar(personality=""))
    body = avatar()
    del body["voice"]
    assert "voice" in bad(AvatarCreate, body)


def test_unknown_keys_and_presets_are_refused() -> None:
    assert "extra" in bad(AvatarCreate, avatar(color="blue"))
    assert "unknown preset voice" in bad(
        AvatarCreate, avatar(voice={"type": "runway-live-preset", "presetId": "bob"})
    )
    bad(AvatarCreate, avatar(voice={"type": "runway-live-preset", "presetId": "clara", "x": 1}))
    bad(AvatarCreate, avatar(documentIds=[AVATAR_ID, AVATAR_ID]))


def test_update_needs_a_field_and_only_start_script_may_be_null() -> None:
    assert "at least one" in bad(AvatarUpdate, {})
    ok(AvatarUpdate, {"startScript": None})
    assert "cannot be null" in bad(AvatarUpdate, {"name": None})
    assert "cannot be null" in bad(AvatarUpdate, {"voice": None})


def test_document_limits() -> None:
    ok(DocumentCreate, {"name": "n" * 255, "content": "c" * 200_000})
    bad(DocumentCreate, {"name": "n" * 256, "content": "c"})
    bad(DocumentCreate, {"name": "n", "content": "c" * 200_001})
    bad(DocumentCreate, {"name": "", "content": "c"})
    bad(DocumentCreate, {"name": "n", "content": ""})
    bad(DocumentUpdate, {})
    bad(DocumentUpdate, {"content": None})


@pytest.mark.parametrize(("value", "valid"), [(9, False), (10, True), (1800, True), (1801, False)])
def test_max_duration_edges(value: int, valid: bool) -> None:
    (ok if valid else bad)(SessionCreate, session(maxDuration=value))


def test_max_duration_must_be_a_whole_number() -> None:
    bad(SessionCreate, session(maxDuration=30.5))
    bad(SessionCreate, session(maxDuration="30"))
    bad(SessionCreate, session(maxDuration=True))
    bad(SessionCreate, session(maxDuration=1800.0 + 1))
    # JSON has one number type: Python clients send a float 60 as `60.0`.
    assert SessionCreate.model_validate(session(maxDuration=60.0)).maxDuration == 60
    assert (
        SessionCreate.model_validate_json(
            '{"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": '
            '"00000000-0000-4000-8000-000000000000"}, "maxDuration": 60.0}'
        ).maxDuration
        == 60
    )


def test_session_override_limits() -> None:
    ok(SessionCreate, session(personality="p" * 10_000, startScript="s" * 2000))
    bad(SessionCreate, session(personality="p" * 10_001))
    bad(SessionCreate, session(startScript="s" * 2001))
    bad(SessionCreate, session(startScript=""))
    bad(SessionCreate, session(model="gen4"))


def test_tool_limits() -> None:
    ok(SessionCreate, session(tools=[tool(name=f"t{i}") for i in range(20)]))
    bad(SessionCreate, session(tools=[tool(name=f"t{i}") for i in range(21)]))
    assert "more than once" in bad(SessionCreate, session(tools=[tool(), tool()]))
    ok(SessionCreate, session(tools=[tool(name="a" * 64)]))
    bad(SessionCreate, session(tools=[tool(name="a" * 65)]))
    bad(SessionCreate, session(tools=[tool(name="9lives")]))
    bad(SessionCreate, session(tools=[tool(name="has-dash")]))
    ok(SessionCreate, session(tools=[tool(description="d" * 1024)]))
    bad(SessionCreate, session(tools=[tool(description="d" * 1025)]))
    bad(SessionCreate, session(tools=[tool(description="")]))


@pytest.mark.parametrize(("timeout", "valid"), [(0.9, False), (1, True), (8, True), (8.1, False)])
def test_backend_rpc_timeout_edges(timeout: float, valid: bool) -> None:
    body = session(tools=[tool(type="backend_rpc", timeoutSeconds=timeout)])
    (ok if valid else bad)(SessionCreate, body)


def test_backend_rpc_timeout_defaults_to_four_seconds() -> None:
    parsed = SessionCreate.model_validate(session(tools=[tool(type="backend_rpc")]))
    assert parsed.tools[0].model_dump()["timeoutSeconds"] == 4


def test_client_event_tools_have_no_timeout() -> None:
    bad(SessionCreate, session(tools=[tool(timeoutSeconds=2)]))


def parameter(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "string", "name": "p", "description": "d"}
    body.update(overrides)
    return body


def test_parameter_limits_and_kinds() -> None:
    def with_params(params: list[dict[str, Any]]) -> dict[str, Any]:
        return session(tools=[tool(parameters=params)])

    ok(SessionCreate, with_params([parameter(name=f"p{i}") for i in range(20)]))
    bad(SessionCreate, with_params([parameter(name=f"p{i}") for i in range(21)]))
    ok(SessionCreate, with_params([parameter(enum=[f"v{i}" for i in range(20)])]))
    bad(SessionCreate, with_params([parameter(enum=[f"v{i}" for i in range(21)])]))
    ok(SessionCreate, with_params([parameter(enum=["v" * 64])]))
    bad(SessionCreate, with_params([parameter(enum=["v" * 65])]))
    for kind in ("integer", "number", "boolean"):
        ok(SessionCreate, with_params([parameter(type=kind)]))
    ok(SessionCreate, with_params([parameter(type="array", items={"type": "integer"})]))
    bad(SessionCreate, with_params([parameter(type="array")]))
    bad(SessionCreate, with_params([parameter(type="array", items={"type": "object"})]))
    nested = parameter(type="object", properties=[parameter(name="street"), parameter(name="zip")])
    ok(SessionCreate, with_params([nested]))
    bad(SessionCreate, with_params([parameter(type="object")]))
    bad(SessionCreate, with_params([parameter(type="date")]))
    parsed = SessionCreate.model_validate(with_params([parameter()]))
    assert parsed.tools[0].parameters[0].required is True


def test_nul_characters_are_refused_everywhere() -> None:
    assert "NUL" in bad(AvatarCreate, avatar(name="a\x00b"))
    assert "NUL" in bad(DocumentCreate, {"name": "n", "content": "x\x00"})
    bad(SessionCreate, session(tools=[tool(parameters=[parameter(enum=["a\x00"])])]))


def room(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "livekit",
        "url": "wss://agents.example.com",
        "token": "t" * 2048,
        "roomName": "r" * 256,
        "agentIdentity": "a" * 256,
    }
    body.update(overrides)
    return body


def test_livekit_integration_limits() -> None:
    parsed = SessionCreate.model_validate(session(integration=room()))
    integration = parsed.livekit_integration()
    assert integration is not None and integration.roomName == "r" * 256
    without_agent = {k: v for k, v in room().items() if k != "agentIdentity"}
    assert SessionCreate.model_validate(session(integration=without_agent)).integration
    for field, limit in [("token", 2048), ("roomName", 256), ("agentIdentity", 256)]:
        assert field in bad(SessionCreate, session(integration=room(**{field: "x" * (limit + 1)})))
        assert field in bad(SessionCreate, session(integration=room(**{field: ""})))
    for missing in ("url", "token", "roomName"):
        body = {k: v for k, v in room().items() if k != missing}
        assert missing in bad(SessionCreate, session(integration=body))
    assert "url" in bad(SessionCreate, session(integration=room(url="ftp://example.com")))
    assert "url" in bad(SessionCreate, session(integration=room(url="wss://" + "h" * 2043)))
    ok(SessionCreate, session(integration=room(url="ws://127.0.0.1:7880")))


def test_the_deprecated_livekit_field_has_the_same_shape() -> None:
    body = {k: v for k, v in room().items() if k != "type"}
    parsed = SessionCreate.model_validate(session(livekit=body))
    assert parsed.livekit_integration() == parsed.livekit
    assert "roomName" in bad(SessionCreate, session(livekit={**body, "roomName": "x" * 257}))
    assert "not both" in bad(SessionCreate, session(livekit=body, integration=room()))


def test_an_elevenlabs_integration_parses_so_the_api_can_refuse_it() -> None:
    parsed = SessionCreate.model_validate(
        session(integration={"type": "elevenlabs", "signedUrl": "wss://api.elevenlabs.io/x"})
    )
    assert parsed.integration is not None and parsed.integration.type == "elevenlabs"
    assert parsed.livekit_integration() is None
    bad(SessionCreate, session(integration={"type": "vapi", "url": "wss://x.example"}))
