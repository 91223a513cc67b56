"""headstart: new classifier heads that start from the most similar source classes."""

from headstart.errors import UserError
from headstart.sources import SourceModel, list_sources, load_source

__all__ = ["SourceModel", "UserError", "list_sources", "load_source"]
__version__ = "0.1.0"
