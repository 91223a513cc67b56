"""Optional features and the pip extra that brings each (pyproject's optional-dependencies): a
missing one is one UserError line naming the extra to install, when the feature is used."""

from __future__ import annotations

import importlib
from types import ModuleType

from headstart.errors import UserError


def require(module: str, feature: str, extra: str) -> ModuleType:
    """`module`, imported; a UserError naming `extra` when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{feature} needs the {extra!r} extra: pip install 'headstart[{extra}]'") from None
