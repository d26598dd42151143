"""Uploaded images decoded in a sandbox worker: size from the header, a budget of decoded pixels per message,
and a WebP thumbnail without the original's metadata.

Runs in the child (jobs.py): a decoder crash or a decompression bomb ends that process, not the server.
"""
from __future__ import annotations

import base64
import io
import struct
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError


def _too_many_pixels(limit: int) -> str:
    return f"the image has too many pixels; the limit is {limit / 1_000_000:g} million."


def _over_message_budget(limit: int) -> str:
    return (f"together with the other images of this message it has too many pixels to process "
            f"(at most {limit / 1_000_000:g} million per message); send it in another message.")


def inspect_message_images(payload: dict) -> dict:
    """payload: {"images": [{"data": bytes, "format": "PNG", "label": "PNG image"}], "max_image_pixels",
    "max_message_pixels", "thumbnail_size"} -> {"images": [{"width", "height", "thumbnail" (base64)} or
    {"refused": reason}]}, in order. Images past the message's pixel budget are refused without decoding."""
    Image.MAX_IMAGE_PIXELS = payload["max_image_pixels"]  # this process opens nothing else
    budget = payload["max_message_pixels"]
    results: list[dict[str, int | str]] = []
    for image in payload["images"]:
        try:
            width, height, thumbnail, decoded = _inspect(image, payload, budget)
        except _Refused as refused:
            results.append({"refused": refused.reason})
            continue
        budget -= decoded
        results.append({"width": width, "height": height, "thumbnail": base64.b64encode(thumbnail).decode()})
    return {"images": results}


class _Refused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _inspect(upload: dict, payload: dict, budget: int) -> tuple[int, int, bytes, int]:
    limit = payload["max_image_pixels"]
    box = (payload["thumbnail_size"], payload["thumbnail_size"])
    try:
        with warnings.catch_warnings():
            # Between the limit and twice the limit Pillow only warns; we refuse there too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload["data"]), formats=[upload["format"]]) as image:
                width, height = image.size  # from the header: nothing decoded yet
                if width < 1 or height < 1 or width * height > limit:
                    raise _Refused(_too_many_pixels(limit))
                orientation = image.getexif().get(0x0112, 1)
                if orientation in (5, 6, 7, 8):
                    width, height = height, width
                if upload["format"] == "JPEG":
                    image.draft("RGB", (box[0] * 2, box[1] * 2))  # decode at a reduced scale: faster
                # What will really be decoded (a JPEG at its reduced scale), against what the message has left.
                decoded = image.size[0] * image.size[1]
                if decoded > budget:
                    raise _Refused(_over_message_budget(payload["max_message_pixels"]))
                oriented = ImageOps.exif_transpose(image)
                oriented.thumbnail(box, Image.Resampling.LANCZOS)
                has_alpha = oriented.mode in ("RGBA", "LA", "PA") or "transparency" in oriented.info
                oriented = oriented.convert("RGBA" if has_alpha else "RGB")
                # A fresh image carries no EXIF, XMP, ICC or text chunks of the original.
                clean = Image.frombytes(oriented.mode, oriented.size, oriented.tobytes())
                out = io.BytesIO()
                clean.save(out, format="WEBP", quality=82, method=4)
                return width, height, out.getvalue(), decoded
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _Refused(_too_many_pixels(limit)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise _Refused(f"the {upload['label']} is damaged and cannot be shown.") from exc
