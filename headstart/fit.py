"""The library calls behind `headstart fit`, `init` and `predict`: thin wrappers over the
`HeadStart` estimator that add the image-folder data, the feature cache and the run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from headstart import distributed
from headstart.card import class_table, sense_cells
from headstart.data import load_image_folder
from headstart.data.augment import augmented_data, view_rows
from headstart.data.features import FeatureCache
from headstart.data.folder import UnlabelledImages
from headstart.defaults import DEFAULT_METHOD, HEAD_EPOCHS
from headstart.estimator import HeadStart
from headstart.errors import UserError
from headstart.evaluate import confusion_matrix, precision_recall
from headstart.held_out import data_root, training_files
from headstart.predictions import top_classes
from headstart.protocol import few_shot_indices
from headstart.run_folder import RunMeta, fitted_run, save_run
from headstart.safe_text import markdown, markdown_code


@dataclass
class FitResult:
    folder: Path
    meta: RunMeta
    estimator: HeadStart


def fit_folder(model, data_dir: str | Path, out: str | Path, method: str = DEFAULT_METHOD,
               resolution: int | None = None, epochs: int = HEAD_EPOCHS, overrides: dict | None = None,
               progress: bool = True, full_finetune: bool = False, finetune_config=None,
               device: str | None = None, backend: str | None = None, precision: str | None = None,
               method_options: dict | None = None, max_per_class: int | None = None,
               **controls) -> FitResult:
    """Fit a head for the classes of an image folder (train/ + test/ or val/ sub-folders, or a
    seeded split) and write the run (head + run.json + report.md) to `out`.

    max_per_class: train on at most this many images of each class (drawn with the seed,
    `random_state` in controls; the test images stay all). controls: the estimator's training
    controls (random_state, class_weight, learning_rate, early_stopping, validation_fraction,
    n_iter_no_change; see `HeadStart`).

    model: a built-in name, a "package.module:function" spec or a `SourceModel`. full_finetune:
    then train backbone + head (LP-FT), kept only if it beats the head alone on held-out training
    images. device, backend, precision: where and how features are computed (see
    `headstart.data.features.extract`).
    Under `torchrun` the work is split across the processes and rank 0 writes the run."""
    distributed.init_process_group_from_env()
    data = load_image_folder(data_dir)
    estimator = HeadStart(model, method, resolution=resolution, epochs=epochs, overrides=overrides,
                          full_finetune=full_finetune, finetune_config=finetune_config, progress=progress,
                          device=device, backend=backend, precision=precision, method_options=method_options,
                          **controls)
    chosen = training_indices(data.train.labels, max_per_class, estimator.random_state)
    train = data.train.subset(chosen)
    # decided once: the caches, the head, fine-tuning and the run all use it
    context = estimator.check(data.class_names, int(np.bincount(train.labels, minlength=len(data.class_names)).min()))
    source, resolution, placement = context.source, context.resolution, context.placement
    batch_size = estimator.batch_size
    train_x = FeatureCache(source, data, "train", resolution, placement=placement).get(chosen, batch_size, progress)
    view_x = None
    if estimator.augment:  # the views' features are cached apart, under a key naming the augmentation and seed
        views = FeatureCache(source, augmented_data(data, estimator.random_state), "train", resolution,
                             placement=placement)
        view_x = views.get(view_rows(chosen, estimator.augment).ravel(), batch_size, progress)
    test_x = FeatureCache(source, data, "test", resolution, placement=placement).get(None, batch_size, progress)
    train_y, test_y = torch.from_numpy(train.labels), torch.from_numpy(data.test.labels)
    estimator.fit(train if full_finetune else train_x, train_y, data.class_names,
                  features=train_x, validation=(test_x, test_y), view_features=view_x, context=context)
    history = estimator.history_
    metrics = {"accuracy_before_training": history[0][1], "test_accuracy": history[-1][1],
               "train_images": len(train_y), "test_images": len(test_y), "history": history}
    finetuned = estimator.backbone_state_ is not None
    predicted = estimator.decision_function(data.test if finetuned else test_x).argmax(axis=1)
    if full_finetune:
        metrics["finetune"] = estimator.finetune_report_
        if finetuned:
            metrics["test_accuracy_head_only"] = metrics["test_accuracy"]
            metrics["test_accuracy"] = float((predicted == test_y.numpy()).mean())
    metrics["per_class"] = precision_recall(confusion_matrix(test_y.numpy(), predicted, len(data.class_names)),
                                            data.class_names)
    estimator.training_["max_per_class"], estimator.metrics_ = max_per_class, metrics
    files = training_files(data, data_root(data_dir))  # evaluate leaves the training images out by these
    out, run = Path(out), fitted_run(estimator, metrics, str(data_dir), files)
    meta = run.meta
    if distributed.is_main():  # one writer under torchrun
        save_run(out, run, fit_report(out, meta))
    distributed.barrier()
    return FitResult(out, meta, estimator)


def training_indices(labels: np.ndarray, max_per_class: int | None, seed: int) -> np.ndarray:
    """The training images used: all, or at most `max_per_class` of each class drawn with `seed`
    (nested: a smaller limit keeps a subset of a larger one's images)."""
    if max_per_class is None:
        return np.arange(len(labels))
    if max_per_class < 1:
        raise UserError(f"--max-per-class must be at least 1, got {max_per_class}")
    return few_shot_indices(labels, max_per_class, seed)


def fit_report(out: Path, meta: RunMeta) -> str:
    m = meta.metrics
    lines = [f"# headstart fit: {markdown(out.name)}", "",
             f"- data: {markdown_code(meta.training['data'])} ({markdown(m['train_images'])} training / "
             f"{markdown(m['test_images'])} test images)",
             f"- source model: {markdown(meta.model or meta.model_key)} at {meta.resolution} px; method: "
             f"{markdown(meta.method)}",
             f"- test accuracy before training: {100 * m['accuracy_before_training']:.1f} %",
             f"- test accuracy after training: {100 * m['test_accuracy']:.1f} %", "",
             *([f"- {markdown(m['finetune']['message'])}", ""] if "finetune" in m else [])]
    lines += class_table(["class", "synset", "from", "how"], [(c["name"], *sense_cells(c)) for c in meta.classes])
    return "\n".join(lines) + "\n"


def init_head(model, class_names: Sequence[str], out: str | Path, method: str = DEFAULT_METHOD,
              overrides: dict | None = None, unlabelled: str | Path | None = None, progress: bool = True,
              device: str | None = None, backend: str | None = None, precision: str | None = None,
              method_options: dict | None = None) -> FitResult:
    """A zero-shot head from class names alone (no labelled images) written as a run; `unlabelled`:
    a folder of target images without labels, which the default uses to recentre its biases."""
    estimator = HeadStart(model, method, overrides=overrides, progress=progress, device=device, backend=backend,
                          precision=precision, method_options=method_options)
    pool = None if unlabelled is None else UnlabelledImages(unlabelled)
    estimator.fit(None, None, class_names, unlabelled=pool)
    run = fitted_run(estimator)
    save_run(out, run)
    return FitResult(Path(out), run.meta, estimator)


def predict(run: str | Path | HeadStart, images: Sequence, top: int = 3) -> list[list[tuple[str, float]]]:
    """Top-`top` (class name, probability) for each image (PIL / uint8 arrays)."""
    estimator = run if isinstance(run, HeadStart) else HeadStart.load(run)
    return top_classes(estimator, estimator.predict_proba(images), top)


__all__ = ["FitResult", "fit_folder", "init_head", "predict"]
