"""Text from an uploaded knowledge file: plain text, Markdown, PDF (pypdf) and DOCX
(python-docx), with the limits that keep a hostile file from costing more than a large honest one.

What is refused, each with a message saying why and what to do: files that are not one of the
four formats, text that is not UTF-8 (or UTF-16 with a byte-order mark), PDFs and Office files
with a password, PDFs whose pages hold no text (scans: they need OCR first), and archives or
streams that inflate past the limits below (a 40 KB zip can hold gigabytes of zeros)."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

MAX_FILE_BYTES = 20_000_000
"""Largest file accepted, compressed (an upload's own limit is checked before this)."""
MAX_UNCOMPRESSED_BYTES = 60_000_000
"""DOCX: total declared size of the archive's members. PDF: output of any one stream."""
MAX_ZIP_MEMBERS = 2_000
MAX_COMPRESSION_RATIO = 200
"""Real DOCX XML compresses 5 to 20 times; hundreds of times is a bomb's signature."""
MAX_PDF_PAGES = 2_000
MAX_PDF_DECODING_BYTES = 200_000_000
"""All streams of one PDF together (pypdf's accumulated decoding work)."""
MAX_TEXT_CHARS = 2_000_000
"""Extraction stops being worth it long before this (50,000 tokens is about 200,000 chars)."""

_DOCX_MEDIA = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # what encrypted Office files are wrapped in


class DocumentRejected(ValueError):
    """The file cannot become a document; the message says why, for the caller."""


@dataclass(frozen=True, slots=True)
class ExtractedText:
    text: str
    format: str  # "text" | "markdown" | "pdf" | "docx"


def extract_text(data: bytes, *, filename: str | None, media_type: str | None) -> ExtractedText:
    """The file's text, by what its bytes are (the name and media type only break ties)."""
    if not data:
        raise DocumentRejected("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise DocumentRejected(
            f"the file is {len(data):,} bytes; knowledge files may be at most {MAX_FILE_BYTES:,}"
        )
    name = (filename or "").lower()
    media = (media_type or "").lower()
    if data.startswith(b"%PDF-"):
        return ExtractedText(_pdf_text(data), "pdf")
    if data.startswith(_OLE_MAGIC):
        raise DocumentRejected(
            "the file is a password-protected (encrypted) or legacy binary Office document; "
            "remove the password and save it as .docx, .pdf, .txt or .md"
        )
    if data.startswith(b"PK\x03\x04"):
        if name.endswith(".docx") or media == _DOCX_MEDIA or _looks_like_docx(data):
            return ExtractedText(_docx_text(data), "docx")
        raise DocumentRejected("the file is a zip archive but not a .docx document")
    text = _decode_text(data)
    markdown = name.endswith((".md", ".markdown")) or "markdown" in media
    return ExtractedText(text, "markdown" if markdown else "text")


# --- plain text and Markdown -------------------------------------------------------------


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise DocumentRejected("the file starts like UTF-16 text but is not") from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentRejected(
                "the file is neither text in UTF-8 nor a PDF or DOCX document "
                f"(undecodable byte at offset {exc.start}); supported: .txt, .md, .pdf, .docx"
            ) from None
    if "\x00" in text:
        raise DocumentRejected("the file holds NUL characters: it is binary, not text")
    return _tidy(text)


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# --- PDF ---------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, PyPdfError

    try:
        with apply_configuration(
            zlib_maximum_output_length=MAX_UNCOMPRESSED_BYTES,
            lzw_maximum_output_length=MAX_UNCOMPRESSED_BYTES,
            run_length_maximum_output_length=MAX_UNCOMPRESSED_BYTES,
            array_based_stream_maximum_output_length=MAX_UNCOMPRESSED_BYTES,
            stream_decoding_work_maximum_length=MAX_PDF_DECODING_BYTES,
        ):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not _opens_without_password(reader):
                raise DocumentRejected(
                    "the PDF is password-protected (encrypted); remove the password and upload it "
                    "again"
                )
            count = len(reader.pages)
            if count > MAX_PDF_PAGES:
                raise DocumentRejected(
                    f"the PDF has {count:,} pages; knowledge PDFs may have at most "
                    f"{MAX_PDF_PAGES:,}"
                )
            pages: list[str] = []
            total = 0
            for page in reader.pages:
                # pypdf's text extraction logs and swallows a stream over the limit (the limit
                # still stops the inflation); decoding the page's content first makes it an error.
                page.get_contents()
                text = page.extract_text() or ""
                pages.append(text)
                total += len(text)
                if total > MAX_TEXT_CHARS:
                    break
    except DocumentRejected:
        raise
    except LimitReachedError:
        raise DocumentRejected(
            "the PDF inflates past this server's limits (a decompression bomb, or far more "
            f"content than knowledge can hold: over {MAX_UNCOMPRESSED_BYTES:,} bytes in one stream)"
        ) from None
    except FileNotDecryptedError:
        raise DocumentRejected(
            "the PDF is password-protected (encrypted); remove the password and upload it again"
        ) from None
    except NotImplementedError as exc:
        if "ncrypt" in str(exc):
            raise DocumentRejected(
                "the PDF is encrypted with a scheme this server cannot open; remove the "
                "encryption and upload it again"
            ) from None
        raise DocumentRejected(f"the PDF could not be read: {str(exc)[:200]}") from None
    except (PdfReadError, PyPdfError) as exc:
        raise DocumentRejected(f"the PDF could not be read: {str(exc)[:200]}") from None
    except Exception as exc:  # a damaged file trips pypdf in many ways; none is our error
        raise DocumentRejected(
            f"the PDF is damaged and could not be read ({type(exc).__name__})"
        ) from None
    text = _tidy("\n\n".join(pages))
    if not text:
        raise DocumentRejected(
            f"the PDF's {count} page(s) hold no text: it is probably scanned images; run OCR on "
            "it (or export it with a text layer) and upload it again"
        )
    return text


def _opens_without_password(reader: object) -> bool:
    """Many PDFs are 'encrypted' with an empty user password only to restrict printing or
    copying; every viewer opens them, so they are read. A real password is refused."""
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception:
        return False


# --- DOCX --------------------------------------------------------------------------------


def _looks_like_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError):
        return False


def _check_archive(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError):
        raise DocumentRejected("the .docx file is not a valid zip archive") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise DocumentRejected(
                f"the .docx archive has {len(members):,} members; at most {MAX_ZIP_MEMBERS:,}"
            )
        if any(member.flag_bits & 0x1 for member in members):
            raise DocumentRejected(
                "the .docx archive is encrypted; remove the password and upload it again"
            )
        total = sum(member.file_size for member in members)
        if total > MAX_UNCOMPRESSED_BYTES:
            raise DocumentRejected(
                f"the .docx file inflates to {total:,} bytes; at most {MAX_UNCOMPRESSED_BYTES:,} "
                "(a decompression bomb, or far more than knowledge can hold)"
            )
        for member in members:
            if (
                member.compress_size
                and member.file_size / member.compress_size > MAX_COMPRESSION_RATIO
            ):
                raise DocumentRejected(
                    f"the .docx member {member.filename[:80]!r} inflates "
                    f"{member.file_size // member.compress_size:,} times; at most "
                    f"{MAX_COMPRESSION_RATIO} (a decompression bomb)"
                )
        if "word/document.xml" not in archive.namelist():
            raise DocumentRejected("the zip archive has no word/document.xml: it is not a .docx")


def _docx_text(data: bytes) -> str:
    """Paragraphs in order (headings as Markdown headings), then table cells row by row.
    zipfile reads no member past its declared size, so the checked sizes bound the work."""
    _check_archive(data)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DocumentRejected(f"the .docx file could not be read: {str(exc)[:200]}") from None
    except Exception as exc:  # lxml's XMLSyntaxError and relatives: a damaged document
        raise DocumentRejected(f"the .docx file is damaged: {str(exc)[:200]}") from None
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = re.fullmatch(r"Heading (\d)", style)
        lines.append(f"{'#' * int(level[1])} {text}" if level else text)
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells]
            if any(cells):
                lines.append(" | ".join(cells))
    text = _tidy("\n\n".join(lines))
    if not text:
        raise DocumentRejected("the .docx document holds no text")
    return text
