"""Images -> the network's input: 8-bit RGB arrays, the antialiased resize to the resolution, and the
per-channel normalisation, with the normalisation constants of the source models.

The resize exists twice, on purpose: `resize_batch` (torch's antialiased interpolation, eager) for
every feature headstart computes, and `resize_uint8_images` (the same weights as two matrix products)
for exported models, since ONNX has no antialiased resize for inputs of any size. A test holds the
two to the same values; `headstart.pixels` holds the torch-free copy (numpy), tested equal too."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from headstart.pixels import to_uint8_hwc

# Normalisations (x - mean) / std per RGB channel, on the 0-255 scale.
IMAGENET_MEAN = (123.675, 116.28, 103.53)  # torchvision's, and Hugging Face processors' default
IMAGENET_STD = (58.395, 57.12, 57.375)
LITE_MEAN = (127.0, 127.0, 127.0)  # EfficientNet-Lite was trained on (x - 127) / 128
LITE_STD = (128.0, 128.0, 128.0)


def resize_batch(images: Sequence, size: int, device: torch.device | None = None) -> torch.Tensor:
    """Images (PIL / uint8 arrays, any size, gray or RGB) -> float tensor [N, 3, size, size] in 0..255,
    computed on `device` (default: the CPU; a GPU receives the small uint8 images, not the result).

    Bilinear with antialias on the uint8 values, the same for every model so cached features stay
    comparable. Images of one size are resized in one call (the same values as one by one, at a
    fraction of the per-call overhead, which dominated small images).
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
        if shape[:2] != (size, size):
            x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[members] = x  # a gray channel broadcasts to three
    return out.clamp_(0, 255)


def resize_matrix(ramp: torch.Tensor, size: int) -> torch.Tensor:
    """The antialiased bilinear resize of `resize_batch` along one axis as a matrix [size, n]:
    row i weighs the n input pixels (PIL's and torch's triangle filter, stretched by the scale when
    shrinking, rows normalised). ramp: [n] = 0.5, 1.5, ..., n - 0.5 (the input pixels' centres),
    a tensor so that exported graphs take any input size."""
    scale = (ramp[-1:] + 0.5) / size  # [1]: input pixels per output pixel
    centres = (torch.arange(size, dtype=torch.float32, device=ramp.device) + 0.5) * scale
    weights = (1 - (ramp[None, :] - centres[:, None]).abs() / scale.clamp(min=1.0)).clamp(min=0)
    return weights / weights.sum(dim=1, keepdim=True)


def resize_uint8_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 RGB images [N, H, W, 3] of any size -> float [N, 3, size, size] in 0..255, the values of
    `resize_batch` as two matrix products, which ONNX and TorchScript export for any H and W."""
    x = images.permute(0, 3, 1, 2).float()
    rows = torch.ones_like(x[:, 0, :, 0].sum(0)).cumsum(0) - 0.5  # [H], computed from the input: H stays dynamic
    columns = torch.ones_like(x[:, 0, 0, :].sum(0)).cumsum(0) - 0.5
    return torch.matmul(torch.matmul(resize_matrix(rows, size), x), resize_matrix(columns, size).T).clamp(0, 255)


def channel_values(values: Sequence[float], device: torch.device | None = None) -> torch.Tensor:
    """Three per-channel values (a mean or a std) -> float32 [1, 3, 1, 1], to broadcast over [N, 3, H, W]."""
    return torch.tensor(list(values), dtype=torch.float32, device=device).view(1, 3, 1, 1)


def normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Resized images x [N, 3, H, W] on the 0-255 scale -> (x - mean) / std, mean and std [1, 3, 1, 1]
    (`channel_values`). In place: x is always a fresh batch, and a copy would double its memory."""
    return x.sub_(mean).div_(std)


def description(resolution: int, mean: Sequence[float], std: Sequence[float]) -> dict:
    """The preprocessing in words and numbers, as an exported model describes it (inside the model)."""
    return {"resize": f"to {resolution} x {resolution} (aspect ratio not kept), bilinear with antialiasing on float "
                      "0-255 values, clamped to 0..255; done inside the model",
            "normalise": "(x - mean) / std per RGB channel on the 0-255 scale, inside the model",
            "mean": list(mean), "std": list(std)}
