"""Text extraction from real files generated here: .txt, .md, PDF and DOCX, and the refusals."""

from __future__ import annotations

import pytest

from opencharacters.ingest.documents import DocumentRejected, extract_text
from tests.support.documents import ENCRYPTED_OFFICE, docx, docx_bomb, pdf, pdf_bomb

pytestmark = pytest.mark.unit


def test_plain_text_and_markdown() -> None:
    text = extract_text(
        b"\xef\xbb\xbfHours:\r\nOpen 9 to 5.\r\n\r\n\r\n\r\nClosed Sundays.  \n",
        filename="faq.txt",
        media_type="text/plain",
    )
    assert text.format == "text"
    assert text.text == "Hours:\nOpen 9 to 5.\n\nClosed Sundays."
    markdown = extract_text("# Menu\n\n- Café crème".encode(), filename="menu.md", media_type=None)
    assert markdown.format == "markdown" and markdown.text == "# Menu\n\n- Café crème"
    utf16 = extract_text("Grüße".encode("utf-16"), filename="x.txt", media_type=None)
    assert utf16.text == "Grüße"


def test_pdf_text_in_page_order() -> None:
    data = pdf([["Return policy", "Returns within 30 days."], ["Shipping takes 3 days."]])
    extracted = extract_text(data, filename=None, media_type="application/pdf")
    assert extracted.format == "pdf"
    assert extracted.text.index("Returns within 30 days.") < extracted.text.index("Shipping")


def test_pdf_with_an_empty_user_password_is_read() -> None:
    data = pdf([["Only printing is restricted."]], password="")
    assert "printing is restricted" in extract_text(data, filename="a.pdf", media_type=None).text


def test_docx_paragraphs_headings_and_tables() -> None:
    data = docx(
        "Opening hours",
        ["We open at nine.", "We close at five."],
        table=[["Day", "Hours"], ["Saturday", "10-2"]],
    )
    extracted = extract_text(data, filename="hours.docx", media_type=None)
    assert extracted.format == "docx"
    assert extracted.text.startswith("# Opening hours\n\nWe open at nine.\n\nWe close at five.")
    assert "Saturday | 10-2" in extracted.text
    # The bytes decide, not the name: the same file under a wrong name still reads as DOCX.
    assert extract_text(data, filename="upload.bin", media_type=None).format == "docx"


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (pdf([[], []]), "scan.pdf", "hold no text: it is probably scanned"),
        (pdf([["secret"]], password="s3cret"), "locked.pdf", "password-protected"),
        (ENCRYPTED_OFFICE, "locked.docx", "password-protected (encrypted)"),
        (b"caf\xe9 au lait", "latin1.txt", "neither text in UTF-8"),
        (b"", "empty.txt", "the file is empty"),
        (b"text\x00with NUL", "nul.txt", "NUL characters"),
        (b"PK\x03\x04not really a zip", "broken.docx", "not a valid zip archive"),
    ],
)
def test_refusals_say_why(data: bytes, filename: str, expected: str) -> None:
    with pytest.raises(DocumentRejected, match=None) as caught:
        extract_text(data, filename=filename, media_type=None)
    assert expected in str(caught.value)


def test_a_docx_zip_bomb_is_refused_before_inflating() -> None:
    bomb = docx_bomb(20_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(DocumentRejected, match="decompression bomb"):
        extract_text(bomb, filename="bomb.docx", media_type=None)


def test_a_pdf_stream_bomb_is_refused() -> None:
    bomb = pdf_bomb(80_000_000)
    assert len(bomb) < 400_000
    with pytest.raises(DocumentRejected, match="decompression bomb"):
        extract_text(bomb, filename="bomb.pdf", media_type=None)


def test_damaged_files_are_refused_never_crash() -> None:
    """Seeded byte mutations of real files: each is read or refused with a reason (an escaping
    pypdf/zipfile exception would be a 500)."""
    import logging
    import random

    bases = [
        pdf([["Hello world", "Second line"], ["Page two"]]),
        pdf([["x"]], password=""),
        docx("Heading", ["First paragraph.", "Second."], table=[["a", "b"]]),
    ]
    rng = random.Random(1)
    logging.disable(logging.CRITICAL)  # pypdf logs every repair it attempts
    try:
        for _ in range(400):
            data = bytearray(rng.choice(bases))
            for _ in range(rng.randint(1, 20)):
                at = rng.randrange(len(data))
                roll = rng.random()
                if roll < 0.5:
                    data[at] = rng.randrange(256)
                elif roll < 0.8:
                    del data[at : at + rng.randint(1, 50)]
                else:
                    data[at:at] = rng.randbytes(rng.randint(1, 20))
            try:
                extract_text(bytes(data), filename=None, media_type=None)
            except DocumentRejected as refused:
                assert str(refused)
    finally:
        logging.disable(logging.NOTSET)
