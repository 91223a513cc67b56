"""`HeadStart`: the estimator behind `fit`, `init` and `predict` — a new classifier for your classes
whose head starts from the most similar source classes, in the scikit-learn manner.

    clf = HeadStart("efficientnet-lite0").fit(images, labels, ["cat", "dog", "car"])
    clf.predict(more_images)            # class indices [N]
    clf.predict_proba(more_images)      # probabilities [N, C]
    clf.save("run"); HeadStart.load("run")
    module = clf.to_module()            # uint8 [N, R, R, 3] -> probabilities, without headstart

Images are uint8 arrays (H x W or H x W x 3), PIL images, a uint8 array [N, H, W(, 3)], or an
object with `__len__` and `load(indices)`; a float array [N, D] is taken as precomputed features.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from headstart.backends import resolve as resolve_placement
from headstart.data.features import extract
from headstart.data.loading import loader_of
from headstart.errors import UserError
from headstart.methods import create_method, fit_head
from headstart.run import Run, RunMeta, load_run, save_run
from headstart.similarity import Evidence, names_resolutions, resolutions
from headstart.sources import load_source
from headstart.sources.model import SourceModel
from headstart.train import Head, linear_head, top1


class HeadStart:
    """A classifier for new classes built on a pretrained source model.

    source: a `SourceModel` or a built-in name / "package.module:function" spec. method: a
    registered method (`headstart.methods.METHODS`); **options override its defaults.
    resolution: input size (default: the source's). epochs: head-training epochs. overrides:
    class name -> WordNet synset id. full_finetune: also train the backbone (LP-FT, kept only if
    it beats the head alone on held-out training images). random_state: seeds training.
    device ("auto", "cpu", "cuda", "cuda:N"), backend ("auto", "torch", "onnx") and precision
    ("fp32", "bf16", "fp16"): where and how image features are computed (see
    `headstart.data.features.extract`); the fitted head does not depend on them.
    """

    def __init__(self, source: SourceModel | str = "efficientnet-lite0", method: str = "headstart", *,
                 resolution: int | None = None, epochs: int = 100, overrides: dict[str, str] | None = None,
                 full_finetune: bool = False, finetune_config=None, batch_size: int = 64,
                 progress: bool = False, random_state: int = 0, device: str | None = None,
                 backend: str | None = None, precision: str | None = None, **options):
        self.source, self.method, self.options = source, method, options
        self.resolution, self.epochs, self.overrides = resolution, epochs, dict(overrides or {})
        self.full_finetune, self.finetune_config = full_finetune, finetune_config
        self.batch_size, self.progress, self.random_state = batch_size, progress, random_state
        self.device, self.backend, self.precision = device, backend, precision

    # -- fitting --------------------------------------------------------------------------------

    def source_model(self) -> SourceModel:
        """The source model, loaded once from its name or spec."""
        if getattr(self, "_source_model", None) is None:
            self._source_model = as_source(self.source)
        return self._source_model

    def check(self, class_names: Sequence[str], shots: int) -> None:
        """Everything that can be checked before a feature is extracted: the class names, that the
        method can run with `shots` labelled images per class, and the names' resolution (a bad
        override id is an error)."""
        names = check_class_names(class_names)
        method = create_method(self.method, **self.options)
        if method.needs_shots and shots < 1:
            raise UserError(f"method {method.name!r} needs labelled images and some class has none")
        check_resolution(self.resolution or self.source_model().resolution)
        names_resolutions(self.source_model(), names, self.overrides, method.recipe)

    def fit(self, images=None, labels=None, class_names: Sequence[str] | None = None, *,
            features: torch.Tensor | None = None, unlabelled=None, validation=None) -> "HeadStart":
        """Fit the head for `class_names` from labelled images (or only the names when `images` and
        `labels` are None).

        images: N images, or a float array [N, D] of precomputed features; labels: N integers in
        0..C-1. features: precomputed features [N, D] of `images` (saves extracting them).
        unlabelled: target images without labels (the default recentres its biases on them).
        validation: (images or features, labels) evaluated before and after training:
        `history_` holds [(epoch, accuracy)].
        """
        resolve_placement(self.device, self.backend, self.precision)  # a bad choice fails before any work
        source = self.source_ = self.source_model()
        self.model_key_ = source.weights_key
        self.resolution_ = check_resolution(self.resolution or source.resolution)
        method = create_method(self.method, **self.options)
        names = check_class_names(class_names)
        if images is None and features is None:
            if labels is not None and len(labels):
                raise UserError("labels were given without images")
            if method.needs_shots:
                raise UserError(f"method {method.name!r} needs labelled images; with names only use "
                                "'headstart', a WordNet measure or 'text'")
            x, y = torch.empty(0, source.feature_dim), torch.empty(0, dtype=torch.long)
        else:
            x = self._features(images) if features is None else check_features(features, source.feature_dim)
            y = check_labels(labels, len(x), len(names))
        pool = None if unlabelled is None else self._features(unlabelled)
        evidence = Evidence(source, names, x, y, self.overrides, pool, method.recipe)
        self.resolved_ = resolutions(evidence)  # printed by the CLI
        self.resolutions_ = [r.as_dict() for r in self.resolved_]
        evaluate = None
        if validation is not None:
            val_x = self._features(validation[0])
            val_y = check_labels(validation[1], len(val_x), len(names))
            evaluate = lambda w, b: top1(val_x @ w.T + b, val_y)  # noqa: E731
        (w, b), self.history_, plan = fit_head(method, evidence, self.random_state, self.epochs, evaluate)
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise UserError("training diverged (the head holds NaN or infinite values): check that the "
                            "features are finite, or lower the number of epochs")
        self.classes_, self.method_options_, self.record_ = names, method.json_options(), dict(plan.record)
        self.backbone_state_ = None
        if self.full_finetune:
            if images is None or is_feature_array(images):
                raise UserError("full fine-tuning needs the images themselves, not precomputed features")
            w, b = self._finetune(images, y, (w, b), x)
        self.head_ = frozen_head(w, b)
        return self

    def _finetune(self, images, labels: torch.Tensor, head: Head, features: torch.Tensor) -> Head:
        from headstart.finetune import FinetuneConfig, finetune, method_head

        config = dataclasses.replace(self.finetune_config or FinetuneConfig(), resolution=self.resolution_)
        loaded = loader_of(images)(range(len(images)))
        fit_head = method_head(create_method(self.method, **self.options), self.source_, self.classes_,
                               self.overrides, self.epochs, self.random_state)
        state, w, b, self.finetune_report_ = finetune(self.source_, loaded, labels, head, config,
                                                      fit_head=fit_head, features=features)
        if state is not None:
            self.backbone_state_ = state
            self.source_ = with_backbone(self.source_, state)
        return w, b

    # -- using the fitted head --------------------------------------------------------------------

    def features(self, images) -> torch.Tensor:
        """Features [N, D] of images through the (possibly fine-tuned) backbone."""
        self._check_fitted()
        return self._features(images)

    def _features(self, images) -> torch.Tensor:
        if is_feature_array(images):
            return check_features(images, self.source_.feature_dim)
        check_image_batch(images)
        return extract(self.source_, images, self.resolution_, self.batch_size, progress=self.progress,
                       device=self.device, backend=self.backend, precision=self.precision)

    def decision_function(self, images) -> np.ndarray:
        """Logits [N, C] of images (or precomputed features)."""
        x = self.features(images)
        with torch.inference_mode():
            return self.head_(x).numpy()

    def predict_proba(self, images) -> np.ndarray:
        """Probabilities [N, C] (rows sum to 1) of images (or precomputed features)."""
        return torch.softmax(torch.from_numpy(self.decision_function(images)), dim=1).numpy()

    def predict(self, images) -> np.ndarray:
        """Class indices [N] into `classes_`."""
        return self.decision_function(images).argmax(axis=1)

    def score(self, images, labels) -> float:
        """Top-1 accuracy on images (or features) with integer labels."""
        predicted = self.predict(images)
        return float((predicted == check_labels(labels, len(predicted), len(self.classes_)).numpy()).mean())

    def to_module(self) -> nn.Module:
        """The fitted classifier as a plain `nn.Module` (a copy): input uint8 RGB images
        [N, R, R, 3] already resized to R = `resolution_`, output probabilities [N, C]; the model's
        normalisation is inside. `.logits(images)` gives the logits."""
        self._check_fitted()
        return ImageClassifier(self.source_, self.head_, self.resolution_)

    # -- saving -----------------------------------------------------------------------------------

    def run_meta(self, metrics: dict | None = None) -> RunMeta:
        source = self.source_
        return RunMeta(model=source.spec, model_key=self.model_key_, resolution=self.resolution_,
                       feature_dim=source.feature_dim, mean=list(source.mean), std=list(source.std),
                       class_names=list(self.classes_), method=self.method, options=self.method_options_,
                       classes=self.resolutions_, record=self.record_, metrics=dict(metrics or {}))

    def save(self, folder: str | Path, metrics: dict | None = None, report: str | None = None) -> Path:
        """Write the run folder (see `headstart.run`); the same format `headstart fit` writes."""
        self._check_fitted()
        run = Run(self.run_meta(metrics), self.head_.weight.detach(), self.head_.bias.detach(),
                  self.backbone_state_)
        return save_run(folder, run, report)

    @classmethod
    def load(cls, folder: str | Path, source: SourceModel | str | None = None, *, device: str | None = None,
             backend: str | None = None, precision: str | None = None) -> "HeadStart":
        """A fitted estimator from a run folder. source: needed only when the run's model cannot be
        reloaded from its spec (a model wrapped with `SourceModel.from_module` without `spec`).
        device, backend, precision: where its features are computed, as in the constructor."""
        run = load_run(folder)
        meta = run.meta
        if source is None:
            if meta.model is None:
                raise UserError(f"{folder} was made with a model that cannot be reloaded by name: "
                                "pass it, e.g. HeadStart.load(folder, source=SourceModel.from_module(...))")
            source = meta.model
        source = as_source(source)
        if source.weights_key != meta.model_key or source.feature_dim != meta.feature_dim:
            raise UserError(f"{folder} was made with model {meta.model_key} ({meta.feature_dim} features), "
                            f"not {source.weights_key} ({source.feature_dim}): load it with that model")
        if run.backbone_state is not None:
            source = with_backbone(source, run.backbone_state, where=Path(folder))
        estimator = cls(source, meta.method, resolution=meta.resolution, device=device, backend=backend,
                        precision=precision, **meta.options)
        estimator.source_, estimator.resolution_, estimator.model_key_ = source, meta.resolution, meta.model_key
        estimator.classes_, estimator.resolutions_ = list(meta.class_names), list(meta.classes)
        estimator.method_options_, estimator.record_ = dict(meta.options), dict(meta.record)
        estimator.metrics_, estimator.backbone_state_ = dict(meta.metrics), run.backbone_state
        estimator.head_ = frozen_head(run.weight, run.bias)
        return estimator

    def _check_fitted(self) -> None:
        if not hasattr(self, "head_"):
            raise UserError("this HeadStart is not fitted yet: call fit(...) or HeadStart.load(folder) first")


class ImageClassifier(nn.Module):
    """Backbone + head as one module: uint8 RGB images [N, R, R, 3] (already resized) -> probabilities
    [N, C]. Normalisation ((x - mean) / std on the 0-255 scale) happens inside."""

    def __init__(self, source: SourceModel, head: nn.Linear, resolution: int):
        super().__init__()
        self.backbone = copy.deepcopy(source.backbone).eval()
        self.head = copy.deepcopy(head).eval()
        self.resolution = resolution
        self.register_buffer("mean", torch.tensor(source.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(source.std, dtype=torch.float32).view(1, 3, 1, 1))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.permute(0, 3, 1, 2).float() - self.mean) / self.std
        return self.head(self.backbone(x.contiguous(memory_format=torch.channels_last)).flatten(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(images), dim=1)


# -- input checks and small helpers ----------------------------------------------------------------


def as_source(source: SourceModel | str) -> SourceModel:
    if isinstance(source, SourceModel):
        return source
    if isinstance(source, str):
        return load_source(source)
    raise UserError(f"source must be a SourceModel or a model name, got {type(source).__name__}")


def with_backbone(source: SourceModel, state: dict, where: Path | None = None) -> SourceModel:
    """A copy of `source` whose backbone holds the fine-tuned `state`."""
    backbone = copy.deepcopy(source.backbone)
    try:
        backbone.load_state_dict(state)
    except (RuntimeError, KeyError) as error:
        place = f"{where}: " if where else ""
        raise UserError(f"{place}the fine-tuned backbone does not fit {source.name} "
                        f"({str(error).splitlines()[0]}); fit the run again") from None
    return dataclasses.replace(source, backbone=backbone)


def frozen_head(w: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    return linear_head((w, b)).eval().requires_grad_(False)


def check_resolution(resolution: int) -> int:
    from headstart.run import MAX_RESOLUTION, MIN_RESOLUTION

    if not isinstance(resolution, int) or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise UserError(f"resolution must be an integer from {MIN_RESOLUTION} to {MAX_RESOLUTION} pixels, "
                        f"got {resolution!r}")
    return resolution


def check_class_names(class_names) -> list[str]:
    if class_names is None or isinstance(class_names, str):
        raise UserError("class_names must be a list of at least two names, e.g. ['cat', 'dog']")
    names = [str(n) for n in class_names]
    if len(names) < 2:
        raise UserError(f"a classifier needs at least two classes, got {len(names)}: {names}")
    if any(not n.strip() for n in names):
        raise UserError("class names must not be empty")
    seen, duplicates = set(), []
    for n in names:
        key = " ".join(n.lower().split())
        if key in seen:
            duplicates.append(n)
        seen.add(key)
    if duplicates:
        raise UserError(f"duplicate class names: {', '.join(map(repr, duplicates))}; every class needs its own name")
    return names


def check_labels(labels, n: int, n_classes: int) -> torch.Tensor:
    if labels is None:
        raise UserError("labels are missing: give one integer class index per image")
    y = torch.as_tensor(np.asarray(labels))
    if y.ndim != 1 or len(y) != n:
        raise UserError(f"labels must be a list of {n} integers (one per image), got shape {tuple(y.shape)}")
    if len(y) and (y.is_floating_point() or y.is_complex() or y.dtype == torch.bool):
        raise UserError(f"labels must be integers, got {y.dtype}")
    y = y.long()
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise UserError(f"labels must be class indices in 0..{n_classes - 1}, got {y.min().item()}..{y.max().item()}")
    return y


def is_feature_array(images) -> bool:
    return (isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 2
            and (images.dtype.is_floating_point if isinstance(images, torch.Tensor)
                 else np.issubdtype(images.dtype, np.floating)))


def check_features(features, dim: int) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features).float()
    if x.ndim != 2 or x.shape[1] != dim:
        raise UserError(f"features must be an array [N, {dim}] for this model, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise UserError("features hold NaN or infinite values")
    return x


def check_image_batch(images) -> None:
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim < 3:
        raise UserError(f"pass a batch of images (a list, or an array [N, H, W] / [N, H, W, 3]), got an array "
                        f"of shape {tuple(images.shape)}")
    if not hasattr(images, "__len__"):
        raise UserError("images must be a list (or array) of images")
