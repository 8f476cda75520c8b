from __future__ import annotations

import io

import pytest
from PIL import Image

from opencharacters.ingest.images import (
    ImageRejected,
    decode_image,
    face_centred_crop,
    find_face,
    process_reference_image,
)
from tests.support.media import FACE_JPEG, bomb_png, noise_png, truncated_png


def test_finds_the_face_and_crops_around_it() -> None:
    result = process_reference_image(
        FACE_JPEG.read_bytes(),
        mode="optimize",
        output_size=(1088, 704),
        max_pixels=10**8,
        preview_max_side=256,
    )
    x, y, w, h = result.face["box"]
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200  # the astronaut's face
    processed = Image.open(io.BytesIO(result.processed_jpeg))
    assert processed.size == (1088, 704)
    left, top, cw, ch = result.face["crop"]
    assert left <= x and x + w <= left + cw and top <= y and y + h <= top + ch
    preview = Image.open(io.BytesIO(result.processed_preview_jpeg))
    assert max(preview.size) == 256
    assert result.original_format == "jpg"


def test_no_face_means_a_centred_crop() -> None:
    assert find_face(Image.open(io.BytesIO(noise_png()))) is None
    assert face_centred_crop((1000, 1000), None, 2.0) == (0, 250, 1000, 500)


@pytest.mark.parametrize(
    ("size", "face", "aspect"),
    [
        ((512, 512), (177, 66, 95, 95), 1088 / 704),
        ((4000, 300), (10, 10, 50, 50), 1.5),
        ((300, 4000), None, 0.5),
    ],
)
def test_crops_stay_inside_the_image_with_the_right_aspect(
    size: tuple[int, int], face: tuple[int, int, int, int] | None, aspect: float
) -> None:
    left, top, width, height = face_centred_crop(size, face, aspect)
    assert left >= 0 and top >= 0 and left + width <= size[0] and top + height <= size[1]
    assert abs(width / height - aspect) < 0.02


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"GIF89a nonsense", "not an image format"),
        (truncated_png(), "damaged or truncated"),
        (bomb_png(), "limit"),
        (noise_png(63, 100), "at least 64x64"),
    ],
)
def test_bad_images_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected, match=reason):
        decode_image(data, max_pixels=40_000_000)


def test_transparency_is_flattened() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (100, 100), (255, 0, 0, 0)).save(buffer, format="PNG")
    image = decode_image(buffer.getvalue(), max_pixels=10**6)
    assert image.mode == "RGB"
    assert image.getpixel((50, 50)) == (236, 236, 236)
