"""Source models from a Hugging Face image-classification folder (what `save_pretrained` writes):
`config.json` with `id2label`, the weights, and `preprocessor_config.json` with the image
processor's mean, std and size. Read from the folder only; nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

from headstart.errors import UserError

PREFIX = "hf:"


def load_folder(folder: str | Path):
    """A `SourceModel` from a Hugging Face image-classification folder: labels from
    `config.id2label` (a 1000-way head keeps the ImageNet WordNet ids, with those names), mean/std
    (0-1 in the file, 0-255 here) and size from the image processor's config."""
    from headstart.preprocessing import IMAGENET_MEAN, IMAGENET_STD
    from headstart.sources.model import SourceModel, _default_labels

    folder = Path(folder).expanduser()
    if not (folder / "config.json").is_file():
        raise UserError(f"hf:{folder} is not a Hugging Face model folder (no config.json): save one with "
                        "model.save_pretrained(folder)")
    try:
        from transformers import AutoModelForImageClassification
    except ImportError:
        raise UserError("hf: models need the transformers package: pip install transformers") from None
    try:
        model = AutoModelForImageClassification.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"cannot load the Hugging Face model in {folder} ({str(error).splitlines()[0]})") from None
    processor = _read_json(folder / "preprocessor_config.json")
    id2label = {int(k): v for k, v in (model.config.id2label or {}).items()}
    names = [str(id2label.get(i, i)) for i in range(model.config.num_labels)]
    labels = _default_labels(len(names))[0] if len(names) == 1000 else names
    mean = tuple(255 * v for v in processor["image_mean"]) if "image_mean" in processor else IMAGENET_MEAN
    std = tuple(255 * v for v in processor["image_std"]) if "image_std" in processor else IMAGENET_STD
    return SourceModel.from_module(model, labels=labels, names=names, name=folder.name,
                                   resolution=_size(processor, model.config), mean=mean, std=std)


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} is not valid JSON ({error})") from None


def _size(processor: dict, config) -> int:
    """The square input size: the processor's size (height, shortest_edge or a number), else the
    model config's image_size, else 224."""
    size = processor.get("crop_size") if processor.get("do_center_crop") else processor.get("size")
    if isinstance(size, dict):
        size = size.get("height") or size.get("shortest_edge")
    size = size or getattr(config, "image_size", None) or 224
    return int(size[0] if isinstance(size, (list, tuple)) else size)
