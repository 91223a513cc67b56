"""Frozen-backbone features: the one extraction path, and an on-disk cache that fills lazily,
survives interruption and never reads a damaged or foreign file as data.

`extract` runs the backbone where the caller's placement says (device "auto": the GPU when there is
one; backend "auto": ONNX Runtime on the CPU once it has matched torch on a check batch, see
`headstart.backends`), with images decoded in worker processes while the network runs. Features
come back as float32 on the CPU whatever ran them, so the cache does not depend on the device or
the backend (mixed precision, which changes values beyond float32 rounding, has keys of its own).

The cache for (model weights, resolution, preprocessing version, dataset content, split) is one
file: a header naming that full key and the shape, a checksum per row, then the float32 values
[N, D]. Only the rows a run needs are computed (a 5-shot subset of 60k images
costs 50 forward passes), rows computed once are read back, and every open checks the header and
the file size, so a truncated file, a file of another key or garbage is recomputed (with one
warning) rather than read.

A row counts as stored only when its checksum (CRC-32 of the file's key, the row's index and its
bytes, kept as CRC + 2**32 so that 0 means "not stored") matches its values when it is read: rows
swapped together with their checksums, or a row copied in from another file, fail it; a crash that
reached the disk with the checksums but not the values (zeroed or stale pages) costs a recompute,
never a silent wrong row, whatever order the kernel flushed the pages in, and without an fsync per
batch. The file is read and written with `os.pread`/`os.pwrite`, not memory-mapped: it is sparse,
and a full disk under a mapped page (written, or on tmpfs even read) kills the process with SIGBUS,
where `pwrite` raises ENOSPC (then the cache is bypassed with one warning).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import warnings
import zlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from headstart import distributed
from headstart.backends import Placement, resolve, runner_for
from headstart.cache import atomic_write, cache_file_name, cache_root, warn_not_kept
from headstart.data.dataset import TargetData
from headstart.data.loading import decode_workers, prepared_batches
from headstart.errors import UserError
from headstart.sources.model import SourceModel

MAGIC = b"HEADSTART-FEATURES 3\n"  # 3: checksums cover the key and the row's index
HEADER_BYTES = 4096  # magic + JSON {"key", "rows", "dim"}, space-padded; values start page-aligned
STORED = 1 << 32  # added to a row's CRC-32 in its checksum slot: 0 stays "not stored"


def extract(model: SourceModel, images: Sequence, resolution: int | None = None,
            batch_size: int = 64, progress: bool = False, *, device: str | torch.device | None = None,
            backend: str | None = None, precision: str | None = None,
            placement: Placement | None = None) -> torch.Tensor:
    """Images (uint8 arrays / PIL, or a `Split`-like object with `__len__` and `load(indices)`)
    -> features [N, D] float32 on the CPU, without any cache.

    device: "auto" (default: this process's GPU when CUDA is available, else the CPU), "cpu",
    "cuda" or "cuda:N". backend: "auto" (default), "torch" or "onnx". precision: "fp32" (default),
    "bf16" or "fp16" autocast (torch backend). placement: those three already resolved
    (`headstart.backends.resolve`), by a caller that decided once where its work runs."""
    return collect(model, images, resolution, batch_size, placement or resolve(device, backend, precision), progress)


def collect(model: SourceModel, images: Sequence, resolution: int | None, batch_size: int, placement: Placement,
            progress: bool, desc: str = "features", on_batch=None) -> torch.Tensor:
    """`extract_batches` gathered into [N, D] under a progress bar; `on_batch(rows, features)` sees
    each batch as it is done (the cache stores it)."""
    parts = []
    with tqdm(total=len(images), desc=desc, unit="img", disable=not progress) as bar:
        for rows, features in extract_batches(model, images, resolution, batch_size, placement):
            if on_batch is not None:
                on_batch(rows, features)
            parts.append(features)
            bar.update(len(rows))
    return torch.cat(parts) if parts else torch.empty(0, model.feature_dim)


@torch.no_grad()  # not inference_mode: the features feed head training (autograd) later
def extract_batches(model: SourceModel, images: Sequence, resolution: int | None, batch_size: int,
                    placement: Placement) -> Iterator[tuple[range, torch.Tensor]]:
    """(rows, features [len(rows), D] float32 on the CPU) for consecutive batches of `images`, as
    soon as each is computed (the cache stores them one by one)."""
    resolution = resolution or model.resolution
    runner = runner_for(model, resolution, placement)
    workers, only_if_they_pay = decode_workers(placement.device)
    gpu = placement.device if placement.device.type == "cuda" else None  # resizes there, see loading
    with contextlib.closing(prepared_batches(model, images, resolution, batch_size, workers,
                                             only_if_they_pay=only_if_they_pay, device=gpu)) as batches:
        for rows, x in batches:
            try:
                features = runner(x)
            except torch.OutOfMemoryError:
                raise  # not the input's size: the generic message below would send the user the wrong way
            except (RuntimeError, ValueError) as error:  # an input smaller than its kernels, a ViT's fixed size
                dtypes = {p.dtype for p in model.backbone.parameters()} - {torch.float32}
                if dtypes:  # the input is float32: a float64 or bf16 network fails for its dtype, not the size
                    raise UserError(f"{model.name} has {', '.join(map(str, sorted(dtypes, key=str)))} weights; "
                                    "headstart runs float32 models: convert it with model.float()") from None
                advice = "a larger" if x.shape[-1] < model.resolution else f"its own ({model.resolution}) or another"
                raise UserError(f"{model.name} cannot run on {x.shape[-1]}-pixel inputs "
                                f"({str(error).splitlines()[0][:120]}): use {advice} --resolution") from None
            yield rows, features


class DamagedCache(Exception):
    """A cache file that cannot be trusted; the message says why."""


class OtherVersionCache(DamagedCache):
    """A cache file another version of headstart wrote: sound, but not in this version's format."""


class FeatureCache:
    """Lazily filled features of one split of one dataset under one model and resolution.

    The file is created on the first write, by rank 0 only under torchrun (the other ranks compute
    their share on their own device and receive the rows). A cache folder that cannot be written
    is read where it has rows and otherwise bypassed, with one warning. device, backend and
    precision, or placement: as for `extract`; only a mixed precision changes the key.
    """

    def __init__(self, model: SourceModel, data: TargetData, split: str, resolution: int | None = None,
                 root: Path | None = None, *, device: str | torch.device | None = None,
                 backend: str | None = None, precision: str | None = None, placement: Placement | None = None):
        self.model, self.split = model, data.split(split)
        self.resolution = resolution or model.resolution
        self.placement = placement or resolve(device, backend, precision)
        amp = "" if self.placement.precision == "fp32" else f"|amp-{self.placement.precision}"
        self.key = f"{model.cache_key(self.resolution)}{amp}|{data.key}|{split}"
        self.path = (root or cache_root()) / "features" / cache_file_name(self.key, ".features")
        self.shape = (len(self.split), model.feature_dim)
        self._checks: np.ndarray | None = None  # [N] uint64 checksum slots once the file is open
        self.writable = True
        self._open_existing()

    # -- reading --------------------------------------------------------------------------------

    def _open_existing(self) -> None:
        if distributed.is_distributed() and not distributed.is_main():
            return  # only rank 0 reads and writes the file
        if not self.path.exists():
            return
        try:
            self._check_header()
            self._load_checks()
            self.writable = os.access(self.path, os.W_OK)
        except (OSError, DamagedCache) as why:
            self._checks = None
            if isinstance(why, PermissionError):
                self.writable = False
                return
            what = "was written by another version of headstart" if isinstance(why, OtherVersionCache) else \
                f"is damaged ({why})"
            warnings.warn(f"feature cache file {self.path} {what}; recomputing it", stacklevel=3)
            self._discard()

    def _check_header(self) -> None:
        """Validate magic, key, shape and exact size."""
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            head = f.read(HEADER_BYTES)
        if head.startswith(MAGIC.split(b" ")[0] + b" ") and not head.startswith(MAGIC):
            raise OtherVersionCache()
        if not head.startswith(MAGIC) or len(head) < HEADER_BYTES:
            raise DamagedCache("not a headstart feature file of this version")
        try:
            meta = json.loads(head[len(MAGIC):].decode("utf-8", "strict").rstrip(" \n\0"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise DamagedCache("unreadable header") from None
        if not isinstance(meta, dict) or meta.get("key") != self.key:
            raise DamagedCache("it belongs to another model, dataset or split")
        if [meta.get("rows"), meta.get("dim")] != list(self.shape):
            raise DamagedCache(f"shape {meta.get('rows')}x{meta.get('dim')} instead of {self.shape[0]}x{self.shape[1]}")
        expected = self._values_offset() + 4 * self.shape[0] * self.shape[1]
        if size != expected:
            raise DamagedCache(f"{size} bytes instead of {expected}: truncated or padded")

    def _values_offset(self) -> int:
        check_bytes = -(-8 * self.shape[0] // 64) * 64  # keep the float32 values aligned
        return HEADER_BYTES + check_bytes

    def _load_checks(self) -> None:
        self._checks = np.fromfile(self.path, dtype=np.uint64, count=self.shape[0], offset=HEADER_BYTES)

    def _rows(self, indices: np.ndarray) -> np.ndarray:
        """Stored values [len(indices), D] float32 of the given rows, read from the file (NaN rows
        where another process truncated it meanwhile: they fail the checks and are recomputed)."""
        row_bytes = 4 * self.shape[1]
        out = np.full((len(indices), self.shape[1]), np.nan, np.float32)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for k, i in enumerate(indices):
                data = os.pread(fd, row_bytes, self._values_offset() + int(i) * row_bytes)
                if len(data) == row_bytes:
                    out[k] = np.frombuffer(data, np.float32)
        finally:
            os.close(fd)
        return out

    @property
    def done(self) -> np.ndarray:
        """[N] bool: which rows are stored (their values are verified when read)."""
        return np.zeros(self.shape[0], bool) if self._checks is None else self._checks != 0

    def missing(self, indices: np.ndarray) -> np.ndarray:
        return np.unique(indices[~self.done[indices]])

    def get(self, indices: Sequence[int] | None = None, batch_size: int = 64, progress: bool = True) -> torch.Tensor:
        """Features [len(indices), D] of the given split indices (all when None), computing the
        missing ones in batches — split across the ranks under torchrun — and storing each batch as
        soon as it is done. Every rank receives the same tensor."""
        indices = np.arange(len(self.split)) if indices is None else np.asarray(indices, dtype=np.int64)
        if not distributed.is_distributed():
            return self._get_local(indices, batch_size, progress)
        todo = distributed.broadcast_object(self._todo(indices) if distributed.is_main() else None)
        fresh = None
        if len(todo):
            fresh = distributed.gather_sharded(
                lambda part: self._compute(part, batch_size, progress and distributed.is_main(), store=False), todo)
        rows = None
        if distributed.is_main():
            if fresh is not None:
                self.store(todo, fresh)
            rows = self._assemble(indices, todo, fresh)
        return distributed.broadcast_tensor(rows)

    def _get_local(self, indices: np.ndarray, batch_size: int, progress: bool) -> torch.Tensor:
        todo = self._todo(indices)
        fresh = self._compute(todo, batch_size, progress, store=True) if len(todo) else None
        return self._assemble(indices, todo, fresh)

    def _compute(self, todo: np.ndarray, batch_size: int, progress: bool, store: bool) -> torch.Tensor:
        """Features [len(todo), D] of the split rows `todo`; with `store`, each batch is written to
        the file as soon as it is done (under torchrun rank 0 stores what the ranks gathered)."""
        store_batch = (lambda rows, features: self.store(todo[rows.start:rows.stop], features)) if store else None
        return collect(self.model, self.split.subset(todo), self.resolution, batch_size, self.placement, progress,
                       f"features {self.split.name}", store_batch)

    def _todo(self, indices: np.ndarray) -> np.ndarray:
        """Rows to compute: not stored, or stored but not finite or not matching their checksum
        (then with a warning)."""
        todo = self.missing(indices)
        stored = np.setdiff1d(np.unique(indices), todo)
        if len(stored):
            values = self._rows(stored)
            finite = np.isfinite(values).all(axis=1)
            intact = np.array([self._checks[i] == row_check(row, self.key, i) for i, row in zip(stored, values)],
                              dtype=bool)
            for bad, why in ((stored[~finite], "are not finite"),
                             (stored[finite & ~intact], "do not match their checksums (a crash or an edit)")):
                if len(bad):
                    warnings.warn(f"feature cache file {self.path} has {len(bad)} rows that {why}; "
                                  "recomputing them", stacklevel=3)
            todo = np.union1d(todo, stored[~(finite & intact)])
        return todo

    def _assemble(self, indices: np.ndarray, todo: np.ndarray, fresh: torch.Tensor | None) -> torch.Tensor:
        out = torch.empty(len(indices), self.shape[1])
        is_fresh = np.isin(indices, todo)
        if fresh is not None and is_fresh.any():
            out[torch.from_numpy(is_fresh)] = fresh[torch.from_numpy(np.searchsorted(todo, indices[is_fresh]))]
        if (~is_fresh).any():
            out[torch.from_numpy(~is_fresh)] = torch.from_numpy(self._rows(indices[~is_fresh]))
        return out

    # -- writing --------------------------------------------------------------------------------

    def store(self, indices: np.ndarray, features: torch.Tensor) -> None:
        """Write rows, then their checksums (see the module docstring for why no fsync is needed)."""
        if not self.writable or (self._checks is None and not self._create()):
            return
        rows = np.ascontiguousarray(features.numpy(), dtype=np.float32)
        row_bytes = 4 * self.shape[1]
        try:
            fd = os.open(self.path, os.O_WRONLY)
            try:
                for i, row in zip(indices, rows):
                    _pwrite_all(fd, row.tobytes(), self._values_offset() + int(i) * row_bytes)
                checks = np.array([row_check(row, self.key, i) for i, row in zip(indices, rows)], dtype=np.uint64)
                for i, check in zip(indices, checks):
                    _pwrite_all(fd, check.tobytes(), HEADER_BYTES + 8 * int(i))
            finally:
                os.close(fd)
            self._checks[indices] = checks
        except OSError as error:  # a full disk: keep going without the cache
            self._stop_writing(error)

    def _create(self) -> bool:
        """A fresh file (sparse: untouched rows cost no disk), renamed into place whole, so a
        concurrent process never maps a file that is being truncated."""
        meta = json.dumps({"key": self.key, "rows": self.shape[0], "dim": self.shape[1]}, ensure_ascii=True)
        header = MAGIC + meta.encode()
        if len(header) >= HEADER_BYTES:
            raise ValueError("feature cache key too long for the header")
        total = self._values_offset() + 4 * self.shape[0] * self.shape[1]

        def write(f) -> None:
            f.write(header.ljust(HEADER_BYTES, b" "))
            f.truncate(total)

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, write)
            self._checks = np.zeros(self.shape[0], np.uint64)
        except OSError as error:
            self._stop_writing(error)
            return False
        return True

    def _stop_writing(self, error: OSError) -> None:
        self.writable = False
        warn_not_kept(self.path.parent, error)

    def _discard(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass


def row_check(row: np.ndarray, key: str, index: int) -> int:
    """The checksum slot of row `index` [D] float32 of the cache file of `key`: the CRC-32 of the
    key, the index and the row's bytes, plus STORED (never 0)."""
    where = zlib.crc32(f"{key}\n{int(index)}\n".encode("utf-8", "surrogateescape"))
    return zlib.crc32(np.ascontiguousarray(row, dtype=np.float32).tobytes(), where) + STORED


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """`os.pwrite` of all of `data`; a short write (the disk filled up) is ENOSPC."""
    if os.pwrite(fd, data, offset) != len(data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
