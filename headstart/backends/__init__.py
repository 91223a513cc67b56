"""Which engine runs a source model's frozen backbone, and on which device.

`runner_for(source, resolution, placement)` returns the runner for that (model weights,
resolution, device, backend, precision), built once per process and kept in memory: the ONNX
export, its check against torch and a GPU copy of the weights are paid once, not per batch.
Callers go through `headstart.data.features.extract`; only it asks for runners.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

from headstart.backends.placement import Placement, resolve, resolve_device
from headstart.backends.runner import CheckedRunner, Runner, TorchRunner
from headstart.sources.model import SourceModel

_MAX_RUNNERS = 8  # a fine-tuning run makes a new model per candidate; keep memory bounded
_RUNNERS: OrderedDict[tuple, Runner] = OrderedDict()


def runner_for(source: SourceModel, resolution: int, placement: Placement) -> Runner:
    """The runner of `source` at `resolution` under `placement` (see `resolve`), built on first use."""
    key = (source.cache_key(resolution), str(placement.device), placement.backend, placement.precision)
    if key not in _RUNNERS:
        _RUNNERS[key] = _build(source, resolution, placement)
        while len(_RUNNERS) > _MAX_RUNNERS:
            _RUNNERS.popitem(last=False)
    _RUNNERS.move_to_end(key)
    return _RUNNERS[key]


def _build(source: SourceModel, resolution: int, placement: Placement) -> Runner:
    torch_runner = TorchRunner(source, placement)
    if placement.backend == "torch":
        return torch_runner
    from headstart.backends.onnx_runner import ExportFailed, onnx_runner

    what = f"the ONNX export of {source.name} at {resolution} px"
    try:
        candidate = onnx_runner(source, resolution)
    except ImportError as error:
        warnings.warn(f"onnxruntime is not usable ({error}); running {source.name} with torch", stacklevel=4)
        return torch_runner
    except ExportFailed as why:
        warnings.warn(f"{what} failed ({why}); running it with torch", stacklevel=4)
        return torch_runner
    return CheckedRunner(candidate, torch_runner, what)


__all__ = ["Placement", "Runner", "resolve", "resolve_device", "runner_for"]
