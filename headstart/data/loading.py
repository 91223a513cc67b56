"""Prepared batches of images for the network: loaded, decoded, resized and normalised in worker
processes while the network runs on the batch before, or in this process when that cannot pay.

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
from headstart.sources.model import SourceModel

# Workers pay when preparing a batch costs more than this share of the network's time on it.
WORKERS_PAY_FROM = 0.2


def loader_of(images) -> Callable[[Sequence[int]], list]:
    """`images.load` for a Split-like object, else indexing of a sequence of images."""
    return images.load if hasattr(images, "load") else (lambda idx: [images[i] for i in idx])


class _Failed:
    """A UserError raised in a worker, carried back as a value so its message stays one line."""

    def __init__(self, message: str):
        self.message = message


class PreparedBatches(Dataset):
    """Item b: the model input [n, 3, R, R] of images[b * batch_size : (b + 1) * batch_size]."""

    def __init__(self, source: SourceModel, images, resolution: int, batch_size: int):
        self.source, self.load, self.resolution = source, loader_of(images), resolution
        self.count, self.batch_size = len(images), batch_size

    def __len__(self) -> int:
        return -(-self.count // self.batch_size)

    def rows(self, b: int) -> range:
        return range(b * self.batch_size, min(self.count, (b + 1) * self.batch_size))

    def __getitem__(self, b: int) -> torch.Tensor | _Failed:
        try:
            return self.source.preprocess(self.load(self.rows(b)), self.resolution)
        except UserError as error:
            return _Failed(str(error))


def default_workers(device: torch.device) -> int:
    """Decoding processes to start at most: on the CPU the network already uses every core, so one
    (per 8 cores); a GPU outruns decoding, so all cores but one (at most 8)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if device.type == "cpu":
        return max(1, cores // 8)
    return max(1, min(8, cores - 1))


def _can_fork() -> bool:
    # fork is Linux's default and safe here; macOS lists it but system libraries may abort after it.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def prepared_batches(source: SourceModel, images, resolution: int, batch_size: int, workers: int,
                     pin_memory: bool = False) -> Iterator[tuple[range, torch.Tensor]]:
    """(rows, x [len(rows), 3, R, R]) for consecutive batches of `images` (a sequence of uint8 / PIL
    images, or an object with `__len__` and `load(indices)`), in order.

    The first batch is prepared here; the caller's time on it (the network's) decides the rest:
    when preparing took more than `WORKERS_PAY_FROM` of it, up to `workers` processes prepare the
    remaining batches while the caller works (overlap, and no contention with the network's threads
    in this process). Otherwise (in-memory images that only need resizing, beside a slow network)
    extra processes would only take cores from the network. Close the iterator (or exhaust it) to
    stop the workers."""
    batches = PreparedBatches(source, images, resolution, batch_size)
    if not len(batches):
        return
    started = time.perf_counter()
    first = _checked(batches[0])
    preparing = time.perf_counter() - started
    yielded = time.perf_counter()
    yield batches.rows(0), first
    consuming = time.perf_counter() - yielded
    done = 1
    if workers > 0 and len(batches) > 1 and preparing > WORKERS_PAY_FROM * consuming and _can_fork():
        with contextlib.closing(_from_workers(batches, range(1, len(batches)), workers, pin_memory)) as parallel:
            try:
                for x in parallel:
                    yield batches.rows(done), _checked(x)
                    done += 1
            except _WorkersFailed as failure:
                warnings.warn(f"image decoding workers stopped ({failure}); decoding in this process", stacklevel=3)
    for b in range(done, len(batches)):
        yield batches.rows(b), _checked(batches[b])


class _WorkersFailed(Exception):
    """The worker processes could not start or died; the message says why."""


def _from_workers(batches: PreparedBatches, which: range, workers: int, pin_memory: bool) -> Iterator:
    """batches[b] for b in `which`, in order, prepared by forked DataLoader workers."""
    loader = DataLoader(batches, batch_size=None, sampler=which, num_workers=min(workers, len(which)),
                        multiprocessing_context="fork", pin_memory=pin_memory, prefetch_factor=2)
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


def _checked(x: torch.Tensor | _Failed) -> torch.Tensor:
    if isinstance(x, _Failed):
        raise UserError(x.message)
    return x
