"""Multi-process helpers for `torchrun`: process group from the environment, rank queries, and
sharded work whose results meet on rank 0 (or on every rank).

Everything here is a no-op in a single process (WORLD_SIZE unset or 1), so library code calls these
helpers unconditionally: `torchrun --nproc_per_node=N -m headstart fit ...` and a plain
`headstart fit ...` run the same code path and write the same run folder.
"""

from __future__ import annotations

import atexit
import os
from datetime import timedelta
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Only the main process (rank 0) writes files and prints reports."""
    return rank() == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def device() -> torch.device:
    """This process's device: its own GPU (LOCAL_RANK) when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank() % torch.cuda.device_count())
    return torch.device("cpu")


def init_process_group_from_env(timeout_s: float = 1800) -> bool:
    """Join the process group that `torchrun` describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT):
    NCCL on GPUs, gloo on CPU. Returns True when running distributed.

    A no-op returning False when WORLD_SIZE is unset or 1, and idempotent (a second call keeps the group).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if dist.is_initialized():
        return True
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(device())
    else:
        # N processes on one machine would otherwise each start one thread per core and oversubscribe it.
        cores = os.cpu_count() or 1
        local = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
        torch.set_num_threads(max(1, cores // local))
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    atexit.register(shutdown)
    return True


def shutdown() -> None:
    """Leave the process group cleanly: wait for every rank, then destroy it. A rank that tears
    its connections down while another still talks to it can abort that one (seen once with gloo:
    'terminate called without an active exception')."""
    if dist.is_available() and dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def _comm_device() -> torch.device:
    """Where tensors must be for collectives: the GPU for NCCL, the CPU for gloo."""
    return device() if is_distributed() and dist.get_backend() == "nccl" else torch.device("cpu")


def broadcast_object(value, src: int = 0):
    """`value` from rank `src` on every rank (any picklable object)."""
    if not is_distributed():
        return value
    box = [value if rank() == src else None]
    dist.broadcast_object_list(box, src=src, device=_comm_device())
    return box[0]


def broadcast_tensor(tensor: torch.Tensor | None, src: int = 0) -> torch.Tensor:
    """A tensor that exists on rank `src` (others pass None) -> the same tensor on every rank (on the CPU)."""
    if not is_distributed():
        return tensor
    meta = broadcast_object((tuple(tensor.shape), tensor.dtype) if rank() == src else None, src)
    buffer = (tensor.contiguous() if rank() == src else torch.empty(meta[0], dtype=meta[1])).to(_comm_device())
    dist.broadcast(buffer, src=src)
    return buffer.cpu()


def shard(items: np.ndarray) -> np.ndarray:
    """This rank's share of `items`: every world_size-th item starting at its rank (balanced to one item)."""
    return np.asarray(items)[rank()::world_size()]


def gather_sharded(compute: Callable[[np.ndarray], torch.Tensor], items: np.ndarray,
                   to_all: bool = False) -> torch.Tensor | None:
    """Run `compute(shard)` -> rows [len(shard), ...] on each rank's share of `items` and reassemble
    the rows in the order of `items` ([len(items), ...], on the CPU) on rank 0 — on every rank when
    `to_all` — and None on the others. Single process: `compute(items)`."""
    items = np.asarray(items)
    if not is_distributed():
        return compute(items)
    mine = compute(shard(items)).cpu()
    parts = [None] * world_size() if (to_all or is_main()) else None
    if to_all:
        dist.all_gather_object(parts, mine)
    else:
        dist.gather_object(mine, parts, dst=0)
    if parts is None:
        return None
    out = torch.empty((len(items), *mine.shape[1:]), dtype=mine.dtype)
    for r, part in enumerate(parts):
        out[r::world_size()] = part
    return out
