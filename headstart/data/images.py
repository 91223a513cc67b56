"""Decoding one image file: 8-bit RGB, upright, with one clear error for a file that does not decode.

A very large image (more than LARGE_PIXELS) is decoded at a reduced size, never below _KEEP_SIDE pixels
a side (twice the largest resolution a run may have): a JPEG by its decoder's 1/2..1/8 scaling, any
other format by box-averaging right after decoding. A 137 kB PNG declaring 12000 x 12000 pixels thus
costs the decoded image once, not the 4 GB of float copies its full size took. Images up to
LARGE_PIXELS (every ordinary photo) are decoded exactly as before: the same features, the same cache.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from headstart.errors import InputError
from headstart.pixels import to_rgb

DECODE_VERSION = 2  # EXIF orientation applied, 16-bit images scaled to 8 bits
LARGE_PIXELS = 64 * 1024 * 1024  # above this, decode reduced (8192 x 8192; phone photos have 12 to 50 million)
_KEEP_SIDE = 2048  # a reduced image keeps at least this many pixels a side (MAX_RESOLUTION is 1024)


def display_name(name: str) -> str:
    """A folder name as text that can be printed and saved: bytes that are not UTF-8 become '\ufffd'."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def load_image(path: str | Path) -> np.ndarray:
    """The image file at `path` decoded as headstart decodes it for `fit`, `predict` and `evaluate`:
    uint8 [H, W, 3] RGB, EXIF orientation applied, 16-bit and float images scaled to 8 bits, very
    large images reduced (see the module docstring). This is what an exported model takes as input
    (stacked into [N, H, W, 3]); `Image.open(path).convert("RGB")` differs on rotated photos, 16-bit
    PNGs and float TIFFs. UserError naming the file when it cannot be decoded."""
    return np.asarray(open_image(Path(path)))


def reduced(image: Image.Image, large_pixels: int = LARGE_PIXELS, keep_side: int = _KEEP_SIDE) -> Image.Image:
    """`image` (opened, not yet loaded) as is when it has at most `large_pixels` pixels, else reduced by
    a whole factor per axis that leaves at least `keep_side` pixels a side."""
    width, height = image.size
    if width * height <= large_pixels:
        return image
    image.draft(image.mode, (keep_side, keep_side))  # JPEG: the decoder's scaling, both sides kept >= keep_side
    if image.mode in ("1", "P", "PA") or image.mode.startswith("I;16"):  # modes box-averaging cannot take
        image = to_rgb(image)
    factor = (max(1, image.width // keep_side), max(1, image.height // keep_side))
    return image.reduce(factor) if factor != (1, 1) else image


def open_image(path: Path) -> Image.Image:
    """The decoded RGB image at `path`: an InputError naming the file when it cannot be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return to_rgb(reduced(image))
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
