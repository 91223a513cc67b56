"""Images -> the network's input without torch: 8-bit RGB decoding, headstart's antialiased resize
and the per-channel normalisation in numpy, for the torch-free prediction path (`headstart.Predictor`).

The arithmetic is that of `headstart.preprocessing` (torch's antialiased bilinear interpolation on
float 0-255 values, clamped, then (x - mean) / std); a test holds the two equal within 1e-4 on the
0-255 scale. The resize is separable and each output pixel weighs only the few input pixels under
its triangle filter, so it runs as one gather and multiply-add per filter tap and axis: a 12-megapixel
photo costs what its pixels cost, not a dense [R, H] x [H, W] product."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps

from headstart.errors import InputError, UserError

INTERPOLATIONS = ("bilinear", "bicubic")
CUBIC_A = -0.5  # the bicubic filter's parameter in PIL and in torch's antialiased bicubic


@dataclass(frozen=True)
class Resize:
    """How an image becomes the network's R x R input, as the model's authors defined it.

    crop_pct: the centre crop's share of the resized image: the image is resized so that the crop
    is R (its shorter side to S = floor(R / crop_pct), or to S x S when keep_aspect is false), then
    cut to its centre R x R (timm's `crop_pct`, a Hugging Face processor's crop_size / size).
    keep_aspect: whether the resize keeps the aspect ratio. interpolation: "bilinear" or "bicubic",
    both antialiased (PIL's filters). The default, Resize(), is headstart's own: the whole image
    stretched to R x R, bilinear."""

    crop_pct: float = 1.0
    keep_aspect: bool = False
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise UserError(f"interpolation {self.interpolation!r} is not one headstart resizes with: use "
                            f"{' or '.join(INTERPOLATIONS)}")
        if isinstance(self.crop_pct, bool) or not (isinstance(self.crop_pct, (int, float)) and
                                                    0.1 <= self.crop_pct <= 1):
            raise UserError(f"crop_pct {self.crop_pct!r} must be a number in 0.1..1 (the centre crop's share)")

    @property
    def is_default(self) -> bool:
        return self == Resize()

    def record(self) -> dict:
        """As run.json and an export's description write it."""
        return {"crop_pct": self.crop_pct, "keep_aspect": self.keep_aspect, "interpolation": self.interpolation}

    @classmethod
    def from_record(cls, record: dict | None) -> "Resize":
        """From `record()`'s dict; None (runs made before it was recorded): headstart's default."""
        return cls() if record is None else cls(float(record["crop_pct"]), bool(record["keep_aspect"]),
                                                 str(record["interpolation"]))

    def words(self, resolution: int) -> str:
        """How images are resized, in words (model card, an export's description)."""
        if self.is_default:
            how = f"resized to {resolution} x {resolution} px (aspect ratio not kept)"
        else:
            s = self.scaled(resolution)
            how = (f"resized {'with the shorter side to ' + str(s) if self.keep_aspect else f'to {s} x {s}'} px, then "
                   f"cut to the centre {resolution} x {resolution} (crop_pct {self.crop_pct:g})")
        return f"{how}, {self.interpolation} with antialiasing on float 0-255 values, clamped to 0..255"

    def key(self) -> str:
        """A suffix for feature-cache keys: empty for the default (keys made before it stay valid)."""
        return "" if self.is_default else f"-c{self.crop_pct:g}{'a' if self.keep_aspect else 's'}-{self.interpolation}"

    def scaled(self, size: int) -> int:
        """S: the resized image's (shorter) side, the crop being `size`."""
        return max(size, math.floor(size / self.crop_pct + 1e-6))  # timm's floor; 1e-6 absorbs float error

    def geometry(self, height: int, width: int, size: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """((resized height, crop top), (resized width, crop left)) of an image of that size."""
        s = self.scaled(size)
        if self.keep_aspect:  # torchvision's Resize(int): the shorter side to s, the longer in proportion
            short = min(height, width)
            height, width = (s, int(s * width / short)) if height == short else (int(s * height / short), s)
        else:
            height, width = s, s
        return (height, int(round((height - size) / 2.0))), (width, int(round((width - size) / 2.0)))


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


def _fma(a, b, c) -> np.ndarray:
    """a * b + c rounded once to float32, as a fused multiply-add (a float32 product is exact in float64)."""
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(np.float32)


def _filter(x: np.ndarray, interpolation: str) -> np.ndarray:
    """PIL's (and torch's antialiased) filter at float32 distances x, in float32 as torch's CPU kernel
    computes it: the cubic's multiply-adds fused (its AVX2 build contracts them; unfused, the weights
    differ by a few float32 units)."""
    f32 = np.float32
    x = np.abs(x).astype(f32)
    if interpolation == "bilinear":
        return np.clip(f32(1.0) - x, 0, None)
    a = f32(CUBIC_A)
    near = _fma((_fma(a + f32(2), x, -(a + f32(3))) * x).astype(f32), x, f32(1))
    far = _fma(_fma(_fma(a, x, f32(-5) * a), x, f32(8) * a), x, f32(-4) * a)
    return np.where(x < 1, near, np.where(x < 2, far, f32(0))).astype(f32)


def resize_taps(n: int, size: int, interpolation: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """The antialiased resize of n pixels to `size` along one axis as filter taps:
    (index [size, K] int, weights [size, K] float32), output i = sum_k weights[i, k] * input[index[i, k]].

    The triangle (bilinear) or Keys cubic (a = -0.5, bicubic) filter of PIL and torch, stretched by
    the scale when shrinking, centred on each output pixel's centre in input coordinates, rows
    normalised to sum to 1. Computed in float32
    step by step as torch's kernel computes it (its float32 scale moves the centres by up to ~1e-5
    pixel, which exact weights would see as differences of ~3e-3 on the 0-255 scale); taps beyond
    a row's window get weight 0."""
    f32 = np.float32
    scale = f32(n) / f32(size)  # input pixels per output pixel
    half = f32(1.0 if interpolation == "bilinear" else 2.0)  # the filter's half-width at scale 1
    support = half * scale if scale >= 1 else half  # the filter's half-width in input pixels
    invscale = f32(1.0 / np.float64(scale)) if scale >= 1 else f32(1.0)
    centres = (np.float64(scale) * (np.arange(size) + 0.5)).astype(f32)
    first = np.maximum((centres - support).astype(np.float64) + 0.5, 0).astype(np.int64)
    count = np.minimum(((centres + support).astype(np.float64) + 0.5).astype(np.int64), n) - first
    taps = int(count.max())
    offsets = np.arange(taps)[None, :]
    index = first[:, None] + offsets
    distance = ((index.astype(f32) - centres[:, None]).astype(np.float64) + 0.5) * np.float64(invscale)
    weights = _filter(distance.astype(f32), interpolation)
    weights[offsets >= count[:, None]] = 0
    total = np.zeros(size, dtype=f32)
    for k in range(taps):  # summed in torch's order, in float32
        total += weights[:, k]
    weights /= total[:, None]
    return np.minimum(index, n - 1), weights


def _resize_rows(x: np.ndarray, size: int, resized: int, first: int, interpolation: str) -> np.ndarray:
    """x [H, W, C] -> float32 [size, W, C]: rows first..first+size of x resized along its first axis
    to `resized` rows (whole rows gathered: fast)."""
    index, weights = resize_taps(x.shape[0], resized, interpolation)
    index, weights = index[first:first + size], weights[first:first + size]
    out = np.zeros((size,) + x.shape[1:], dtype=np.float32)
    for k in range(index.shape[1]):
        out += weights[:, k, None, None] * x[index[:, k]]
    return out


def _resize_image(image: np.ndarray, size: int, resize: Resize = Resize()) -> np.ndarray:
    """One uint8 image [H, W, C] (C = 3, or 1 for gray) -> float32 [3, size, size] on the 0-255 scale:
    the antialiased resize and centre crop of `resize` (an axis already of the resized size is left
    alone), clamped to 0..255. The width first, as torch does, so that the float32 roundings come in
    the same order."""
    (height, top), (width, left) = resize.geometry(image.shape[0], image.shape[1], size)
    x = image.transpose(1, 0, 2)  # [W, H, C]
    if x.shape[0] != width:
        x = _resize_rows(np.ascontiguousarray(x), size, width, left, resize.interpolation)
    elif width != size:
        x = x[left:left + size]
    x = x.transpose(1, 0, 2)  # [H, size, C]
    if x.shape[0] != height:
        x = _resize_rows(np.ascontiguousarray(x), size, height, top, resize.interpolation)
    elif height != size:
        x = x[top:top + size]
    x = np.asarray(x, dtype=np.float32).transpose(2, 0, 1)
    return np.clip(np.broadcast_to(x, (3, size, size)), 0, 255)


def prepare(images: Sequence[np.ndarray], size: int, mean: Sequence[float], std: Sequence[float],
            resize: Resize = Resize()) -> np.ndarray:
    """uint8 images [H, W, C] (any sizes) -> the network's input float32 [N, 3, size, size]:
    resized and cropped (`_resize_image`), then (x - mean) / std per channel on the 0-255 scale."""
    batch = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        batch[i] = _resize_image(image, size, resize)
    batch -= np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    batch /= np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return batch
