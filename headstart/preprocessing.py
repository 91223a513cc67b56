"""Images -> the network's input: 8-bit RGB arrays, the antialiased resize to the resolution, and the
per-channel normalisation, with the normalisation constants of the source models.

How to resize (crop, interpolation) is the model's `headstart.pixels.Resize`. The resize exists
twice, on purpose: `resize_batch` (torch's antialiased interpolation, eager) for
every feature headstart computes, and `resize_uint8_images` (the same weights as two matrix products)
for exported models, since ONNX has no antialiased resize for inputs of any size. A test holds the
two to the same values; `headstart.pixels` holds the torch-free copy (numpy), tested equal too."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from headstart.pixels import Resize, to_uint8_hwc

# Normalisations (x - mean) / std per RGB channel, on the 0-255 scale.
IMAGENET_MEAN = (123.675, 116.28, 103.53)  # torchvision's, and Hugging Face processors' default
IMAGENET_STD = (58.395, 57.12, 57.375)
LITE_MEAN = (127.0, 127.0, 127.0)  # EfficientNet-Lite was trained on (x - 127) / 128
LITE_STD = (128.0, 128.0, 128.0)


def resize_batch(images: Sequence, size: int, device: torch.device | None = None,
                 resize: Resize = Resize()) -> torch.Tensor:
    """Images (PIL / uint8 arrays, any size, gray or RGB) -> float tensor [N, 3, size, size] in 0..255,
    computed on `device` (default: the CPU; a GPU receives the small uint8 images, not the result).

    Antialiased interpolation on the uint8 values as float, then the centre crop, as `resize` says
    (default: the whole image stretched to size x size, bilinear, the same for every model that does
    not say otherwise). Images of one size are resized in one call (the same values as one by one,
    at a fraction of the per-call overhead, which dominated small images).
    """
    arrays = [to_uint8_hwc(image) for image in images]
    out = torch.empty(len(arrays), 3, size, size, device=device)
    by_shape: dict[tuple, list[int]] = {}
    for i, array in enumerate(arrays):
        by_shape.setdefault(array.shape, []).append(i)
    for shape, members in by_shape.items():
        # [k, C, H, W] contiguous: the antialiased kernels run faster on it than on a channels-last view
        x = torch.from_numpy(np.stack([arrays[i] for i in members])).to(out.device)
        x = x.permute(0, 3, 1, 2).contiguous().float()
        (height, top), (width, left) = resize.geometry(shape[0], shape[1], size)
        if shape[:2] != (height, width):
            x = nn.functional.interpolate(x, size=(height, width), mode=resize.interpolation, antialias=True,
                                          align_corners=False)
        out[members] = x[:, :, top:top + size, left:left + size]  # a gray channel broadcasts to three
    return out.clamp_(0, 255)


def _resize_matrix(ramp: torch.Tensor, size: int, resized: torch.Tensor, first: torch.Tensor,
                  cubic: bool = False) -> torch.Tensor:
    """The antialiased resize of `resize_batch` along one axis as a matrix [size, n]: row i weighs the
    n input pixels for output pixel first + i of the resize to `resized` pixels, with PIL's and
    torch's filter (triangle, or Keys' cubic with a = -0.5), stretched by the scale when shrinking,
    rows normalised. ramp: [n] = 0.5, 1.5, ..., n - 0.5 (the input
    pixels' centres), resized and first [1] float tensors, so that exported graphs take any size."""
    scale = (ramp[-1:] + 0.5) / resized  # [1]: input pixels per output pixel
    centres = (torch.arange(size, dtype=torch.float32, device=ramp.device) + first + 0.5) * scale
    x = (ramp[None, :] - centres[:, None]).abs() / scale.clamp(min=1.0)
    if cubic:
        a = -0.5  # CUBIC_A, written out: TorchScript takes no module constants
        near = ((a + 2) * x - (a + 3)) * x * x + 1
        far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        weights = torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))
    else:
        weights = (1 - x).clamp(min=0)
    return weights / weights.sum(dim=1, keepdim=True)


def _axis(ramp: torch.Tensor, short: torch.Tensor, size: int, scaled: int, keep_aspect: bool,
          cubic: bool) -> torch.Tensor:
    """`_resize_matrix` of one axis under `Resize.geometry`'s resize and centre crop, computed in the
    graph from the axis' length (ramp) and the image's shorter side (short, float64 [1])."""
    n = ramp[-1:].double() + 0.5
    resized = torch.floor(scaled * n / short) if keep_aspect else torch.full_like(n, float(scaled))
    first = torch.round((resized - size) / 2.0)  # half to even, as Python's round in torchvision's crop
    return _resize_matrix(ramp, size, resized.float(), first.float(), cubic)


def resize_uint8_images(images: torch.Tensor, size: int, crop_pct: float = 1.0, keep_aspect: bool = False,
                        cubic: bool = False) -> torch.Tensor:
    """uint8 RGB images [N, H, W, 3] of any size -> float [N, 3, size, size] in 0..255, the values of
    `resize_batch` (with Resize(crop_pct, keep_aspect, "bicubic" if cubic else "bilinear")) as two
    matrix products, which ONNX and TorchScript export for any H and W."""
    x = images.permute(0, 3, 1, 2).float()
    rows = torch.ones_like(x[:, 0, :, 0].sum(0)).cumsum(0) - 0.5  # [H], computed from the input: H stays dynamic
    columns = torch.ones_like(x[:, 0, 0, :].sum(0)).cumsum(0) - 0.5
    scaled = max(size, int(math.floor(size / crop_pct + 1e-6)))  # Resize.scaled
    short = torch.minimum(rows[-1:], columns[-1:]).double() + 0.5
    height = _axis(rows, short, size, scaled, keep_aspect, cubic)
    width = _axis(columns, short, size, scaled, keep_aspect, cubic)
    return torch.matmul(torch.matmul(height, x), width.T).clamp(0, 255)


def channel_values(values: Sequence[float], device: torch.device | None = None) -> torch.Tensor:
    """Three per-channel values (a mean or a std) -> float32 [1, 3, 1, 1], to broadcast over [N, 3, H, W]."""
    return torch.tensor(list(values), dtype=torch.float32, device=device).view(1, 3, 1, 1)


def normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Resized images x [N, 3, H, W] on the 0-255 scale -> (x - mean) / std, mean and std [1, 3, 1, 1]
    (`channel_values`). In place: x is always a fresh batch, and a copy would double its memory."""
    return x.sub_(mean).div_(std)


def description(resolution: int, mean: Sequence[float], std: Sequence[float], resize: Resize = Resize()) -> dict:
    """The preprocessing in words and numbers, as an exported model describes it (inside the model)."""
    return {"resize": f"{resize.words(resolution)}; done inside the model",
            "normalise": "(x - mean) / std per RGB channel on the 0-255 scale, inside the model",
            "mean": list(mean), "std": list(std), **resize.record()}
