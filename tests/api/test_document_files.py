"""Knowledge documents from files (type "file"): runway:// uploads and data: URIs, real PDF
and DOCX files made in the test, on a real server, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from runwayml import RunwayML

from tests.support.documents import ENCRYPTED_OFFICE, docx, docx_bomb, pdf
from tests.support.http import api, error_of, ready_avatar
from tests.support.media import data_uri
from tests.support.server import Server

pytestmark = pytest.mark.integration

DOCX_MEDIA = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.one_database
def test_an_uploaded_pdf_becomes_a_file_document(client: RunwayML, server: Server) -> None:
    uploaded = client.uploads.create_ephemeral(
        file=("returns.pdf", pdf([["Returns", "Returns are free within 30 days."]]))
    )
    created = client.documents.create(
        name="Returns", content="", extra_body={"content": None, "file": uploaded.uri}
    )
    assert created.type == "file"
    assert "Returns are free within 30 days." in (created.content or "")
    assert client.documents.retrieve(created.id).type == "file"
    # It is knowledge like any other: an avatar can carry it.
    with api(server) as http:
        avatar = ready_avatar(http, documentIds=[created.id])
    assert avatar["documentIds"] == [created.id]


def test_docx_and_markdown_from_data_uris(server: Server) -> None:
    with api(server) as http:
        word = http.post(
            "/v1/documents",
            json={
                "name": "Hours",
                "file": data_uri(docx("Opening hours", ["We open at nine."]), DOCX_MEDIA),
            },
        )
        assert word.status_code == 200, word.text
        assert word.json()["type"] == "file"
        assert word.json()["content"] == "# Opening hours\n\nWe open at nine."

        markdown = http.post(
            "/v1/documents",
            json={"name": "Menu", "file": data_uri(b"# Menu\n\n- Soup", "text/markdown")},
        )
        assert markdown.status_code == 200 and markdown.json()["content"] == "# Menu\n\n- Soup"


def test_unusable_files_are_refused_with_the_reason(server: Server) -> None:
    cases = [
        (data_uri(pdf([[]]), "application/pdf"), "probably scanned"),
        (data_uri(pdf([["x"]], password="pw"), "application/pdf"), "password-protected"),
        (data_uri(ENCRYPTED_OFFICE, DOCX_MEDIA), "password-protected"),
        (data_uri(docx_bomb(20_000_000), DOCX_MEDIA), "decompression bomb"),
        (data_uri(b"1 " * 60_000, "text/plain"), "60,000 tokens"),
        (data_uri(b"word " * 45_000, "text/plain"), "at most 200,000"),
        ("https://example.com/a.pdf", "runway:// upload URI"),
        ("runway://uploads/7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f/a.pdf", "no upload found"),
    ]
    with api(server) as http:
        for uri, expected in cases:
            answer = http.post("/v1/documents", json={"name": "Bad", "file": uri})
            assert answer.status_code == 400, (expected, answer.text)
            message = error_of(answer)
            assert "file" in message and expected in message, message
        both = http.post("/v1/documents", json={"name": "Both", "content": "x", "file": "data:,x"})
        assert both.status_code == 400 and "not both" in error_of(both)
        neither = http.post("/v1/documents", json={"name": "Neither"})
        assert neither.status_code == 400 and "content" in error_of(neither)
