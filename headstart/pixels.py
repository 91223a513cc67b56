"""Images -> the network's input without torch: 8-bit RGB decoding, headstart's antialiased resize
and the per-channel normalisation in numpy, for the torch-free prediction path (`headstart.Predictor`).

The arithmetic is that of `headstart.preprocessing` (torch's antialiased bilinear interpolation on
float 0-255 values, clamped, then (x - mean) / std); a test holds the two equal within 1e-4 on the
0-255 scale. The resize is separable and each output pixel weighs only the few input pixels under
its triangle filter, so it runs as one gather and multiply-add per filter tap and axis: a 12-megapixel
photo costs what its pixels cost, not a dense [R, H] x [H, W] product."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageOps

from headstart.errors import InputError

def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB, upright: 16-bit and float images are scaled (not clipped to
    white), EXIF orientation is applied."""
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if image.mode == "F" and values.max(initial=0.0) <= 1.0:
            values = values * 255.0
        elif image.mode != "F" and (image.mode.startswith("I;16") or values.max(initial=0.0) > 255):
            values = values / 257.0
        image = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    return image.convert("RGB")


def to_uint8_hwc(image) -> np.ndarray:
    """One image (PIL, numpy HxW / HxWxC uint8, or torch CxHxW/HxW uint8) -> numpy [H, W, C] uint8,
    C = 3, or 1 for a gray array (expanded to three channels after resizing, which is 3x cheaper)."""
    if hasattr(image, "convert"):  # PIL
        return np.asarray(to_rgb(image))
    array = image.numpy() if hasattr(image, "numpy") else np.asarray(image)  # a torch tensor
    if array.dtype != np.uint8:
        raise InputError(f"images must be uint8 (0-255) arrays or PIL images, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)  # CHW tensor layout
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise InputError(f"an image must be HxW or HxWx3, got shape {array.shape}")
    return array


def resize_taps(n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The antialiased bilinear resize of n pixels to `size` along one axis as filter taps:
    (index [size, K] int, weights [size, K] float32), output i = sum_k weights[i, k] * input[index[i, k]].

    The triangle filter of PIL and torch, stretched by the scale when shrinking, centred on each
    output pixel's centre in input coordinates, rows normalised to sum to 1. Computed in float32
    step by step as torch's kernel computes it (its float32 scale moves the centres by up to ~1e-5
    pixel, which exact weights would see as differences of ~3e-3 on the 0-255 scale); taps beyond
    a row's window get weight 0."""
    f32 = np.float32
    scale = f32(n) / f32(size)  # input pixels per output pixel
    support = scale if scale >= 1 else f32(1.0)  # the filter's half-width in input pixels
    invscale = f32(1.0 / np.float64(scale)) if scale >= 1 else f32(1.0)
    centres = (np.float64(scale) * (np.arange(size) + 0.5)).astype(f32)
    first = np.maximum((centres - support).astype(np.float64) + 0.5, 0).astype(np.int64)
    count = np.minimum(((centres + support).astype(np.float64) + 0.5).astype(np.int64), n) - first
    taps = int(count.max())
    offsets = np.arange(taps)[None, :]
    index = first[:, None] + offsets
    distance = ((index.astype(f32) - centres[:, None]).astype(np.float64) + 0.5) * np.float64(invscale)
    weights = np.clip(f32(1.0) - np.abs(distance.astype(f32)), 0, None)
    weights[offsets >= count[:, None]] = 0
    total = np.zeros(size, dtype=f32)
    for k in range(taps):  # summed in torch's order, in float32
        total += weights[:, k]
    weights /= total[:, None]
    return np.minimum(index, n - 1), weights


def _resize_rows(x: np.ndarray, size: int) -> np.ndarray:
    """x [H, W, C] -> float32 [size, W, C], resized along its first axis (whole rows gathered: fast)."""
    index, weights = resize_taps(x.shape[0], size)
    out = np.zeros((size,) + x.shape[1:], dtype=np.float32)
    for k in range(index.shape[1]):
        out += weights[:, k, None, None] * x[index[:, k]]
    return out


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """One uint8 image [H, W, C] (C = 3, or 1 for gray) -> float32 [3, size, size] on the 0-255 scale:
    headstart's antialiased bilinear resize (an axis already of that size is left alone), clamped to
    0..255. The width first, as torch does, so that the float32 roundings come in the same order."""
    x = image.transpose(1, 0, 2)  # [W, H, C]
    if x.shape[0] != size:
        x = _resize_rows(np.ascontiguousarray(x), size)
    x = x.transpose(1, 0, 2)  # [H, size, C]
    if x.shape[0] != size:
        x = _resize_rows(np.ascontiguousarray(x), size)
    x = np.asarray(x, dtype=np.float32).transpose(2, 0, 1)
    return np.clip(np.broadcast_to(x, (3, size, size)), 0, 255)


def prepare(images: Sequence[np.ndarray], size: int, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 images [H, W, C] (any sizes) -> the network's input float32 [N, 3, size, size]:
    resized (`resize_image`), then (x - mean) / std per channel on the 0-255 scale."""
    batch = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        batch[i] = resize_image(image, size)
    batch -= np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    batch /= np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return batch
