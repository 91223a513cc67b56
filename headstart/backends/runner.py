"""Runners: a source model's frozen backbone bound to one device, backend and precision. Every
runner maps a prepared batch (the output of `SourceModel.preprocess`) to float32 features on the
CPU, so what callers receive and cache never depends on where it was computed."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import time
import warnings

import torch

from headstart.backends.placement import Placement
from headstart.sources.model import SourceModel

CHECK_IMAGES = 2


class Runner:
    """A prepared batch x [N, 3, R, R] (float, on the CPU) -> features [N, D] float32 on the CPU.

    `seconds` adds up the time spent in the network, so a caller can tell how much of its wall
    time went elsewhere (loading, decoding, resizing)."""

    name = "runner"

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        features = self.forward(x)
        self.seconds += time.perf_counter() - start
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class TorchRunner(Runner):
    """The backbone in torch eager mode on `placement.device`, under autocast when the placement
    asks for bf16 / fp16. On the CPU it runs the caller's own backbone; on a GPU a copy (moving the
    caller's module would change it under them)."""

    def __init__(self, source: SourceModel, placement: Placement):
        super().__init__()
        self.device, self.dtype = placement.device, placement.autocast_dtype
        self.name = f"torch-{self.device.type}" + (f"-{placement.precision}" if self.dtype else "")
        if self.device.type != "cpu":
            source = dataclasses.replace(source, backbone=copy.deepcopy(source.backbone).to(self.device))
        self.source = source

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dtype is not None:
            numerics = torch.autocast(self.device.type, self.dtype)
        else:
            numerics = ieee_fp32() if self.device.type == "cuda" else contextlib.nullcontext()
        with numerics:
            features = self.source.features(x.to(self.device, non_blocking=True))
        return features.float().cpu()


@contextlib.contextmanager
def ieee_fp32():
    """cuDNN convolutions and CUDA matmuls in IEEE float32 for the duration, not TF32 (torch's
    default for convolutions on Ampere and later GPUs, ~1e-3 relative error): GPU features then
    match CPU ones to float32 rounding, so cached features mean the same whichever computed them."""
    settings = (torch.backends.cudnn.conv, torch.backends.cuda.matmul)
    previous = [setting.fp32_precision for setting in settings]
    for setting in settings:
        setting.fp32_precision = "ieee"
    try:
        yield
    finally:
        for setting, value in zip(settings, previous):
            setting.fp32_precision = value


def agree(candidate: torch.Tensor, reference: torch.Tensor, tolerance: float = 1e-4) -> tuple[bool, float]:
    """Whether two feature batches [N, D] match: max |difference| <= tolerance x max(1, max |reference|).

    Relative to the features' scale because float32 sums taken in another order (another engine's
    kernels) differ in proportion to the values summed; for features within +-1 this is an
    absolute 1e-4. -> (match, max |difference|)."""
    difference = (candidate - reference).abs().max().item() if reference.numel() else 0.0
    scale = max(1.0, reference.abs().max().item() if reference.numel() else 0.0)
    return difference <= tolerance * scale, difference


class CheckedRunner(Runner):
    """A faster runner trusted only once it reproduces the torch runner: on the first batch it sees,
    both run the first `CHECK_IMAGES` images; when they disagree (see `agree`) it warns once and
    hands every batch to the torch runner from then on."""

    def __init__(self, candidate: Runner, reference: TorchRunner, what: str):
        super().__init__()
        self.candidate, self.reference, self.what = candidate, reference, what
        self.name = candidate.name
        self.checked = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.checked:
            return self.candidate.forward(x)
        expected = self.reference.forward(x[:CHECK_IMAGES])
        self.checked = True
        try:
            features = self.candidate.forward(x)
        except Exception as error:  # an engine that cannot run this input is as unusable as a wrong one
            why = f"fails on a check batch ({str(error).splitlines()[0][:160]})"
        else:
            ok, difference = agree(features[:CHECK_IMAGES], expected)
            if ok:
                return features
            why = f"differs from torch by {difference:.2g} on a check batch"
        warnings.warn(f"{self.what} {why}; using torch instead (--backend torch skips the check)", stacklevel=2)
        self.candidate, self.name = self.reference, self.reference.name
        return self.reference.forward(x)
