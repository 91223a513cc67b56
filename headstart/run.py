"""A fitted head on disk: `head.safetensors` (weight [C, D], bias [C]) + `run.json` (source model,
resolution, class names, synsets, method, metrics). Loading checks it matches the source model."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from headstart.errors import UserError
from headstart.sources import load_source
from headstart.sources.model import SourceModel

HEAD_FILE, META_FILE = "head.safetensors", "run.json"


@dataclass
class RunMeta:
    model: str
    resolution: int
    feature_dim: int
    class_names: list[str]
    method: str
    synsets: list[str | None] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)


def save_run(folder: Path, weight: torch.Tensor, bias: torch.Tensor, meta: RunMeta,
             backbone_state: dict | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"weight": weight.contiguous(), "bias": bias.contiguous()}, str(folder / HEAD_FILE))
    if backbone_state is not None:  # full fine-tuning changed the backbone too
        save_file({k: v.contiguous() for k, v in backbone_state.items()}, str(folder / "backbone.safetensors"))
    (folder / META_FILE).write_text(json.dumps(asdict(meta), indent=2))


def load_run(folder: Path) -> tuple[SourceModel, torch.Tensor, torch.Tensor, RunMeta]:
    """-> (source model, possibly with its fine-tuned backbone, W [C, D], b [C], meta)."""
    folder = Path(folder)
    if not (folder / META_FILE).exists() or not (folder / HEAD_FILE).exists():
        raise UserError(f"{folder} is not a headstart run: expected {META_FILE} and {HEAD_FILE} (made by `headstart fit`)")
    meta = RunMeta(**json.loads((folder / META_FILE).read_text()))
    tensors = load_file(str(folder / HEAD_FILE))
    weight, bias = tensors["weight"], tensors["bias"]
    source = load_source(meta.model)
    if weight.shape != (len(meta.class_names), source.feature_dim) or bias.shape != (len(meta.class_names),):
        raise UserError(
            f"the head in {folder} has shape {tuple(weight.shape)} but {meta.model} needs "
            f"({len(meta.class_names)}, {source.feature_dim}): it was made for another model; refit it"
        )
    if (folder / "backbone.safetensors").exists():
        source.backbone.load_state_dict(load_file(str(folder / "backbone.safetensors")))
    return source, weight, bias, meta
