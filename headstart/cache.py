"""Where headstart keeps what it derives once: features, the WordNet copy, text embeddings."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$HEADSTART_CACHE``, else ``~/.cache/headstart``."""
    return Path(os.environ.get("HEADSTART_CACHE") or Path.home() / ".cache" / "headstart")
