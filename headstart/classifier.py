"""Backbone + linear head as one module: what a source model runs, fine-tuning trains (one module, so
DistributedDataParallel synchronises both) and an export carries (with the preprocessing inside)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from headstart.pixels import Resize
from headstart.preprocessing import channel_values, normalise, resize_uint8_images


class Classifier(nn.Module):
    """Prepared images x [N, 3, R, R] -> logits [N, C]: the backbone's features [N, D], then the head.

    backbone: any module whose output flattens to [N, D]; head: an nn.Linear(D, C), or None for a
    module of the features alone (its output [N, D])."""

    def __init__(self, backbone: nn.Module, head: nn.Module | None = None):
        super().__init__()
        self.backbone, self.head = backbone, head if head is not None else nn.Identity()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, 3, R, R] -> pre-logit features [N, D]."""
        # the layout of the backbone's weights (SourceModel keeps them channels_last, for speed)
        return self.backbone(x.contiguous(memory_format=torch.channels_last)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ImageClassifier(nn.Module):
    """A `Classifier` for decoded uint8 RGB images [N, H, W, 3] of any size -> probabilities [N, C].
    Resizing to `resolution` (antialiased, cropped as `resize` says, as headstart resizes) and
    normalisation ((x - mean) / std on the 0-255 scale) happen inside; other input is refused."""

    def __init__(self, network: Classifier, resolution: int, mean: Sequence[float], std: Sequence[float],
                 resize: Resize = Resize()):
        super().__init__()
        self.network = network
        self.resolution = resolution
        self.crop_pct, self.keep_aspect = float(resize.crop_pct), resize.keep_aspect
        self.cubic = resize.interpolation == "bicubic"
        self.register_buffer("mean", channel_values(mean))
        self.register_buffer("std", channel_values(std))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise ValueError("expected decoded RGB images as uint8 [N, H, W, 3], got another dtype")
        if images.dim() != 4 or images.size(3) != 3:
            raise ValueError("expected decoded RGB images as uint8 [N, H, W, 3], got shape " + str(list(images.shape)))
        return self.network(normalise(resize_uint8_images(images, self.resolution, self.crop_pct, self.keep_aspect,
                                                                self.cubic), self.mean, self.std))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(images), dim=1)
