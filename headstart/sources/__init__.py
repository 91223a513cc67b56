"""Registry of pretrained source classifiers."""

from __future__ import annotations

from functools import partial
from typing import Callable

from headstart.errors import UserError
from headstart.sources import efficientnet_lite
from headstart.sources.model import SourceModel

_REGISTRY: dict[str, Callable[[], SourceModel]] = {}


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


for _name in efficientnet_lite.WEIGHT_PACKAGES:
    register_source(_name, partial(efficientnet_lite.load, _name))

__all__ = ["SourceModel", "list_sources", "load_source", "register_source"]
