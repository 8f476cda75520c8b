"""Reference images: decode safely, build the face rig (which frames the output), previews."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class ImageRejected(Exception):
    """The image cannot be used; the message becomes the avatar's failureReason.
    `preview_jpeg`: a preview of the picture when it could be decoded, so that the owner sees
    which picture failed (and can place face points on it) instead of an empty box."""

    def __init__(self, message: str, preview_jpeg: bytes | None = None) -> None:
        super().__init__(message)
        self.preview_jpeg = preview_jpeg


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    original_format: str
    processed_jpeg: bytes
    reference_preview_jpeg: bytes
    processed_preview_jpeg: bytes
    rig_json: bytes
    face: dict[str, Any] = field(default_factory=dict)


def decode_image(data: bytes, *, max_pixels: int) -> Image.Image:
    """A fully loaded RGB image, upright per EXIF, or ImageRejected saying what is wrong."""
    if not data:
        raise ImageRejected("The reference image is empty.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.width * image.height > max_pixels:
                raise ImageRejected(
                    f"The reference image is {image.width}x{image.height} pixels; "
                    f"the limit is {max_pixels} pixels."
                )
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected(
                f"The reference image is too large to decode safely (limit {max_pixels} pixels)."
            ) from None
        except UnidentifiedImageError:
            raise ImageRejected(
                "The reference image is not an image format we can read "
                "(use JPEG, PNG, WebP or GIF)."
            ) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected(f"The reference image is damaged or truncated ({exc}).") from None
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    if image.width < 64 or image.height < 64:
        raise ImageRejected(
            f"The reference image is {image.width}x{image.height}; it must be at least 64x64."
        )
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (236, 236, 236, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def _jpeg(image: Image.Image, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _preview(image: Image.Image, max_side: int) -> bytes:
    preview = image.copy()
    preview.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return _jpeg(preview, quality=85)


def process_reference_image(
    data: bytes,
    *,
    mode: str,
    output_size: tuple[int, int],
    max_pixels: int,
    preview_max_side: int,
    face_points: Mapping[str, Sequence[float]] | None = None,
) -> ProcessedImage:
    """Decodes the image and builds the face rig, whose frame (the face centred at the output
    size) is the processed copy for `optimize`; `none` keeps the picture as it is."""
    from opencharacters.animation.landmarks import NoFaceError
    from opencharacters.animation.rig import prepare

    image = decode_image(data, max_pixels=max_pixels)
    original_format = (Image.open(io.BytesIO(data)).format or "bin").lower()
    bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
    try:
        rig = prepare(bgr, face_points, output_size)
    except NoFaceError:
        raise ImageRejected(
            "No face was found in the reference image. Use a picture with one face clearly "
            "visible, centred and well lit, or give facePoints (leftEye, rightEye, mouthLeft, "
            "mouthRight in image pixels) for stylized faces a detector cannot find.",
            _preview(image, preview_max_side),
        ) from None
    except ValueError as exc:
        raise ImageRejected(
            f"The face points do not fit this image: {exc}.", _preview(image, preview_max_side)
        ) from None
    if mode == "optimize":
        rgb = cv2.cvtColor(rig.image(), cv2.COLOR_BGR2RGB)
        processed = Image.fromarray(rgb)
    else:
        processed = image
    appearance = rig.appearance
    return ProcessedImage(
        original_format="jpg" if original_format == "jpeg" else original_format,
        processed_jpeg=_jpeg(processed),
        reference_preview_jpeg=_preview(image, preview_max_side),
        processed_preview_jpeg=_preview(processed, preview_max_side),
        rig_json=rig.to_bytes(),
        face={
            "landmarkSource": rig.landmark_source,
            "mouthOpen": appearance.mouth_open,
            "teethVisible": appearance.teeth_visible,
            "smiling": appearance.smiling,
        },
    )
