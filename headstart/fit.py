"""Fit a head on an image folder, predict with a fitted run, and build a names-only head."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from headstart import distributed
from headstart.data import load_image_folder
from headstart.data.features import FeatureCache, extract
from headstart.data.folder import image_paths, load_images
from headstart.errors import UserError
from headstart.methods import execute, get_method
from headstart.run import RunMeta, load_run, save_run
from headstart.similarity import Evidence, resolutions
from headstart.sources import load_source
from headstart.train import accuracy, single_thread

if TYPE_CHECKING:
    from headstart.finetune import FinetuneConfig


def _synsets(evidence: Evidence) -> list[str | None]:
    try:
        return [r.synset_id for r in resolutions(evidence)]
    except UserError:  # names without synsets still fit with non-WordNet methods
        return [None] * evidence.n_classes


@dataclass
class FitResult:
    folder: Path
    meta: RunMeta


def fit_folder(model: str, data_dir: str | Path, out: str | Path, method: str = "headstart",
               resolution: int | None = None, epochs: int = 100, overrides: dict | None = None,
               progress: bool = True, full_finetune: bool = False,
               finetune_config: FinetuneConfig | None = None) -> FitResult:
    """Fit a head for the classes of an image folder (train/test sub-folders or a seeded split)
    and write the run (head + metadata + report.md) to `out`.

    full_finetune: then train backbone + head from that head (LP-FT, `headstart.finetune`), kept
    only if it beats head-only training on held-out training images. Under `torchrun` the work is
    split across the processes and rank 0 writes the run."""
    distributed.init_process_group_from_env()
    source = load_source(model)
    data = load_image_folder(data_dir)
    resolution = resolution or source.resolution
    train_x = FeatureCache(source, data, "train", resolution).get(progress=progress)
    train_y = torch.from_numpy(data.train.labels)
    test_x = FeatureCache(source, data, "test", resolution).get(progress=progress)
    test_y = torch.from_numpy(data.test.labels)
    evidence = Evidence(source, data.class_names, train_x, train_y, overrides or {})
    evaluate = lambda w, b: accuracy(w, b, test_x, test_y)  # noqa: E731
    with single_thread():
        plan = get_method(method).build(evidence, 0)
        (w, b), history = execute(plan, train_x, train_y, evaluate, epochs)
    meta = RunMeta(model=model, resolution=resolution, feature_dim=source.feature_dim,
                   class_names=data.class_names, method=method, synsets=_synsets(evidence),
                   metrics={"test_accuracy": history[-1][1], "accuracy_before_training": history[0][1],
                            "train_images": len(train_y), "test_images": len(test_y),
                            "history": history})
    backbone_state = None
    if full_finetune:
        from headstart.finetune import FinetuneConfig, finetune, method_head
        from headstart.finetune import evaluate as image_accuracy

        config = replace(finetune_config or FinetuneConfig(), resolution=resolution)
        backbone_state, w, b, report = finetune(
            source, data.train.load(np.arange(len(data.train))), data.train.labels, (w, b), config,
            fit_head=method_head(method, source, data.class_names, overrides, epochs), features=train_x)
        meta.metrics["finetune"] = report
        if backbone_state is not None:
            meta.metrics["test_accuracy_head_only"] = meta.metrics["test_accuracy"]
            meta.metrics["test_accuracy"] = image_accuracy(
                source, (w, b), data.test.load(np.arange(len(data.test))), data.test.labels, resolution,
                backbone_state)
    out = Path(out)
    if distributed.is_main():  # one writer under torchrun
        save_run(out, w, b, meta, backbone_state)
        write_fit_report(out, meta, data_dir)
    distributed.barrier()
    return FitResult(out, meta)


def write_fit_report(out: Path, meta: RunMeta, data_dir) -> None:
    m = meta.metrics
    lines = [f"# headstart fit: {out.name}", "",
             f"- data: `{data_dir}` ({m['train_images']} training / {m['test_images']} test images)",
             f"- source model: {meta.model} at {meta.resolution} px; method: {meta.method}",
             f"- test accuracy before training: {100 * m['accuracy_before_training']:.1f} %",
             f"- test accuracy after training: {100 * m['test_accuracy']:.1f} %", "",
             *([f"- full fine-tuning: {m['finetune']['message']}", ""] if "finetune" in m else []),
             "| class | synset |", "|---|---|"]
    lines += [f"| {name} | {syn or '-'} |" for name, syn in zip(meta.class_names, meta.synsets)]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def unlabelled_features(source, folder: str | Path, batch_size: int = 64, progress: bool = True) -> torch.Tensor:
    """Features [M, D] of every readable image under `folder`, loaded a batch at a time."""
    paths = image_paths(folder)
    starts = tqdm(range(0, len(paths), batch_size), desc="features unlabelled", unit="batch", disable=not progress)
    return torch.cat([extract(source, load_images(paths[i:i + batch_size]), source.resolution, batch_size)
                      for i in starts])


def init_head(model: str, class_names: Sequence[str], out: str | Path, method: str = "headstart",
              overrides: dict | None = None, unlabelled: str | Path | None = None) -> FitResult:
    """A zero-shot head from class names alone (no labelled images) written as a run; `unlabelled`:
    a folder of target images without labels, which the default uses to recentre its biases."""
    source = load_source(model)
    chosen = get_method(method)
    if chosen.needs_shots:
        raise UserError(f"method {method!r} needs labelled images; `init` works from names (+ unlabelled images)")
    evidence = Evidence.names_only(source, class_names, overrides,
                                   None if unlabelled is None else unlabelled_features(source, unlabelled))
    w, b = chosen.build(evidence, 0).init
    meta = RunMeta(model=model, resolution=source.resolution, feature_dim=source.feature_dim,
                   class_names=list(class_names), method=method, synsets=_synsets(evidence))
    save_run(Path(out), w, b, meta)
    return FitResult(Path(out), meta)


def predict(run: str | Path, images: Sequence, top: int = 3) -> list[list[tuple[str, float]]]:
    """Top-`top` (class name, probability) for each image (PIL / uint8 arrays)."""
    source, w, b, meta = load_run(Path(run))
    probs = torch.softmax(extract(source, images, meta.resolution) @ w.T + b, dim=1)
    values, index = probs.topk(min(top, len(meta.class_names)), dim=1)
    return [[(meta.class_names[i], p) for p, i in zip(vs, ix)] for vs, ix in zip(values.tolist(), index.tolist())]
