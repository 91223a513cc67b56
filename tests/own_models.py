"""Small stand-ins for the models users bring (importable as `own_models:<function>` specs):
plain torch classifiers built like timm / torchvision / Hugging Face ones, with their own weights."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

import headstart


class ConvNet(nn.Module):
    """A torchvision-style classifier: features, pooling, then `fc`."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(16, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).flatten(1))


def convnet(n_classes: int = 5, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return ConvNet(n_classes).eval()


@dataclass
class ImageClassifierOutput:
    """What a Hugging Face image classifier returns."""

    logits: torch.Tensor


class HFStyle(nn.Module):
    """A Hugging Face-style model: takes pixel_values, returns an output object with `.logits`."""

    def __init__(self, n_classes: int = 1000, seed: int = 1):
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Sequential(nn.Conv2d(3, 12, 4, stride=4), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(12, n_classes)

    def forward(self, pixel_values: torch.Tensor) -> ImageClassifierOutput:
        return ImageClassifierOutput(logits=self.classifier(self.embed(pixel_values)))


def tiny_imagenet_source() -> headstart.SourceModel:
    """A `package.module:function` spec target: a 1000-way model (ImageNet labels by default)."""
    return headstart.SourceModel.from_module(HFStyle(), name="hf-style", resolution=32)


def tiny_module() -> nn.Module:
    """A spec target returning a bare nn.Module (wrapped by headstart)."""
    return convnet(5)
