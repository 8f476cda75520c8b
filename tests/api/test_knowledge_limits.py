"""The 50,000-tokens-per-avatar knowledge limit at its edges, through a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from opencharacters.domain.knowledge import MAX_AVATAR_KNOWLEDGE_TOKENS, count_tokens
from tests.support.http import api, avatar_body, error_of
from tests.support.server import Server

pytestmark = pytest.mark.integration


def words(n: int) -> str:
    """Exactly n tokens ("word" is one token; spaces are free)."""
    text = " ".join(["word"] * n)
    assert count_tokens(text) == n
    return text


@pytest.fixture(scope="module")
def http(make_server: Callable[..., Server]) -> Iterator[httpx.Client]:
    # BM25 only: indexing 50,000 tokens with MiniLM in the background would only slow this down.
    server = make_server(OPENCHARACTERS_ENGINES__KNOWLEDGE__EMBEDDER="none")
    with api(server) as client:
        yield client


def document(http: httpx.Client, tokens: int) -> str:
    response = http.post(
        "/v1/documents", json={"name": f"{tokens} words", "content": words(tokens)}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_avatar_create_at_and_over_the_limit(http: httpx.Client) -> None:
    big = document(http, 40_000)
    exact = document(http, MAX_AVATAR_KNOWLEDGE_TOKENS - 40_000)
    over = document(http, MAX_AVATAR_KNOWLEDGE_TOKENS - 40_000 + 1)

    ok = http.post("/v1/avatars", json=avatar_body(documentIds=[big, exact]))
    assert ok.status_code == 200, ok.text
    assert ok.json()["documentIds"] == [big, exact]

    refused = http.post("/v1/avatars", json=avatar_body(documentIds=[big, over]))
    assert refused.status_code == 400
    message = error_of(refused)
    assert message.startswith("documentIds:")
    assert "50,001 tokens" in message and "at most 50,000" in message


def test_avatar_update_at_and_over_the_limit(http: httpx.Client) -> None:
    big = document(http, 40_000)
    exact = document(http, 10_000)
    over = document(http, 10_001)
    avatar = http.post("/v1/avatars", json=avatar_body()).json()["id"]

    refused = http.patch(f"/v1/avatars/{avatar}", json={"documentIds": [big, over]})
    assert refused.status_code == 400
    assert error_of(refused).startswith("documentIds:") and "50,000" in error_of(refused)
    assert http.get(f"/v1/avatars/{avatar}").json()["documentIds"] == []  # nothing changed

    ok = http.patch(f"/v1/avatars/{avatar}", json={"documentIds": [big, exact]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["documentIds"] == [big, exact]
    # Other fields can still be changed while the avatar is at the limit.
    assert http.patch(f"/v1/avatars/{avatar}", json={"name": "Bea"}).status_code == 200


def test_document_update_that_takes_an_avatar_over_the_limit(http: httpx.Client) -> None:
    big = document(http, 40_000)
    small = document(http, 9_000)
    avatar = http.post("/v1/avatars", json=avatar_body(documentIds=[big, small])).json()["id"]

    at_limit = http.patch(f"/v1/documents/{small}", json={"content": words(10_000)})
    assert at_limit.status_code == 204, at_limit.text

    over = http.patch(f"/v1/documents/{small}", json={"content": words(10_001)})
    assert over.status_code == 400
    message = error_of(over)
    assert message.startswith("content:") and avatar in message
    assert "50,001 tokens" in message and "at most 50,000" in message
    assert http.get(f"/v1/documents/{small}").json()["content"] == words(10_000)

    # A rename does not count; a detached document may grow as large as documents may be.
    assert http.patch(f"/v1/documents/{small}", json={"name": "renamed"}).status_code == 204
    assert http.patch(f"/v1/avatars/{avatar}", json={"documentIds": [big]}).status_code == 200
    assert http.patch(f"/v1/documents/{small}", json={"content": words(40_000)}).status_code == 204


def test_one_document_alone_over_the_limit_cannot_be_attached(http: httpx.Client) -> None:
    # 200,000 characters of dense text (digits count one token each) hold more than 50,000.
    dense = http.post("/v1/documents", json={"name": "digits", "content": "7" * 60_000})
    assert dense.status_code == 200
    refused = http.post("/v1/avatars", json=avatar_body(documentIds=[dense.json()["id"]]))
    assert refused.status_code == 400
    assert "60,000 tokens" in error_of(refused)
