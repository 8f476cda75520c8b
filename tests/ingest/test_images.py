from __future__ import annotations

import io

import pytest
from PIL import Image

from opencharacters.animation.rig import FaceRig
from opencharacters.ingest.images import ImageRejected, decode_image, process_reference_image
from tests.support.media import FACE_JPEG, bomb_png, noise_png, truncated_png

pytestmark = pytest.mark.integration


def test_builds_the_rig_and_frames_the_face() -> None:
    result = process_reference_image(
        FACE_JPEG.read_bytes(),
        mode="optimize",
        output_size=(1088, 704),
        max_pixels=10**8,
        preview_max_side=256,
    )
    processed = Image.open(io.BytesIO(result.processed_jpeg))
    assert processed.size == (1088, 704)
    rig = FaceRig.from_json(result.rig_json)
    assert rig.size == (1088, 704)
    assert result.face["landmarkSource"] in ("face_mesh", "haar")
    assert result.face["teethVisible"] is True  # the astronaut smiles with her teeth showing
    preview = Image.open(io.BytesIO(result.processed_preview_jpeg))
    assert max(preview.size) == 256
    assert result.original_format == "jpg"


def test_no_face_is_rejected_unless_points_are_given() -> None:
    kwargs = {
        "mode": "optimize",
        "output_size": (1088, 704),
        "max_pixels": 10**8,
        "preview_max_side": 128,
    }
    with pytest.raises(ImageRejected, match="No face was found"):
        process_reference_image(noise_png(), **kwargs)  # type: ignore[arg-type]
    points = {
        "left_eye": [120, 90],
        "right_eye": [200, 90],
        "mouth_left": [130, 170],
        "mouth_right": [190, 170],
    }
    result = process_reference_image(noise_png(), face_points=points, **kwargs)  # type: ignore[arg-type]
    assert result.face["landmarkSource"] == "supplied"
    with pytest.raises(ImageRejected, match="face points"):
        process_reference_image(noise_png(), face_points={"left_eye": [1, 1]}, **kwargs)  # type: ignore[arg-type]


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
