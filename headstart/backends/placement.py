"""Where and how the frozen backbone runs: a device, a backend and a precision, resolved once from
what a user asked for ("auto", "cpu", "cuda", ...) into something definite, with one clear error for
a choice that cannot work here."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from headstart import distributed
from headstart.errors import UserError

DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("auto", "torch", "onnx")
PRECISIONS = ("fp32", "bf16", "fp16")
_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Placement:
    """device: where the backbone runs. backend: "torch" or "onnx" (ONNX Runtime, trusted only once it
    reproduces torch on a check batch; torch otherwise). precision: "fp32", or "bf16"/"fp16"
    autocast (torch only; features are always returned as float32)."""

    device: torch.device
    backend: str
    precision: str

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return _AUTOCAST_DTYPES.get(self.precision)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """"auto" (or None): this process's GPU when CUDA is available (its own one under torchrun),
    else the CPU. "cuda": the same GPU, an error without one. "cuda:N": that GPU. "cpu": the CPU."""
    if isinstance(device, torch.device):
        device = str(device)
    text = "auto" if device is None else str(device).strip().lower()
    kind, _, index = text.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise UserError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N")
    if kind == "cpu" or (kind == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        build = "a CPU-only build of torch" if torch.version.cuda is None else "no visible CUDA GPU"
        raise UserError(f"device {text!r} asked for, but this machine has {build}: use --device cpu or auto")
    if not index:
        return distributed.device()
    if int(index) >= torch.cuda.device_count():
        raise UserError(f"device {text!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    return torch.device("cuda", int(index))


def resolve(device: str | torch.device | None = None, backend: str | None = None,
            precision: str | None = None) -> Placement:
    """A `Placement` from user choices (None = auto / auto / fp32), or a UserError naming the fix."""
    where = resolve_device(device)
    backend = (backend or "auto").strip().lower()
    precision = (precision or "fp32").strip().lower()
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    if backend == "onnx" and where.type != "cpu":
        raise UserError(f"the onnx backend runs on the CPU, not on {where}: use --backend torch (or auto) "
                        "with a GPU, or --device cpu")
    if backend == "onnx" and precision != "fp32":
        raise UserError(f"{precision} autocast needs the torch backend: use --backend torch (or auto)")
    if backend == "auto":  # ONNX Runtime here is a CPU fp32 engine, used only once it matches torch
        backend = "onnx" if where.type == "cpu" and precision == "fp32" else "torch"
    return Placement(where, backend, precision)
