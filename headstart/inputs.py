"""The checks of what a caller hands the estimator, each a pure function that returns the checked
value or raises one `headstart.errors.InputError` line naming the fix: class names, the image
size, labels (-> classes and indices), images or precomputed features, and the per-image loss
weights."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from headstart.data.dataset import stratified_split
from headstart.data.folder import ImageFiles
from headstart.defaults import MAX_RESOLUTION, MIN_RESOLUTION
from headstart.errors import InputError, UserError
from headstart.params import ParameterError


def check_resolution(resolution: int) -> int:
    if not isinstance(resolution, int) or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise InputError(f"resolution must be an integer from {MIN_RESOLUTION} to {MAX_RESOLUTION} pixels, "
                        f"got {resolution!r}")
    return resolution


def name_list(class_names) -> list[str]:
    """The class names as a list of text; an error for one string or None."""
    if class_names is None or isinstance(class_names, str):
        raise InputError("class_names must be a list of at least two names, e.g. ['cat', 'dog']")
    return [str(n) for n in class_names]


def check_class_names(class_names) -> list[str]:
    """At least two names, none empty, no two the same (case and spacing aside)."""
    names = name_list(class_names)
    if len(names) < 2:
        raise InputError(f"a classifier needs at least two classes, got {len(names)}: {names}")
    if any(not n.strip() for n in names):
        raise InputError("class names must not be empty")
    seen, duplicates = set(), []
    for n in names:
        key = " ".join(n.lower().split())
        if key in seen:
            duplicates.append(n)
        seen.add(key)
    if duplicates:
        raise InputError(f"duplicate class names: {', '.join(map(repr, duplicates))}; every class needs its own name")
    return names


def sample_weights(labels: torch.Tensor, sample_weight, class_weight, classes: np.ndarray,
                   names: Sequence[str]) -> torch.Tensor | None:
    """Per-image loss weights [N]: sample_weight times the class weight of each image's class
    ("balanced": N / (C * images of the class), over the C classes that have images; a dict by
    class label or name, 1 for the classes it leaves out) -> None when neither is given."""
    n = len(labels)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight.cpu() if isinstance(sample_weight, torch.Tensor) else sample_weight)
        if weights.shape != (n,) or weights.dtype.kind not in "biuf":
            raise ParameterError(f"sample_weight must be {n} numbers (one per image), got shape {weights.shape}")
        if not (np.all(np.isfinite(weights)) and np.all(weights >= 0) and weights.sum() > 0):
            raise ParameterError("sample_weight must be finite numbers >= 0, not all zero")
        weights = torch.as_tensor(weights, dtype=torch.float32)
    if class_weight is None:
        return weights
    counts = torch.bincount(labels, minlength=len(classes)).float()
    if class_weight == "balanced":
        per_class = torch.where(counts > 0, n / (int((counts > 0).sum()) * counts.clamp(min=1)), torch.ones(()))
    else:
        per_class = torch.ones(len(classes))
        by_key = {**{str(c): i for i, c in enumerate(classes.tolist())}, **{nm: i for i, nm in enumerate(names)}}
        for key, value in class_weight.items():
            if str(key) not in by_key:
                raise ParameterError(f"class_weight names {key!r}, which is not a class; the classes: "
                                     f"{', '.join(names)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ParameterError(f"class_weight of {key!r} must be a number >= 0, got {value!r}")
            per_class[by_key[str(key)]] = float(value)
    class_part = per_class[labels]
    return class_part if weights is None else weights * class_part


def early_stopping_split(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(trained-on indices, validation indices) of labels [N]: a seeded share `fraction` of each
    class's images (at least one of a class with two or more, never its last) held out."""
    kept, held = stratified_split(labels.numpy(), fraction, seed) if len(labels) else ([], [])
    if len(held) == 0:
        raise UserError("early stopping needs a validation image: give some class at least two training images, "
                        "or turn early stopping off")
    return torch.as_tensor(kept), torch.as_tensor(held)


def label_array(labels, n: int) -> np.ndarray:
    """Labels as a 1-D array of N values of one kind; UserError otherwise."""
    if labels is None:
        raise InputError("labels are missing: give one label per image")
    if not isinstance(labels, (np.ndarray, torch.Tensor)) and len({isinstance(v, str) for v in labels}) > 1:
        raise InputError("labels must all be of one kind (all strings or all integers)")  # numpy would make all text
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if y.ndim != 1 or len(y) != n:
        raise InputError(f"labels must be a list of {n} values (one per image), got shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise InputError("labels must be class labels (strings or integers), got fractional or infinite numbers")
    if y.dtype.kind not in "biufUSO":
        raise InputError(f"labels must be strings or integers, got {y.dtype}")
    return y


def label_classes(labels, n: int, class_names) -> tuple[np.ndarray, list[str]]:
    """(classes_, class names) for N labels: the sorted distinct labels, named `class_names` (in
    that order) or str(label), checked where the fit is decided (`headstart.fit_context.decide`).
    Integer labels 0..C-1 index C class names, so a class may have no image.
    Names that are the text labels themselves in another order name their own label: the order of
    a list of the labels is no statement that "car" is to be called "dog" (integer labels keep
    indexing the names, as datasets with classes "0".."10" in folder order need)."""
    y = label_array(labels, n)
    try:
        classes = np.unique(y)
    except TypeError:
        raise InputError("labels must all be of one kind (all strings or all integers)") from None
    if class_names is None:
        return classes, [str(c) for c in classes]
    names = name_list(class_names)
    if len(names) != len(classes):
        if y.dtype.kind in "iu" and classes.min() >= 0 and classes.max() < len(names):
            classes = np.arange(len(names))
        else:
            check_class_names(names)  # a bad list of names says so before the count
            raise InputError(f"{len(names)} class names for {len(classes)} distinct labels: give one name per "
                             "distinct label, in sorted label order (or integer labels 0..C-1 indexing the names)")
    as_text = [str(c) for c in classes.tolist()]
    return classes, (as_text if y.dtype.kind in "USO" and sorted(names) == sorted(as_text) else names)


def encode_labels(labels, classes: np.ndarray, n: int | None = None) -> torch.Tensor:
    """Labels -> indices [N] into `classes`; a label not among them is an error."""
    y = label_array(labels, len(labels) if n is None else n)
    try:
        index = np.searchsorted(classes, y) if _sorted(classes) else None
    except TypeError:
        index = None
    if index is None:  # names-only classes keep the given order
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        index = np.array([lookup.get(v, len(classes)) for v in y.tolist()], dtype=np.int64)
    index = np.minimum(index, len(classes) - 1)
    unknown = [v for v, i in zip(y.tolist(), index.tolist()) if classes[i] != v]
    if unknown:
        raise InputError(f"label {unknown[0]!r} is not a class of this classifier; its classes: "
                        f"{', '.join(map(str, classes.tolist()))}")
    return torch.as_tensor(index, dtype=torch.long)


def _sorted(classes: np.ndarray) -> bool:
    return bool(np.all(classes[:-1] < classes[1:]))


def is_feature_array(images) -> bool:
    return (isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 2
            and (images.dtype.is_floating_point if isinstance(images, torch.Tensor)
                 else np.issubdtype(images.dtype, np.floating)))


def check_features(features, dim: int) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features).float()
    if x.ndim != 2 or x.shape[1] != dim:
        raise InputError(f"features must be an array [N, {dim}] for this model, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise InputError("features hold NaN or infinite values")
    return x


def as_images(images):
    """Image file paths (a list, tuple or array of str / os.PathLike) as `ImageFiles`, loaded on
    demand; any other images unchanged."""
    if isinstance(images, (str, os.PathLike)):
        raise InputError(f"pass a list of image paths, not one path: [{str(images)!r}]")
    if isinstance(images, np.ndarray) and images.dtype.kind not in "OUS":
        return images
    if not isinstance(images, (list, tuple, np.ndarray)) or not len(images) \
            or not all(isinstance(i, (str, os.PathLike)) for i in images):
        return images
    paths = [Path(p).expanduser() for p in images]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"image {missing[0]} does not exist ({len(missing)} of {len(paths)} paths missing)")
    return ImageFiles(paths)


def image_count(images) -> int:
    """How many images (or feature rows) `images` holds, checked to be a batch."""
    if not is_feature_array(images):
        check_image_batch(images)
    return len(images)


def check_image_batch(images) -> None:
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim < 3:
        raise InputError(f"pass a batch of images (a list, or an array [N, H, W] / [N, H, W, 3]), got an array "
                        f"of shape {tuple(images.shape)}")
    if not hasattr(images, "__len__"):
        raise InputError("images must be a list (or array) of images")
