"""Where headstart keeps what it derives once: features, the WordNet index, text embeddings.

A cache is only ever a speed-up: when it cannot be written (read-only, full disk) headstart says so
once and goes on without keeping what it computed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Callable

from headstart.errors import UserError


def cache_root() -> Path:
    """``$HEADSTART_CACHE``, else ``~/.cache/headstart``; an error when it names a file."""
    root = Path(os.environ.get("HEADSTART_CACHE") or Path.home() / ".cache" / "headstart")
    if root.exists() and not root.is_dir():
        raise UserError(f"the cache location {root} is a file, not a folder: set HEADSTART_CACHE to a folder "
                        "(or unset it to use ~/.cache/headstart)")
    return root


def cache_file_name(key: str, suffix: str) -> str:
    """A short, portable file name for any key: a readable prefix plus a hash of the whole key
    (names with dots, 240 characters or bytes that are not UTF-8 all map to distinct files)."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", key)[:48].strip("_")
    digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return f"{readable}-{digest}{suffix}"


def umask() -> int:
    """This process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Create or replace `path` with what `write(file)` writes, through a temporary file in the same
    folder renamed into place: a reader in another process, or a run killed mid-write, never sees a
    half-written file. The file gets the permissions a plain `open` would give it (the umask's), not
    the temporary file's 0600."""
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def keep(path: Path, write: Callable[[BinaryIO], object]) -> bool:
    """`atomic_write` for a cache file: False (with one warning per folder) when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)
        return True
    except OSError as error:
        warn_not_kept(path.parent, error)
        return False


@lru_cache(maxsize=None)
def _warned(folder: str, reason: str) -> bool:
    warnings.warn(f"cannot write to the cache folder {folder} ({reason}): results are computed but not "
                  "kept; make it writable or set HEADSTART_CACHE to another folder", stacklevel=4)
    return True


def warn_not_kept(folder: Path, error: OSError) -> None:
    _warned(str(folder), error.strerror or type(error).__name__)
