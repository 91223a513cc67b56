"""Fit a head on an image folder, predict with a fitted run, and build a names-only head."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from headstart.data import load_image_folder
from headstart.data.features import FeatureCache, extract
from headstart.errors import UserError
from headstart.methods import get_method
from headstart.run import RunMeta, load_run, save_run
from headstart.similarity import Evidence, resolutions
from headstart.sources import load_source
from headstart.train import HeadTraining, accuracy


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
               progress: bool = True) -> FitResult:
    """Fit a head for the classes of an image folder (train/test sub-folders or a seeded split)
    and write the run (head + metadata + report.md) to `out`."""
    source = load_source(model)
    data = load_image_folder(data_dir)
    resolution = resolution or source.resolution
    train_x = FeatureCache(source, data, "train", resolution).get(progress=progress)
    train_y = torch.from_numpy(data.train.labels)
    test_x = FeatureCache(source, data, "test", resolution).get(progress=progress)
    test_y = torch.from_numpy(data.test.labels)
    evidence = Evidence(source, data.class_names, train_x, train_y, overrides or {})
    plan = get_method(method).build(evidence, 0)
    evaluate = lambda w, b: accuracy(w, b, test_x, test_y)  # noqa: E731
    if plan.trains:
        (w, b), history = HeadTraining(epochs=epochs, prior_strength=plan.prior_strength).fit(
            train_x, train_y, plan.init, plan.prior, evaluate)
    else:
        (w, b), history = plan.init, [(0, evaluate(*plan.init))]
    meta = RunMeta(model=model, resolution=resolution, feature_dim=source.feature_dim,
                   class_names=data.class_names, method=method, synsets=_synsets(evidence),
                   metrics={"test_accuracy": history[-1][1], "accuracy_before_training": history[0][1],
                            "train_images": len(train_y), "test_images": len(test_y),
                            "history": history})
    out = Path(out)
    save_run(out, w, b, meta)
    write_fit_report(out, meta, data_dir)
    return FitResult(out, meta)


def write_fit_report(out: Path, meta: RunMeta, data_dir) -> None:
    m = meta.metrics
    lines = [f"# headstart fit: {out.name}", "",
             f"- data: `{data_dir}` ({m['train_images']} training / {m['test_images']} test images)",
             f"- source model: {meta.model} at {meta.resolution} px; method: {meta.method}",
             f"- test accuracy before training: {100 * m['accuracy_before_training']:.1f} %",
             f"- test accuracy after training: {100 * m['test_accuracy']:.1f} %", "",
             "| class | synset |", "|---|---|"]
    lines += [f"| {name} | {syn or '-'} |" for name, syn in zip(meta.class_names, meta.synsets)]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def init_head(model: str, class_names: Sequence[str], out: str | Path, method: str = "headstart",
              overrides: dict | None = None) -> FitResult:
    """A zero-shot head from class names alone (no images) written as a run."""
    source = load_source(model)
    chosen = get_method(method)
    if chosen.needs_shots:
        raise UserError(f"method {method!r} needs images; `init` works from names only")
    evidence = Evidence(source, list(class_names), torch.empty(0, source.feature_dim),
                        torch.empty(0, dtype=torch.long), overrides or {})
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
