"""Images and data URIs for tests."""

from __future__ import annotations

import base64
import io
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ASSETS = Path(__file__).parent.parent / "assets"
FACE_JPEG = ASSETS / "astronaut.jpg"  # NASA portrait, public domain (via scikit-image)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def face_data_uri() -> str:
    return data_uri(FACE_JPEG.read_bytes(), "image/jpeg")


def noise_png(width: int = 320, height: int = 240, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = (rng.random((height, width, 3)) * 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def truncated_png() -> bytes:
    whole = noise_png(400, 300)
    return whole[: len(whole) // 2]


def bomb_png(side: int = 20_000) -> bytes:
    """A tiny PNG that claims side x side pixels (a decompression bomb)."""
    import struct

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * side
    compressed = zlib.compress(row * 64, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", compressed)
        + chunk(b"IEND", b"")
    )
