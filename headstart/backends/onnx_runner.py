"""The frozen backbone on ONNX Runtime's CPU engine: exported once per (weights, resolution,
preprocessing) into the cache, and trusted only after a check against torch (`CheckedRunner`).

On a 2-core CPU it computes the same Lite0 features as torch eager (max |difference| ~1e-5) at
about three times the speed (docs/results/features.md). A file in the cache is used only when ONNX
Runtime loads it and its metadata names this exact model key; a torn, foreign or stale file is
exported again.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from headstart.backends.runner import Runner
from headstart.cache import cache_file_name, cache_root, keep
from headstart.classifier import Classifier
from headstart.export import ONNX_OPSET, onnx_bytes
from headstart.onnx_session import KEY_PROP, ExportFailed, session
from headstart.sources.model import SourceModel

FORMAT = "headstart-backbone-onnx-1"  # bump when what is exported changes


class OnnxRunner(Runner):
    """Prepared batch [N, 3, R, R] float32 -> features [N, D] float32, through an ONNX Runtime session."""

    name = "onnx-cpu"

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.input = session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input: array})[0])


def model_key(source: SourceModel, resolution: int) -> str:
    """What an exported file must have been made from: the model's feature-cache key (weights
    digest, resolution, preprocessing) and the export format."""
    return f"{source.cache_key(resolution)}|{FORMAT}|opset{ONNX_OPSET}"


def model_path(source: SourceModel, resolution: int) -> Path:
    return cache_root() / "onnx" / cache_file_name(model_key(source, resolution), ".onnx")


def export(source: SourceModel, resolution: int) -> bytes:
    """The backbone as an ONNX model (input [N, 3, R, R] float32, N dynamic; output [N, D]) whose
    metadata holds `model_key`. ExportFailed when torch cannot export it."""
    import onnx

    example = torch.zeros(2, 3, resolution, resolution)
    try:
        model = onnx.load_from_string(onnx_bytes(Classifier(source.backbone).eval(), example, "x", "features"))
    except Exception as error:  # exporters raise many types; each means "this model does not export"
        raise ExportFailed((str(error).splitlines() or [type(error).__name__])[0][:160]) from None
    onnx.helper.set_model_props(model, {KEY_PROP: model_key(source, resolution)})
    return model.SerializeToString()


def onnx_runner(source: SourceModel, resolution: int) -> OnnxRunner:
    """The cached export of `source` at `resolution` (exported now if missing or untrusted) as a
    runner. ExportFailed when the model cannot be exported (the caller falls back to torch)."""
    key, path = model_key(source, resolution), model_path(source, resolution)
    threads = torch.get_num_threads()
    if path.is_file():
        try:
            return OnnxRunner(session(path.read_bytes(), key, threads))
        except (OSError, ExportFailed) as why:
            warnings.warn(f"cached ONNX model {path} is unusable ({why}); exporting it again", stacklevel=3)
    data = export(source, resolution)
    runner = OnnxRunner(session(data, key, threads))
    keep(path, lambda f: f.write(data))  # after it loaded: never cache what cannot be used
    return runner
