"""headstart: new classifier heads that start from the most similar source classes."""

import importlib

from headstart.errors import UserError

__all__ = ["HeadStart", "Predictor", "SourceModel", "UserError", "list_sources", "load_image", "load_source"]
__version__ = "0.2.0"

# Imported on first use (PEP 562): they need torch (Predictor only to export a run once), which
# `headstart --help`, `similar` and a cached `predict` never load.
_LAZY = {"HeadStart": "headstart.estimator", "Predictor": "headstart.predictor",
         "SourceModel": "headstart.sources.model", "list_sources": "headstart.sources",
         "load_source": "headstart.sources", "load_image": "headstart.data.images"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'headstart' has no attribute {name!r}")
