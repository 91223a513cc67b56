"""Images -> the network's input: 8-bit RGB arrays, the antialiased resize to the resolution, and the
per-channel normalisation, with the normalisation constants of the source models.

The resize exists twice, on purpose: `resize_batch` (torch's antialiased interpolation, eager) for
every feature headstart computes, and `resize_uint8_images` (the same weights as two matrix products)
for exported models, since ONNX has no antialiased resize for inputs of any size. A test holds the
two to the same values."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn

from headstart.errors import UserError

# Normalisations (x - mean) / std per RGB channel, on the 0-255 scale.
IMAGENET_MEAN = (123.675, 116.28, 103.53)  # torchvision's, and Hugging Face processors' default
IMAGENET_STD = (58.395, 57.12, 57.375)
LITE_MEAN = (127.0, 127.0, 127.0)  # EfficientNet-Lite was trained on (x - 127) / 128
LITE_STD = (128.0, 128.0, 128.0)


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
    array = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.dtype != np.uint8:
        raise UserError(f"images must be uint8 (0-255) arrays or PIL images, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)  # CHW tensor layout
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise UserError(f"an image must be HxW or HxWx3, got shape {array.shape}")
    return array


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
