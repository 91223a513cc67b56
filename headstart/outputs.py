"""Where a command may write the file or folder it was asked to: never over what it reads. An output
that is one of the command's input files (by any path, link or hard link), or that lies inside an input
folder or the run folder it reads, is refused before any work is done, so nothing is lost and a run
keeps only its own files (docs/threat-model.md). Files are then written through a temporary file
renamed into place (`headstart.cache.atomic_write`): a link planted under the name is replaced, never
followed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from headstart.errors import UserError


def check_output(path: str | Path, option: str, inputs: Iterable[str | Path]) -> Path:
    """`path`, when writing it overwrites none of the `inputs` (files, by any name, link or hard link)
    and lands inside none of them (folders: the data, the run folder); UserError naming the input otherwise."""
    path = Path(path).expanduser()
    lands = [Path(os.path.realpath(path.parent)) / path.name]  # a link there is replaced...
    target = _identity(path)
    if target is not None:
        lands.append(Path(os.path.realpath(path)))  # ...but one that points into an input is refused too
    for source in inputs:
        if os.path.isdir(source):
            real = Path(os.path.realpath(source))
            if any(p == real or p.is_relative_to(real) for p in lands):
                raise UserError(f"{option} {path} is inside {source}, which this command reads: write it to "
                                "another folder (nothing was written)")
        elif target is not None and _identity(source) == target:
            raise UserError(f"{option} {path} would overwrite {source}, an input of this command: write to another "
                            "file name (nothing was overwritten)")
    return path


def _identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of the file `path` leads to (the same for each of its names, links and hard
    links); None when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
