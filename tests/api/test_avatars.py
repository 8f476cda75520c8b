"""Avatars through the official SDK and raw HTTP, against a real server process."""

from __future__ import annotations

import io

import httpx
import pytest
import runwayml
from PIL import Image
from runwayml import RunwayML

from tests.support.http import api, avatar_body, error_of, ready_avatar, wait_for
from tests.support.media import (
    bomb_png,
    data_uri,
    face_data_uri,
    face_on_canvas,
    noise_png,
    truncated_png,
)
from tests.support.server import Server

pytestmark = pytest.mark.integration

CLARA = {"type": "runway-live-preset", "presetId": "clara"}


def test_create_retrieve_update_delete_with_the_sdk(client: RunwayML, server: Server) -> None:
    created = client.avatars.create(
        name="Ada",
        reference_image=face_data_uri(),
        personality="You are Ada, a friendly museum guide.",
        voice={"type": "runway-live-preset", "preset_id": "clara"},
        start_script="Hello! Welcome to the museum.",
    )
    assert created.status == "PROCESSING"
    assert created.voice.type == "runway-live-preset"
    assert (created.voice.name, created.voice.description) == ("Clara", "Soft, approachable")
    ready = wait_for(
        lambda: client.avatars.retrieve(created.id), lambda a: a.status != "PROCESSING"
    )
    assert ready.status == "READY", ready
    assert ready.start_script == "Hello! Welcome to the museum."
    assert ready.document_ids == []

    # The processed preview is the face-centred 1088x704 crop, scaled down.
    assert ready.processed_image_uri and ready.reference_image_uri
    preview = Image.open(io.BytesIO(httpx.get(ready.processed_image_uri).content))
    assert abs(preview.width / preview.height - 1088 / 704) < 0.01
    original = Image.open(io.BytesIO(httpx.get(ready.reference_image_uri).content))
    assert original.size == (512, 512)

    updated = client.avatars.update(
        created.id,
        name="Ada Lovelace",
        voice={"type": "runway-live-preset", "preset_id": "victoria"},
        start_script=None,
    )
    assert updated.name == "Ada Lovelace"
    assert updated.start_script is None
    assert updated.voice.preset_id == "victoria"
    assert updated.status == "READY"  # no image change: no reprocessing
    assert client.avatars.retrieve(created.id).updated_at > ready.updated_at

    client.avatars.delete(created.id)
    with pytest.raises(runwayml.NotFoundError) as raised:
        client.avatars.retrieve(created.id)
    assert "not found" in raised.value.body["error"]


def test_list_pages_through_every_avatar(client: RunwayML, server: Server) -> None:
    with api(server) as http:
        made = {
            http.post("/v1/avatars", json=avatar_body(name=f"Page {i}")).json()["id"]
            for i in range(7)
        }
        first = http.get("/v1/avatars", params={"limit": 3}).json()
        assert len(first["data"]) == 3 and first["hasMore"] is True and first["nextCursor"]
        second = http.get("/v1/avatars", params={"limit": 3, "cursor": first["nextCursor"]}).json()
        assert not {a["id"] for a in first["data"]} & {a["id"] for a in second["data"]}
    seen = [a.id for a in client.avatars.list(limit=3)]
    assert made <= set(seen)
    assert len(seen) == len(set(seen))
    created_times = [a.created_at for a in client.avatars.list(limit=100)]
    assert created_times == sorted(created_times, reverse=True)


@pytest.mark.parametrize("limit", [0, 101])
def test_list_limit_edges(server: Server, limit: int) -> None:
    with api(server) as http:
        response = http.get("/v1/avatars", params={"limit": limit})
        assert response.status_code == 400
        assert "limit" in error_of(response)
        assert http.get("/v1/avatars", params={"limit": 100}).status_code == 200
        assert http.get("/v1/avatars", params={"limit": 1}).status_code == 200


def test_bad_cursor_is_a_400(server: Server) -> None:
    with api(server) as http:
        response = http.get("/v1/avatars", params={"cursor": "not-a-cursor"})
        assert response.status_code == 400
        assert "cursor" in error_of(response)
        assert http.get("/v1/avatars", params={"cursor": "x" * 1001}).status_code == 400


@pytest.mark.parametrize(
    ("overrides", "mentions"),
    [
        ({"name": "n" * 51}, "name: must be at most 50 characters (got 51)"),
        ({"name": ""}, "name"),
        ({"name": "a\x00b"}, "name: must not contain NUL"),
        ({"personality": "p" * 10_001}, "personality: must be at most 10000 characters"),
        ({"startScript": "s" * 2001}, "startScript: must be at most 2000 characters"),
        ({"referenceImage": "http://example.com/a.png"}, "referenceImage"),
        ({"voice": {"type": "runway-live-preset", "presetId": "bob"}}, "unknown preset voice"),
        ({"voice": {"type": "robot"}}, "voice"),
        ({"imageProcessing": "sharpen"}, "imageProcessing"),
        ({"color": "blue"}, 'Unrecognized key: "color"'),
        ({"documentIds": ["not-a-uuid"]}, "documentIds[0]"),
        ({"documentIds": ["7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"]}, "documentIds[0]: document"),
        ({"voice": {"type": "custom", "id": "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"}}, "voice.id"),
        ({"referenceImage": "data:image/png;base64,@@@"}, "not valid base64"),
        (
            {"referenceImage": "runway://uploads/7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f/a.png"},
            "no upload",
        ),
    ],
)
def test_create_validation_names_the_field(server: Server, overrides: dict, mentions: str) -> None:
    with api(server) as http:
        before = [a["id"] for a in http.get("/v1/avatars", params={"limit": 100}).json()["data"]]
        response = http.post("/v1/avatars", json=avatar_body(**overrides))
        assert response.status_code == 400, response.text
        assert mentions in error_of(response)
        after = http.get("/v1/avatars", params={"limit": 100}).json()["data"]
        assert [a["id"] for a in after] == before


def test_limits_at_their_edges_are_accepted(server: Server) -> None:
    with api(server) as http:
        body = avatar_body(name="n" * 50, personality="p" * 10_000, startScript="s" * 2000)
        response = http.post("/v1/avatars", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "n" * 50


def test_body_that_is_not_json_is_a_400(server: Server) -> None:
    with api(server) as http:
        response = http.post(
            "/v1/avatars", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert "JSON" in error_of(response)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (data_uri(b"this is not an image at all", "image/png"), "not an image format"),
        (data_uri(truncated_png(), "image/png"), "damaged or truncated"),
        (data_uri(bomb_png(), "image/png"), "limit"),
        (data_uri(noise_png(40, 40), "image/png"), "at least 64x64"),
    ],
)
def test_unusable_images_fail_with_a_reason(server: Server, image: str, reason: str) -> None:
    with api(server) as http:
        avatar = ready_avatar(http, referenceImage=image)
    assert avatar["status"] == "FAILED"
    assert reason in avatar["failureReason"]
    assert avatar["processedImageUri"] is None


def test_image_processing_none_keeps_the_framing(server: Server) -> None:
    with api(server) as http:
        avatar = ready_avatar(
            http,
            referenceImage=data_uri(face_on_canvas(700, 560), "image/png"),
            imageProcessing="none",
        )
    assert avatar["status"] == "READY"
    preview = Image.open(io.BytesIO(httpx.get(avatar["processedImageUri"]).content))
    assert preview.size == (512, 410)  # the whole picture, scaled to the 512 px preview


def test_new_reference_image_reprocesses(server: Server) -> None:
    with api(server) as http:
        avatar = ready_avatar(http)
        response = http.patch(
            f"/v1/avatars/{avatar['id']}",
            json={"referenceImage": data_uri(face_on_canvas(800, 600, flip=True), "image/png")},
        )
        assert response.status_code == 200
        assert response.json()["status"] == "PROCESSING"
        # While it processes, another image change is a 409 (as Runway answers);
        # other fields may change.
        conflict = http.patch(
            f"/v1/avatars/{avatar['id']}", json={"referenceImage": face_data_uri()}
        )
        if conflict.status_code == 409:
            assert "processing" in error_of(conflict)
        else:  # processing already finished on a fast machine
            assert conflict.status_code == 200
        assert (
            http.patch(f"/v1/avatars/{avatar['id']}", json={"name": "Renamed"}).status_code == 200
        )
        done = wait_for(
            lambda: http.get(f"/v1/avatars/{avatar['id']}").json(),
            lambda a: a["status"] != "PROCESSING",
        )
    assert done["status"] == "READY"
    assert done["name"] == "Renamed"
    assert done["processedImageUri"] != avatar["processedImageUri"]


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({}, "at least one field"),
        ({"name": None}, "name cannot be null"),
        ({"name": "n" * 51}, "name"),
        ({"unknown": 1}, 'Unrecognized key: "unknown"'),
    ],
)
def test_update_validation(server: Server, body: dict, mentions: str) -> None:
    with api(server) as http:
        avatar = ready_avatar(http)
        response = http.patch(f"/v1/avatars/{avatar['id']}", json=body)
        assert response.status_code == 400
        assert mentions in error_of(response)
        assert http.get(f"/v1/avatars/{avatar['id']}").json()["name"] == avatar["name"]


def test_unknown_and_malformed_ids(server: Server) -> None:
    with api(server) as http:
        missing = "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"
        for method in ("GET", "PATCH", "DELETE"):
            response = http.request(
                method, f"/v1/avatars/{missing}", json={"name": "x"} if method == "PATCH" else None
            )
            assert response.status_code == 404
            assert missing in error_of(response)
        response = http.get("/v1/avatars/not-a-uuid")
        assert response.status_code == 400
        assert "UUID" in error_of(response)


def test_usage_counts_sessions_per_day(client: RunwayML, server: Server) -> None:
    usage = client.avatars.get_usage(
        start_date="2026-01-01T00:00:00Z", end_date="2026-01-04T00:00:00Z"
    )
    assert [d.date.isoformat() for d in usage.by_day] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert usage.total_sessions == 0 and usage.total_seconds == 0
    with api(server) as http:
        for start, end, mentions in [
            ("2026-01-01", "2026-04-02", "at most 90 days"),
            ("2026-01-02", "2026-01-01", "after startDate"),
            ("yesterday", "2026-01-01", "startDate"),
        ]:
            response = http.get("/v1/avatar_usage", params={"startDate": start, "endDate": end})
            assert response.status_code == 400
            assert mentions in error_of(response)
        assert (
            http.get(
                "/v1/avatar_usage",
                params={"startDate": "2026-01-01", "endDate": "2026-03-31T00:00:00+00:00"},
            ).status_code
            == 200
        )
        assert http.get("/v1/avatar_usage", params={"startDate": "2026-01-01"}).status_code == 400


def test_faceless_images_fail_unless_face_points_are_given(server: Server) -> None:
    noise = data_uri(noise_png(400, 400, seed=7), "image/png")
    points = {
        "leftEye": [150, 160],
        "rightEye": [250, 160],
        "mouthLeft": [165, 270],
        "mouthRight": [235, 270],
    }
    with api(server) as http:
        faceless = ready_avatar(http, referenceImage=noise)
        assert faceless["status"] == "FAILED"
        assert "No face was found" in faceless["failureReason"]
        assert "facePoints" in faceless["failureReason"]
        # The picture that failed is still shown (cards, the face-points editor): its preview.
        preview = httpx.get(faceless["referenceImageUri"])
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
        # The extension field fixes it, on create or by a later PATCH of the same avatar.
        fixed = http.patch(f"/v1/avatars/{faceless['id']}", json={"facePoints": points})
        assert fixed.status_code == 200 and fixed.json()["status"] == "PROCESSING"
        done = wait_for(
            lambda: http.get(f"/v1/avatars/{faceless['id']}").json(),
            lambda a: a["status"] != "PROCESSING",
        )
        assert done["status"] == "READY", done
        assert ready_avatar(http, referenceImage=noise, facePoints=points)["status"] == "READY"
        for bad, mentions in [
            ({**points, "leftEye": [300, 160]}, "leftEye must be left of rightEye"),
            ({**points, "mouthLeft": [165, 100], "mouthRight": [235, 100]}, "below the eyes"),
            (
                {k: v for k, v in points.items() if k != "mouthRight"},
                "facePoints.mouthRight is required",
            ),
            ({**points, "leftEye": [1, 2, 3]}, "facePoints.leftEye"),
            ({**points, "nose": [1, 2]}, 'Unrecognized key: "nose"'),
        ]:
            response = http.post("/v1/avatars", json=avatar_body(facePoints=bad))
            assert response.status_code == 400, response.text
            assert mentions in error_of(response)
