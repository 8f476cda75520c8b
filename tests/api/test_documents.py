"""Knowledge documents through the SDK and raw HTTP."""

from __future__ import annotations

import pytest
import runwayml
from runwayml import RunwayML

from tests.support.http import api, error_of, ready_avatar
from tests.support.server import Server

pytestmark = pytest.mark.integration


def test_document_lifecycle_and_used_by(client: RunwayML, server: Server) -> None:
    document = client.documents.create(name="Store FAQ", content="# Hours\nOpen 9 to 5.")
    assert document.type == "text"
    assert document.used_by == []
    assert document.content == "# Hours\nOpen 9 to 5."

    with api(server) as http:
        avatar = ready_avatar(http, documentIds=[document.id])
    assert avatar["documentIds"] == [document.id]
    used = client.documents.retrieve(document.id).used_by
    assert [(u.id, u.name) for u in used] == [(avatar["id"], "Ada")]
    assert used[0].image_url and used[0].image_url.startswith(server.base_url)

    assert client.documents.update(document.id, content="# Hours\nOpen 8 to 6.") is None
    again = client.documents.retrieve(document.id)
    assert again.content == "# Hours\nOpen 8 to 6." and again.name == "Store FAQ"
    assert again.updated_at > again.created_at

    listed = {d.id: d for d in client.documents.list(limit=50, order="desc", sort="createdAt")}
    assert document.id in listed
    assert "content" not in listed[document.id].to_dict()

    client.documents.delete(document.id)
    with pytest.raises(runwayml.NotFoundError):
        client.documents.retrieve(document.id)
    with api(server) as http:
        assert http.get(f"/v1/avatars/{avatar['id']}").json()["documentIds"] == []


def test_document_ids_replace_and_keep_order(server: Server) -> None:
    with api(server) as http:
        ids = [
            http.post("/v1/documents", json={"name": f"d{i}", "content": "x"}).json()["id"]
            for i in range(3)
        ]
        avatar = ready_avatar(http, documentIds=ids[:2])
        assert avatar["documentIds"] == ids[:2]
        response = http.patch(f"/v1/avatars/{avatar['id']}", json={"documentIds": [ids[2], ids[0]]})
        assert response.json()["documentIds"] == [ids[2], ids[0]]
        assert (
            http.patch(f"/v1/avatars/{avatar['id']}", json={"documentIds": []}).json()[
                "documentIds"
            ]
            == []
        )


def test_sorting_and_order(server: Server) -> None:
    with api(server) as http:
        first = http.post("/v1/documents", json={"name": "first", "content": "a"}).json()
        second = http.post("/v1/documents", json={"name": "second", "content": "b"}).json()
        assert (
            http.patch(f"/v1/documents/{first['id']}", json={"name": "first, edited"}).status_code
            == 204
        )

        def order(**params: str) -> list[str]:
            data = http.get("/v1/documents", params={"limit": 100, **params}).json()["data"]
            return [d["id"] for d in data if d["id"] in (first["id"], second["id"])]

        assert order() == [second["id"], first["id"]]
        assert order(order="asc") == [first["id"], second["id"]]
        assert order(sort="updatedAt") == [first["id"], second["id"]]
        for params in ({"sort": "name"}, {"order": "up"}):
            response = http.get("/v1/documents", params=params)
            assert response.status_code == 400
            assert next(iter(params)) in error_of(response)


def test_pagination_in_both_orders(server: Server) -> None:
    with api(server) as http:
        made = [
            http.post("/v1/documents", json={"name": f"p{i}", "content": "x"}).json()["id"]
            for i in range(5)
        ]
        for order in ("asc", "desc"):
            seen: list[str] = []
            cursor = None
            while True:
                params = {"limit": 2, "order": order, **({"cursor": cursor} if cursor else {})}
                page = http.get("/v1/documents", params=params).json()
                seen += [d["id"] for d in page["data"]]
                cursor = page["nextCursor"]
                assert page["hasMore"] is (cursor is not None)
                if not cursor:
                    break
            assert len(seen) == len(set(seen))
            assert set(made) <= set(seen)


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"name": "n" * 256, "content": "c"}, "name: must be at most 255 characters"),
        ({"name": "n", "content": "c" * 200_001}, "content: must be at most 200000 characters"),
        ({"name": "", "content": "c"}, "name"),
        ({"name": "n"}, "content is required"),
        ({"name": "n", "content": "c", "kind": "file"}, 'Unrecognized key: "kind"'),
    ],
)
def test_create_limits(server: Server, body: dict, mentions: str) -> None:
    with api(server) as http:
        response = http.post("/v1/documents", json=body)
        assert response.status_code == 400
        assert mentions in error_of(response)


def test_limits_at_the_edge_are_accepted(server: Server) -> None:
    with api(server) as http:
        response = http.post("/v1/documents", json={"name": "n" * 255, "content": "c" * 200_000})
        assert response.status_code == 200
        document = response.json()
        bad = http.patch(f"/v1/documents/{document['id']}", json={})
        assert bad.status_code == 400 and "at least one" in error_of(bad)
        assert http.get(f"/v1/documents/{document['id']}").json()["content"] == "c" * 200_000
