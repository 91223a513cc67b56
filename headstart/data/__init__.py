"""Target datasets by name or path."""

from __future__ import annotations

from pathlib import Path

from headstart.data.dataset import Split, TargetData
from headstart.data.fashion_mnist import load_fashion_mnist
from headstart.data.folder import load_image_folder
from headstart.errors import UserError

_BUILTIN = {"fashion-mnist": load_fashion_mnist}


def load_dataset(name_or_path: str) -> TargetData:
    """`fashion-mnist` or a path to an image folder (one sub-folder per class)."""
    if name_or_path in _BUILTIN:
        return _BUILTIN[name_or_path]()
    if Path(name_or_path).expanduser().exists():
        return load_image_folder(name_or_path)
    raise UserError(
        f"unknown dataset {name_or_path!r}: use one of {', '.join(_BUILTIN)}, a path to an image folder "
        "or a CSV of path,label"
    )


__all__ = ["Split", "TargetData", "load_dataset", "load_image_folder", "load_fashion_mnist"]
