"""Prepared batches of images for the network: loaded, decoded, resized and normalised in worker
processes while the network runs on the batch before (beside a GPU, or CPU cores the network leaves
idle), or in this process when that cannot pay. Beside a GPU the workers only decode: the GPU
resizes and normalises the small uint8 images, which the CPU cores could not keep up with.

Workers are forked DataLoader workers (one torch thread each), so they inherit the images or the
`load` function as they are: nothing needs to be picklable. A UserError in a worker (a file that
no longer decodes) reaches the caller as the same one-line UserError. When workers cannot start
or die (no fork on this platform, a daemon process, a full /dev/shm), the remaining batches are
prepared in this process after one warning, with the same results.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
import warnings
from typing import Callable, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from headstart.errors import UserError
from headstart.preprocessing import to_uint8_hwc
from headstart.sources.model import SourceModel

# Workers pay when preparing a batch costs more than this share of the network's time on it.
_WORKERS_PAY_FROM = 0.2
WORKERS_ENV = "HEADSTART_DECODE_WORKERS"  # a number: always that many workers (0: none), no rule


def loader_of(images) -> Callable[[Sequence[int]], list]:
    """`images.load` for a Split-like object, else indexing of a sequence of images."""
    return images.load if hasattr(images, "load") else (lambda idx: [images[i] for i in idx])


class _Failed:
    """A UserError raised in a worker, carried back as a value so its message stays one line (and
    its type: an InputError stays a ValueError)."""

    def __init__(self, error: UserError):
        self.kind, self.message = type(error), str(error)


class _Decoded:
    """Decoded uint8 [H, W, C] arrays of one batch: a plain object, so the DataLoader hands them over
    as they are (it turns numpy arrays into tensors, warning about read-only ones)."""

    def __init__(self, arrays: list):
        self.arrays = arrays


class _PreparedBatches(Dataset):
    """Item b: the model input [n, 3, R, R] of images[b * batch_size : (b + 1) * batch_size], or with
    `decode_only` those images decoded but not resized (`_Decoded`: a GPU resizes them)."""

    def __init__(self, source: SourceModel, images, resolution: int, batch_size: int, decode_only: bool = False):
        self.source, self.load, self.resolution = source, loader_of(images), resolution
        self.count, self.batch_size, self.decode_only = len(images), batch_size, decode_only

    def __len__(self) -> int:
        return -(-self.count // self.batch_size)

    def rows(self, b: int) -> range:
        return range(b * self.batch_size, min(self.count, (b + 1) * self.batch_size))

    def __getitem__(self, b: int) -> torch.Tensor | _Decoded | _Failed:
        try:
            images = self.load(self.rows(b))
            if self.decode_only:
                return _Decoded([to_uint8_hwc(image) for image in images])
            return self.source.preprocess(images, self.resolution)
        except UserError as error:
            return _Failed(error)


def default_workers(device: torch.device) -> int:
    """Decoding processes to start at most. Beside a GPU: all cores but one (at most 8), since the
    network hardly uses the CPU. Beside a CPU network: only the cores its threads leave idle (none
    after `process_settings.configure()`): on a 2-core CPU a worker made every measured case slower, photos
    and 1-megapixel JPEGs included, since it takes a core from the network and this process's
    resize already runs on both (docs/results/features.md)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if device.type == "cpu":
        per_process = cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))  # torchrun shares them
        return max(0, per_process - torch.get_num_threads())
    return max(1, min(8, cores - 1))


def decode_workers(device: torch.device) -> tuple[int, bool]:
    """(decoding processes to start at most, whether the first batch must show that they pay):
    ${HEADSTART_DECODE_WORKERS} when set, else `default_workers` under the rule."""
    chosen = os.environ.get(WORKERS_ENV, "").strip()
    if not chosen:
        return default_workers(device), True
    if not chosen.isdigit():
        raise UserError(f"{WORKERS_ENV} must be a number of processes (0: decode in this process), got {chosen!r}")
    return int(chosen), False


def _can_fork() -> bool:
    # fork is Linux's default and safe here; macOS lists it but system libraries may abort after it.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def prepared_batches(source: SourceModel, images, resolution: int, batch_size: int, workers: int,
                     only_if_they_pay: bool = True,
                     device: torch.device | None = None) -> Iterator[tuple[range, torch.Tensor]]:
    """(rows, x [len(rows), 3, R, R]) for consecutive batches of `images` (a sequence of uint8 / PIL
    images, or an object with `__len__` and `load(indices)`), in order. device: where x is resized
    and normalised (None: the CPU, in the workers); elsewhere, workers only decode.

    The first batch is prepared here. The rest are prepared by up to `workers` processes while the
    caller works on earlier ones; with `only_if_they_pay`, only when preparing the first batch took
    more than `_WORKERS_PAY_FROM` of the caller's time on it (the network's): for in-memory images
    that only need resizing, extra processes would just add transfers. Close the iterator (or
    exhaust it) to stop the workers."""
    batches = _PreparedBatches(source, images, resolution, batch_size, decode_only=device is not None)
    if not len(batches):
        return

    def ready(x: torch.Tensor | _Decoded | _Failed) -> torch.Tensor:
        if isinstance(x, _Failed):
            raise x.kind(x.message)
        return source.preprocess(x.arrays, resolution, device) if isinstance(x, _Decoded) else x

    started = time.perf_counter()
    first = ready(batches[0])
    preparing = time.perf_counter() - started
    yielded = time.perf_counter()
    yield batches.rows(0), first
    consuming = time.perf_counter() - yielded
    done = 1
    pays = not only_if_they_pay or preparing > _WORKERS_PAY_FROM * consuming
    if workers > 0 and len(batches) > 1 and pays and _can_fork():
        with contextlib.closing(_from_workers(batches, range(1, len(batches)), workers)) as parallel:
            try:
                for x in parallel:
                    yield batches.rows(done), ready(x)
                    done += 1
            except _WorkersFailed as failure:
                warnings.warn(f"image decoding workers stopped ({failure}); decoding in this process", stacklevel=3)
    for b in range(done, len(batches)):
        yield batches.rows(b), ready(batches[b])


class _WorkersFailed(Exception):
    """The worker processes could not start or died; the message says why."""


def _from_workers(batches: _PreparedBatches, which: range, workers: int) -> Iterator:
    """batches[b] for b in `which`, in order, prepared by forked DataLoader workers."""
    loader = DataLoader(batches, batch_size=None, sampler=which, num_workers=min(workers, len(which)),
                        multiprocessing_context="fork", prefetch_factor=2)
    iterator = None
    try:
        iterator = iter(loader)
        for _ in which:
            try:
                x = next(iterator)
            except Exception as error:  # start-up refusals and dead workers come in many types
                raise _WorkersFailed(str(error).splitlines()[0][:160] or type(error).__name__) from None
            yield x
    finally:
        del iterator  # the DataLoader iterator joins (or terminates) its workers when released
