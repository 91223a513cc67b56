"""A fitted classifier as a standalone file: ONNX (for onnxruntime and other runtimes) or
TorchScript (for torch without headstart). Both take decoded uint8 RGB images [N, H, W, 3] of any
size, resize and normalise them inside exactly as headstart does, and return probabilities [N, C].
Each file describes itself (`description`: class names, resolution, preprocessing): ONNX
in `metadata_props` under the key "headstart" (a JSON value), TorchScript in the extra file
"headstart.json".

An existing file is replaced only when it is a model of the same kind (an earlier export): never a
file of a run folder, nor anything else the user keeps under that name."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path

import torch

from headstart.cache import atomic_write
from headstart.errors import UserError
from headstart.preprocessing import description as preprocessing
from headstart.run_folder import META_FILE, RUN_FILES, json_labels

ONNX_OPSET = 17
METADATA_KEY = "headstart"
TORCHSCRIPT_EXTRA_FILE = "headstart.json"


def description(estimator) -> dict:
    """What an exported model of a fitted `headstart.HeadStart` says about itself: classes, input,
    preprocessing, output."""
    from headstart import __version__

    source = estimator.source_
    return {"format": "headstart-export", "headstart": __version__, "model": source.spec,
            "model_key": estimator.model_key_, "class_names": list(estimator.class_names_),
            "labels": json_labels(estimator.classes_), "resolution": estimator.resolution_,
            "input": "images: uint8 [N, H, W, 3], decoded RGB, any H and W",
            "output": "probabilities: float32 [N, C], columns in class_names order",
            "preprocessing": preprocessing(estimator.resolution_, source.mean, source.std, source.resize)}


def _example(estimator) -> torch.Tensor:
    """A batch whose height and width differ from each other and from the resolution, so that
    nothing in the traced graph can take a size for a constant."""
    r = estimator.resolution_
    return torch.zeros(2, r + 3, r + 5, 3, dtype=torch.uint8)


def onnx_bytes(module: torch.nn.Module, example: torch.Tensor, input_name: str, output_name: str,
               dynamic_input: dict | None = None) -> bytes:
    """`module` traced to ONNX (opset ONNX_OPSET, the batch dimension and `dynamic_input`'s axes
    dynamic); the exporter's own exceptions pass through."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing are for its developers
        torch.onnx.export(module, (example,), buffer, input_names=[input_name], output_names=[output_name],
                          opset_version=ONNX_OPSET, dynamo=False,
                          dynamic_axes={input_name: {0: "batch", **(dynamic_input or {})}, output_name: {0: "batch"}})
    return buffer.getvalue()


def with_metadata(data: bytes, key: str, value: str) -> bytes:
    """The ONNX model `data` with metadata_props[key] = value."""
    import onnx

    model = onnx.load_from_string(data)
    model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()


def check_target(path: Path, kind: str) -> None:
    """Refuse to write over what headstart did not export: a run's own file, or an existing file
    that is not a `kind` ("ONNX" or "TorchScript") model."""
    if not path.exists():
        return
    if path.name in RUN_FILES and (path.parent / META_FILE).is_file():
        raise UserError(f"{path} is a file of the run in {path.parent}: export to another file name")
    if kind == "TorchScript":  # a zip archive with the traced code
        model = zipfile.is_zipfile(path) and any("/code/" in name for name in _members(path))
    else:  # an ONNX protobuf: field 1 (ir_version) first, then the producer torch writes
        with open(path, "rb") as f:
            start = f.read(64)
        model = start[:1] == b"\x08" and b"pytorch" in start
    if not model:
        raise UserError(f"{path} exists and is not a {kind} model: export to a new file name (nothing was "
                        "overwritten)")


def _members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def export_onnx(estimator, path: str | Path) -> Path:
    """Write the estimator's `to_module()` as ONNX: input "images" uint8 [N, H, W, 3] (N, H, W
    dynamic), output "probabilities" float32 [N, C]; its description in metadata_props."""
    path = Path(path)
    check_target(path, "ONNX")
    try:
        data = onnx_bytes(estimator.to_module(), _example(estimator), "images", "probabilities",
                          {1: "height", 2: "width"})
    except (RuntimeError, torch.onnx.errors.OnnxExporterError) as error:
        raise UserError(f"this model cannot be exported to ONNX ({str(error).splitlines()[0]}); "
                        "try --torchscript") from None
    data = with_metadata(data, METADATA_KEY, json.dumps(description(estimator)))
    atomic_write(path, lambda f: f.write(data))
    return path


def network_onnx(estimator, key: str) -> bytes:
    """The fitted backbone and head as ONNX for `headstart.Predictor`: input "x" float32 [N, 3, R, R]
    (resized and normalised outside, `headstart.pixels.prepare`), output "logits" float32 [N, C]
    (N dynamic); `key` in metadata_props under `headstart.onnx_session.KEY_PROP`. The exporter's own
    exceptions pass through."""
    from headstart.onnx_session import KEY_PROP

    r = estimator.resolution_
    data = onnx_bytes(estimator.to_module().network, torch.zeros(2, 3, r, r), "x", "logits")
    return with_metadata(data, KEY_PROP, key)


def export_torchscript(estimator, path: str | Path) -> Path:
    """Write the estimator's `to_module()` as TorchScript (load with `torch.jit.load`): the network
    traced, the input check and preprocessing scripted (so any image size works and wrong input
    is refused); its description in the extra file "headstart.json"."""
    path = Path(path)
    check_target(path, "TorchScript")
    module = estimator.to_module()
    r = estimator.resolution_
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            module.network = torch.jit.trace(module.network, (torch.zeros(2, 3, r, r),), check_trace=False)
            scripted = torch.jit.script(module)
    except RuntimeError as error:
        raise UserError(f"this model cannot be traced to TorchScript ({str(error).splitlines()[0]}); "
                        "use --onnx or the run's safetensors files") from None
    extra = {TORCHSCRIPT_EXTRA_FILE: json.dumps(description(estimator))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is kept for runtimes without torch.export
        atomic_write(path, lambda f: torch.jit.save(scripted, f, _extra_files=extra))
    return path
