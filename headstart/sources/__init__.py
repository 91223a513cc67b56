"""Registry of pretrained source classifiers."""

from __future__ import annotations

from functools import partial
from typing import Callable

from headstart.errors import UserError
from headstart.sources import efficientnet_lite
from headstart.sources.imagenet import imagenet_labels
from headstart.sources.model import SourceModel

_REGISTRY: dict[str, Callable[[], SourceModel]] = {}
# Labels and names of sources that can give them without loading weights (names-only work).
_LABELS: dict[str, Callable[[], tuple[list[str], list[str]]]] = {}


def register_source(name: str, loader: Callable[[], SourceModel]) -> None:
    if name in _REGISTRY:
        raise ValueError(f"source model {name!r} is already registered")
    _REGISTRY[name] = loader


def list_sources() -> list[str]:
    return sorted(_REGISTRY)


def load_source(name: str) -> SourceModel:
    """A registered pretrained source model by name (see `list_sources()`)."""
    if name not in _REGISTRY:
        raise UserError(f"unknown source model {name!r}; choose one of: {', '.join(list_sources())}")
    return _REGISTRY[name]()


def source_labels(name: str) -> tuple[list[str], list[str]]:
    """(labels, names) of a registered source, without loading its weights where it can."""
    if name in _LABELS:
        return _LABELS[name]()
    source = load_source(name)
    return source.labels, source.names


for _name in efficientnet_lite.WEIGHT_PACKAGES:
    register_source(_name, partial(efficientnet_lite.load, _name))
    _LABELS[_name] = imagenet_labels

__all__ = ["SourceModel", "list_sources", "load_source", "register_source", "source_labels"]
