"""Process-wide settings, applied once by an entry point (the CLI, a benchmark script), never by
library functions: a library must not change threads or the allocator of the program using it."""

from __future__ import annotations

import ctypes
import os
from functools import lru_cache

import torch


@lru_cache(maxsize=1)
def configure() -> None:
    """Use every core for intra-op parallelism (torch's default can be lower in containers), and
    keep freed activation memory in the heap.

    glibc serves big blocks with mmap and hands them back to the OS on free, so every batch's
    activations page-fault in anew: Lite0 at 224 px ran at 24 img/s, 68 img/s with both malloc
    knobs below on this 2-core CPU. glibc only, and harmless where it does not apply."""
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, (1 << 31) - 1)
