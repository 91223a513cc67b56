"""Which image files a run trained on and which it held out, recorded in run.json by content, so
that `evaluate` never scores an image the run has seen: whatever its name or folder, an image
whose bytes match a training image's is left out.

run.json's ``training.files``: {"train": [{"path", "sha256"}], "held_out": [...]}, paths relative
to the data folder (for a CSV, to the CSV's folder), the SHA-256 of each file's bytes.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from headstart.data.dataset import TargetData
from headstart.data.images import display_name


def sha256_of(path: Path) -> str:
    """SHA-256 of the file's bytes (remembered in this process while its stat is unchanged)."""
    stat = Path(path).stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


@lru_cache(maxsize=None)
def _sha256(path: str, *stat) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def data_root(data: str | Path) -> Path:
    """The folder that recorded paths are relative to: the data folder, or a CSV's folder."""
    data = Path(data).expanduser()
    return data.parent if data.is_file() else data


def file_records(root: Path, paths: Sequence[Path]) -> list[dict]:
    """[{"path": relative to root, "sha256"}] of image files."""
    return [{"path": display_name(os.path.relpath(p, root)), "sha256": sha256_of(p)} for p in paths]


def training_files(data: TargetData, root: Path) -> dict:
    """What run.json records of a dataset's files: {"train": [...], "held_out": [...]}."""
    return {"train": file_records(root, data.train.paths), "held_out": file_records(root, data.test.paths)}


def trained_digests(training: dict) -> set[str] | None:
    """SHA-256 of every image a run trained on, from run.json's ``training``; None for a run fitted
    on a data folder without recording its files (written before runs recorded them); an empty
    set for a run that names no data folder (names alone, or arrays in memory: no file to match)."""
    files = training.get("files")
    if files is not None:
        return {record["sha256"] for record in files.get("train", [])}
    return set() if training.get("data") is None else None


def not_trained_on(paths: Sequence[Path], digests: set[str]) -> list[bool]:
    """For each file: whether its bytes differ from every training image's."""
    if not digests:
        return [True] * len(paths)
    return [sha256_of(p) not in digests for p in paths]
