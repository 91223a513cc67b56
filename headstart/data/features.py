"""Frozen-backbone features with an on-disk cache that fills lazily and survives interruption.

The cache for (model, resolution, preprocessing version, dataset content, split) is a float32
memory-mapped array [N, D] plus a boolean `done` mask [N]: only the rows a run needs are computed
(a 5-shot subset of 60k images costs 50 forward passes), and rows computed once are read back.
"""

from __future__ import annotations

import ctypes
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from headstart.cache import atomic_write, cache_root
from headstart.data.dataset import TargetData
from headstart.sources.model import SourceModel


def set_threads() -> None:
    """Use every core for intra-op parallelism (torch's default can be lower in containers), and
    keep freed activation memory in the heap."""
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    keep_freed_memory()


@lru_cache(maxsize=1)
def keep_freed_memory() -> None:
    """glibc serves big blocks with mmap and hands them back to the OS on free, so every batch's
    activations page-fault in anew: Lite0 at 224 px ran at 24 img/s, 68 img/s with both knobs
    below on this 2-core CPU. Process-wide, glibc only, and harmless where it does not apply."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, (1 << 31) - 1)


@torch.inference_mode()
def extract(model: SourceModel, images: Sequence, resolution: int | None = None,
            batch_size: int = 64, progress: bool = False) -> torch.Tensor:
    """Images -> features [N, D] (no cache)."""
    chunks = []
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="features", unit="batch", disable=not progress):
        x = model.preprocess(images[start:start + batch_size], resolution)
        chunks.append(model.features(x).float())
    return torch.cat(chunks) if chunks else torch.empty(0, model.feature_dim)


class FeatureCache:
    """Lazily filled features of one split of one dataset under one model and resolution."""

    def __init__(self, model: SourceModel, data: TargetData, split: str, resolution: int | None = None,
                 root: Path | None = None):
        self.model, self.split = model, data.split(split)
        self.resolution = resolution or model.resolution
        folder = (root or cache_root()) / "features" / model.cache_key(self.resolution)
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"{data.key}-{split}"
        self.values_path, self.done_path = stem.with_suffix(".f32.npy"), stem.with_suffix(".done.npy")
        shape = (len(self.split), model.feature_dim)
        if self.values_path.exists() and self.done_path.exists():
            self.values = np.load(self.values_path, mmap_mode="r+")
            self.done = np.load(self.done_path)
            if self.values.shape == shape and self.done.shape == shape[:1]:
                return
        # A fresh sparse file: untouched rows cost no disk.
        self.values = np.lib.format.open_memmap(self.values_path, mode="w+", dtype=np.float32, shape=shape)
        self.done = np.zeros(shape[0], dtype=bool)
        self.save_done()

    def missing(self, indices: np.ndarray) -> np.ndarray:
        return np.unique(indices[~self.done[indices]])

    def get(self, indices: Sequence[int] | None = None, batch_size: int = 64, progress: bool = True,
            compute: bool = True) -> torch.Tensor:
        """Features [len(indices), D] of the given split indices (all when None), computing the
        missing ones in batches and saving each batch as soon as it is done."""
        indices = np.arange(len(self.split)) if indices is None else np.asarray(indices, dtype=np.int64)
        todo = self.missing(indices)
        if len(todo) and compute:
            self.compute(todo, batch_size, progress)
        return torch.from_numpy(np.array(self.values[indices]))

    def compute(self, todo: np.ndarray, batch_size: int = 64, progress: bool = True) -> None:
        set_threads()
        bar = tqdm(total=len(todo), desc=f"features {self.split.name}", unit="img", disable=not progress)
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            self.store(batch, extract(self.model, self.split.load(batch), self.resolution, batch_size))
            bar.update(len(batch))
        bar.close()

    def store(self, indices: np.ndarray, features: torch.Tensor) -> None:
        self.values[indices] = features.numpy()
        self.values.flush()
        self.done[indices] = True
        self.save_done()  # after the values: a kill in between only costs a recompute

    def save_done(self) -> None:
        atomic_write(self.done_path, lambda f: np.save(f, self.done))
