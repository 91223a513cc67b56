"""Decoding one image file: 8-bit RGB, upright, with one clear error for a file that does not decode."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image

from headstart.errors import InputError
from headstart.pixels import to_rgb

DECODE_VERSION = 2  # EXIF orientation applied, 16-bit images scaled to 8 bits


def display_name(name: str) -> str:
    """A folder name as text that can be printed and saved: bytes that are not UTF-8 become '\ufffd'."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def open_image(path: Path) -> Image.Image:
    """The decoded RGB image at `path`: an InputError naming the file when it cannot be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return to_rgb(image)
    except Image.DecompressionBombError:
        raise InputError(f"image {path} has more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels: resize it first") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise InputError(f"cannot read image {path} ({error}): pass image files (jpg, png, ...)") from None


def decodes(path: Path) -> bool:
    """Whether the file decodes as an image (JPEGs at 1/8 scale: the whole entropy-coded stream is
    read, so truncation shows, at a fraction of the cost)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft("RGB", (64, 64))
                image.load()
        return True
    except Exception:  # PIL raises many types for broken files; all mean "skip it"
        return False
