"""Source models from a Hugging Face image-classification folder (what `save_pretrained` writes):
`config.json` with `id2label`, the weights, and `preprocessor_config.json` with the image
processor's mean, std, size, centre crop and resampling filter. Read from the folder only; nothing is
downloaded."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from headstart.errors import UserError

PREFIX = "hf:"
# PIL's resampling filter numbers, as processors write `resample`
RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


def load_folder(folder: str | Path):
    """A `SourceModel` from a Hugging Face image-classification folder: labels from
    `config.id2label` (ImageNet's labels get the ImageNet WordNet ids, as do 1000 outputs labelled
    only with transformers' placeholders LABEL_0...; other labels stay text), mean/std (see
    `config_normalisation`), size and resize (`processor_resize`) from the image processor's config;
    without one, one warning naming what is assumed. UserError when id2label
    misses a class, the weights cannot be read (a pickle that is not plain weights is refused, never
    run) or the model does not run at that size."""
    import pickle

    from headstart.sources.model import SourceModel, config_normalisation

    folder = Path(folder).expanduser()
    if not (folder / "config.json").is_file():
        raise UserError(f"hf:{folder} is not a Hugging Face model folder (no config.json): save one with "
                        "model.save_pretrained(folder)")
    try:
        from transformers import AutoModelForImageClassification
    except ImportError:
        raise UserError("hf: models need the transformers package: pip install transformers") from None
    _check_id2label(_read_json(folder / "config.json").get("id2label"), folder)
    try:
        model = AutoModelForImageClassification.from_pretrained(str(folder), local_files_only=True)
    except pickle.UnpicklingError as error:  # torch's weights-only loader refused it: nothing in it ran
        why = str(error).partition("WeightsUnpickler error:")[2].strip().splitlines() or [_first_line(error)]
        raise UserError(f"torch's safe loader refused the pickled weights in {folder} ({why[0]}: not plain tensors, "
                        "or damaged); nothing in them ran: save the model as safetensors") from None
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise UserError(f"cannot load the Hugging Face model in {folder} ({_first_line(error)})") from None
    processor = _read_json(folder / "preprocessor_config.json")
    labels, names = _labels([str(model.config.id2label[i]) for i in range(model.config.num_labels)])
    mean, std = config_normalisation(processor.get("image_mean"), processor.get("image_std"),
                                     f"{folder / 'preprocessor_config.json'}")
    resolution = _size(processor, model.config)
    if not (folder / "preprocessor_config.json").is_file():
        warnings.warn(f"hf:{folder} has no preprocessor_config.json: assuming ImageNet's mean and std, the model's "
                      f"size {resolution} px and no crop (the whole image resized to {resolution} x {resolution}, "
                      "bilinear)", stacklevel=2)
    resize = processor_resize(processor, folder / "preprocessor_config.json")
    _check_runs(model, resolution, folder)
    return SourceModel.from_module(model, labels=labels, names=names, name=folder.name,
                                   resolution=resolution, mean=mean, std=std, resize=resize)


def processor_resize(processor: dict, where: Path):
    """The `Resize` an image processor's config defines: resample (PIL's filter number; bilinear when
    absent); with do_center_crop and a crop_size, the crop's share of `size` (its shortest_edge: the
    aspect ratio kept; its height: stretched, then cropped); with a ConvNeXt-style crop_pct and a
    shortest_edge under 384 (as ConvNeXt's processor), that share. Otherwise (no crop, or do_resize
    false) the whole image stretched to the model's size."""
    from headstart.pixels import Resize
    from headstart.sources.model import known_interpolation

    resample = processor.get("resample")
    name = RESAMPLE.get(resample, resample) if resample is not None else "bilinear"
    interpolation = known_interpolation(name, f"{where}'s resample")
    size, crop = processor.get("size"), processor.get("crop_size")
    size = {"height": size, "width": size} if isinstance(size, int) and not isinstance(size, bool) else size
    crop = {"height": crop, "width": crop} if isinstance(crop, int) and not isinstance(crop, bool) else crop
    if processor.get("do_resize") is False or not isinstance(size, dict):
        return Resize(interpolation=interpolation)
    keep_aspect = "shortest_edge" in size
    side = size.get("shortest_edge") or size.get("height")
    if processor.get("do_center_crop") and isinstance(crop, dict) and crop.get("height") and side:
        share = crop["height"] / side
    elif keep_aspect and processor.get("crop_pct") and side and side < 384:
        share = processor["crop_pct"]
    else:
        return Resize(interpolation=interpolation)
    if not (isinstance(share, (int, float)) and 0.1 <= share <= 1):
        raise UserError(f"{where}: the centre crop is {share!r:.40} of the resized image; it must be 0.1..1")
    return Resize(float(share), keep_aspect, interpolation)


def _check_id2label(id2label, folder: Path) -> None:
    """config.json's id2label names every output 0..C-1 (transformers would otherwise build a head
    of another size, or leave a class unnamed)."""
    if id2label is None:
        return
    keys = sorted(int(k) for k in id2label if str(k).isdigit()) if isinstance(id2label, dict) else []
    if not isinstance(id2label, dict) or len(keys) != len(id2label) or keys != list(range(len(keys))):
        missing = sorted(set(range(len(id2label))) - set(keys)) if isinstance(id2label, dict) else []
        hole = f" (no label for class {missing[0]})" if missing else ""
        raise UserError(f"{folder / 'config.json'}: id2label must map every class index 0..C-1 to its label{hole}")


def _labels(names: list[str]) -> tuple[list[str], list[str]]:
    """(labels, names) of the source classes: ImageNet's WordNet ids and names for ImageNet's classes
    (or 1000 outputs that transformers' placeholders LABEL_i leave unnamed), else the names as text."""
    from headstart.sources.imagenet import are_imagenet_names, imagenet_labels

    if names == [f"LABEL_{i}" for i in range(1000)]:
        return imagenet_labels()
    if are_imagenet_names(names):
        return imagenet_labels()[0], names
    return names, names


def _check_runs(model, resolution: int, folder: Path) -> None:
    """The model takes [1, 3, R, R] at the folder's size: a size it cannot take (a ViT's position
    embeddings are for one size) is named now, not met in the middle of a fit."""
    import torch

    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, resolution, resolution))
    except Exception as error:  # whatever the model raises, it does not take this size
        raise UserError(f"the model in {folder} does not run on {resolution} x {resolution} images, the size its "
                        f"preprocessor_config.json gives ({_first_line(error)}): give the size it was trained at "
                        "there") from None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise UserError(f"{path} must hold a JSON object, not a {type(value).__name__}")
    return value


def _size(processor: dict, config) -> int:
    """The square input size: the processor's size (height, shortest_edge or a number), else the
    model config's image_size, else 224."""
    size = processor.get("crop_size") if processor.get("do_center_crop") else processor.get("size")
    if isinstance(size, dict):
        size = size.get("height") or size.get("shortest_edge")
    size = size or getattr(config, "image_size", None) or 224
    return int(size[0] if isinstance(size, (list, tuple)) else size)
