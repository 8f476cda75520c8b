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


def face_on_canvas(width: int, height: int, *, flip: bool = False) -> bytes:
    """The test face pasted at the centre of a plain canvas of another size (PNG)."""
    face = Image.open(FACE_JPEG).convert("RGB")
    if flip:
        face = face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    canvas = Image.new("RGB", (width, height), (210, 205, 200))
    canvas.paste(face, ((width - face.width) // 2, (height - face.height) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def cartoon_png(tilt_degrees: float = 0) -> tuple[bytes, dict[str, list[float]]]:
    """The drawn cartoon face and its face points in the API's extension shape. Upright, OpenCV's
    Haar detector finds it; tilted by 25° or so (counter-clockwise, the points turned with it),
    no detector does and processing needs the points."""
    import cv2

    from opencharacters.animation.sample_faces import CARTOON_FACE_POINTS, cartoon

    image = cartoon()
    turn = cv2.getRotationMatrix2D((image.shape[1] / 2, image.shape[0] / 2), tilt_degrees, 1.0)
    image = cv2.warpAffine(
        image, turn, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REPLICATE
    )
    buffer = io.BytesIO()
    Image.fromarray(image[:, :, ::-1]).save(buffer, format="PNG")
    names = {
        "left_eye": "leftEye",
        "right_eye": "rightEye",
        "mouth_left": "mouthLeft",
        "mouth_right": "mouthRight",
    }
    points = {
        names[k]: [round(float(v), 1) for v in turn @ np.array([*CARTOON_FACE_POINTS[k], 1.0])]
        for k in names
    }
    return buffer.getvalue(), points
