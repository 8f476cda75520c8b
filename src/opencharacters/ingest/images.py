"""Reference images: decode safely, find the face, crop for the output, make previews."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class ImageRejected(Exception):
    """The image cannot be used; the message becomes the avatar's failureReason."""


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    original_format: str
    processed_jpeg: bytes
    reference_preview_jpeg: bytes
    processed_preview_jpeg: bytes
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


def find_face(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The largest frontal face box (x, y, w, h) in image pixels, from OpenCV's Haar cascade."""
    import cv2

    scale = min(1.0, 640 / max(image.width, image.height))
    small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    gray = cv2.equalizeHist(cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2GRAY))
    cascade_dir: str = cv2.data.haarcascades  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(cascade_dir + "haarcascade_frontalface_default.xml")
    min_side = max(24, round(min(small.size) * 0.08))
    faces = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side,) * 2)
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: int(f[2]) * int(f[3]))
    return (round(x / scale), round(y / scale), round(w / scale), round(h / scale))


def face_centred_crop(
    size: tuple[int, int], face: tuple[int, int, int, int] | None, aspect: float
) -> tuple[int, int, int, int]:
    """The largest crop of the given aspect that frames the face (or the centre) well."""
    width, height = size
    crop_w = min(width, round(height * aspect))
    crop_h = min(height, round(crop_w / aspect))
    crop_w = round(crop_h * aspect)
    if face is None:
        cx, cy = width / 2, height / 2
    else:
        fx, fy, fw, fh = face
        # Frame the head with room for hair and shoulders: the face fills about 45 % of the height.
        wanted_h = fh / 0.45
        if wanted_h < crop_h:
            crop_h = max(round(wanted_h), min(crop_h, 64))
            crop_w = round(crop_h * aspect)
        cx, cy = fx + fw / 2, fy + fh * 0.55
    left = int(min(max(cx - crop_w / 2, 0), width - crop_w))
    top = int(min(max(cy - crop_h / 2, 0), height - crop_h))
    return left, top, crop_w, crop_h


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
) -> ProcessedImage:
    image = decode_image(data, max_pixels=max_pixels)
    original_format = (Image.open(io.BytesIO(data)).format or "bin").lower()
    face = find_face(image)
    face_info: dict[str, Any] = {"detector": "opencv-haar", "box": list(face) if face else None}
    if mode == "optimize":
        out_w, out_h = output_size
        left, top, crop_w, crop_h = face_centred_crop(image.size, face, out_w / out_h)
        face_info["crop"] = [left, top, crop_w, crop_h]
        processed = image.crop((left, top, left + crop_w, top + crop_h)).resize(
            output_size, Image.Resampling.LANCZOS
        )
    else:
        processed = image
    return ProcessedImage(
        original_format="jpg" if original_format == "jpeg" else original_format,
        processed_jpeg=_jpeg(processed),
        reference_preview_jpeg=_preview(image, preview_max_side),
        processed_preview_jpeg=_preview(processed, preview_max_side),
        face=face_info,
    )
