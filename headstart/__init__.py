"""headstart: new classifier heads that start from the most similar source classes."""

from headstart.errors import UserError
from headstart.sources import SourceModel, list_sources, load_source

__all__ = ["HeadStart", "SourceModel", "UserError", "list_sources", "load_source"]
__version__ = "0.2.0"


def __getattr__(name: str):
    if name == "HeadStart":  # imported on first use: `headstart --help` and `similar` stay light
        from headstart.estimator import HeadStart

        return HeadStart
    raise AttributeError(f"module 'headstart' has no attribute {name!r}")
