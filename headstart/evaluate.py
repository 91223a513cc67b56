"""`headstart evaluate`: how a fitted run does on labelled images it did not train on — accuracy
with its 95 % interval, per-class precision / recall / F1 / support, the most-confused pairs, the
confusion matrix, top-k accuracy and calibration (ECE, reliability diagram), and the misclassified
images, largest losses first. The metrics are pure functions of the probabilities
(`headstart.metrics`); plots and the page are drawn from the returned dictionary alone.

Images whose bytes match an image the run trained on (`headstart.held_out`) are left out, so the
folder a run was fitted on is scored on its held-out images only; their features come from the
feature cache that `fit` filled."""

from __future__ import annotations

import json
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headstart.cache import atomic_write
from headstart.data.dataset import TargetData
from headstart.data.folder import TEST_SPLIT_NAMES, ImageFiles, load_image_folder, scan_classes, warn_skipped
from headstart.errors import UserError
from headstart.extras import require
from headstart.held_out import not_trained_on, trained_digests
from headstart.metrics import classification_report, most_confused, wilson_interval
from headstart.report_page import write_page

CALIBRATION_BINS = 15
TOP_K = (1, 5)
MOST_CONFUSED = 10  # pairs listed
ALTERNATIVES = 3  # classes shown beside each misclassified image
CONFUSION_INCHES = 16  # the confusion plot's largest side (1600 px): 400 classes once drew 16200 px, 8.6 GB
CONFUSION_LABELLED = 100  # above this many classes the axes carry no names (they could not be read)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """[C, C] counts: row = true class, column = predicted class. labels, predicted: [N] indices."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def precision_recall(confusion: np.ndarray, class_names: list[str]) -> dict:
    """Per class {precision, recall, support} from a confusion matrix [C, C] (row = true class):
    precision None for a class never predicted, recall None for a class without images."""
    confusion = np.asarray(confusion)
    right, predicted, support = np.diag(confusion), confusion.sum(axis=0), confusion.sum(axis=1)
    return {name: {"precision": float(right[c] / predicted[c]) if predicted[c] else None,
                   "recall": float(right[c] / support[c]) if support[c] else None, "support": int(support[c])}
            for c, name in enumerate(class_names)}


def top_k_accuracy(probabilities: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of rows whose true class is among the k most probable. probabilities: [N, C]."""
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def calibration(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = CALIBRATION_BINS) -> dict:
    """Expected calibration error over `n_bins` equal-width confidence bins (top-1 confidence
    against top-1 accuracy) and the bins themselves [{low, high, count, confidence, accuracy}]."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        members = which == b
        count = int(members.sum())
        conf = float(confidence[members].mean()) if count else None
        acc = float(correct[members].mean()) if count else None
        if count:
            ece += count / len(labels) * abs(acc - conf)
        bins.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": count, "confidence": conf,
                     "accuracy": acc})
    return {"ece": float(ece), "bins": bins}


def metrics(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict:
    """Every metric of `evaluate` from probabilities [N, C] and true class indices [N]."""
    predicted = probabilities.argmax(axis=1)
    confusion = confusion_matrix(labels, predicted, len(class_names))
    report = classification_report(confusion, class_names)
    calibrated = calibration(probabilities, labels)
    correct = int((predicted == labels).sum())
    return {"images": int(len(labels)), "n": int(len(labels)), "accuracy": correct / len(labels),
            "accuracy_interval": list(wilson_interval(correct, len(labels))),
            "per_class": report["per_class"], "macro_avg": report["macro_avg"], "weighted_avg": report["weighted_avg"],
            "most_confused": most_confused(confusion, class_names, MOST_CONFUSED),
            "top_k": {str(k): top_k_accuracy(probabilities, labels, k) for k in TOP_K if k <= len(class_names)},
            "confusion": confusion.tolist(), "class_names": list(class_names), "ece": calibrated["ece"],
            "reliability": calibrated["bins"]}


def misclassified(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str], paths: list[Path],
                  alternatives: int = ALTERNATIVES) -> list[dict]:
    """The wrongly classified images, largest loss (-log of the true class's probability) first:
    [{"image", "true", "predicted", "probability" (of the predicted class), "true_probability",
    "loss", "top": [[class, probability], ...]}]. probabilities: [N, C]; labels: [N] indices."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    true_p = probabilities[wrong, labels[wrong]]
    losses = -np.log(np.maximum(true_p, np.finfo(np.float64).tiny))
    rows = []
    for i, loss, p_true in sorted(zip(wrong, losses, true_p), key=lambda row: -row[1]):
        ranked = np.argsort(-probabilities[i], kind="stable")[:alternatives]
        rows.append({"image": str(paths[i]), "true": class_names[labels[i]], "predicted": class_names[predicted[i]],
                     "probability": float(probabilities[i, predicted[i]]), "true_probability": float(p_true),
                     "loss": float(loss), "top": [[class_names[c], float(probabilities[i, c])] for c in ranked]})
    return rows


def labelled_images(folder: Path) -> tuple[list[str], list[Path], np.ndarray]:
    """(class names, paths, labels) of an evaluation folder in any layout `fit` reads: its test/ (or
    val/, validation/) split when it has one, else its train/ folder's or its own class sub-folders
    (one class is enough); skipped files are warned about as `fit` does."""
    root = folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"--data {folder} is not a folder: pass a folder with one sub-folder per class")
    splits = [root / name for name in (*TEST_SPLIT_NAMES, "train") if (root / name).is_dir()]
    folder = splits[0] if splits else root
    names, paths, labels, skipped = scan_classes(folder, min_classes=1)
    warn_skipped(root, skipped)
    return names, paths, labels


@dataclass
class EvaluationImages:
    """Labelled images to evaluate on; `dataset`: the dataset they were read as, whose feature
    cache holds them (`rows`: (split, index) of each image), or None when not read as one."""

    class_names: list[str]
    paths: list[Path]
    labels: np.ndarray
    dataset: TargetData | None = None
    rows: list[tuple[str, int]] | None = None


def evaluation_images(data: Path) -> EvaluationImages:
    """The images of `data` (a folder or a CSV) read the way `fit` reads them, so their features
    come from the same cache: the given test split when the data has one (test/ or val/ beside
    train/, a CSV's split column), else all its images (a folder of class folders, or one that
    holds only test/ or val/)."""
    folder = Path(data).expanduser()
    if folder.is_dir() and not (folder / "train").is_dir():
        folder = next((folder / s for s in TEST_SPLIT_NAMES if (folder / s).is_dir()), folder)
    try:
        dataset = load_image_folder(folder)
    except UserError:  # a folder too small to split as fit would: read it as plain class folders
        if not folder.is_dir():
            raise  # a CSV's own problem (a missing file, a bad column), said as fit says it
        return EvaluationImages(*labelled_images(Path(data)))
    paths, labels, rows = [], [], []
    for split in ("test",) if dataset.split_given else ("test", "train"):
        part = dataset.split(split)
        paths += part.paths
        labels += part.labels.tolist()
        rows += [(split, i) for i in range(len(part))]
    return EvaluationImages(dataset.class_names, paths, np.asarray(labels, dtype=np.int64), dataset, rows)


def probabilities_of(images: EvaluationImages, which: np.ndarray, estimator, progress: bool) -> np.ndarray:
    """Probabilities [len(which), C] of images.paths[which]: a torch-free `Predictor` reads the images
    itself; a `HeadStart` classifies their features (`features_of`, from the feature cache)."""
    if not hasattr(estimator, "source_"):  # a Predictor
        estimator.set_params(progress=progress)
        return estimator.predict_proba(ImageFiles([images.paths[i] for i in which]))
    return np.asarray(estimator.predict_proba(features_of(images, which, estimator, progress)))


def features_of(images: EvaluationImages, which: np.ndarray, estimator, progress: bool):
    """Features [len(which), D] (a tensor) of images.paths[which] under the fitted estimator's model,
    from the feature cache where the images were read as a dataset."""
    import torch

    from headstart.data.features import FeatureCache

    if images.dataset is None:
        estimator.set_params(progress=progress)
        return estimator.features(ImageFiles([images.paths[i] for i in which]))
    parts = []
    for split in ("test", "train"):
        rows = [images.rows[i][1] for i in which if images.rows[i][0] == split]
        if rows:
            cache = FeatureCache(estimator.source_, images.dataset, split, estimator.resolution_,
                                 placement=estimator.placement())
            parts.append(cache.get(rows, batch_size=estimator.batch_size, progress=progress))
    return torch.cat(parts)  # `which` is in split order: test rows come before train rows


def evaluate_run(estimator, data: str | Path, progress: bool = False, *, training: dict | None = None,
                 include_training: bool = False) -> dict:
    """Metrics of a fitted `HeadStart` (or `Predictor`) on the labelled images of `data` (a folder of class folders
    named as the run's classes, or a CSV of path,label; a class the run does not know is an error).

    training: run.json's ``training`` record. Images whose bytes match a training image are left
    out (counted in "left_out") unless `include_training`; a run that trained on a folder without
    recording its files gets one warning that its training images cannot be told apart."""
    images = evaluation_images(Path(data))
    names = [unicodedata.normalize("NFC", n) for n in images.class_names]  # macOS spells folder names decomposed
    index = {unicodedata.normalize("NFC", name): i for i, name in enumerate(estimator.class_names_)}
    unknown = [n for n in names if n not in index]
    if unknown:
        raise UserError(f"class folders {unknown} are not classes of this run; its classes: "
                        f"{', '.join(estimator.class_names_)}")
    digests = trained_digests(training or {})
    keep = np.ones(len(images.paths), bool)
    if digests is None:
        warnings.warn("this run does not record which images it trained on (it was made by an older headstart): "
                      "evaluate cannot leave them out, and training images score too well; fit it again to "
                      "record them", stacklevel=2)
    elif not include_training:
        keep = np.array(not_trained_on(images.paths, digests), dtype=bool)
    which = np.flatnonzero(keep)
    if not len(which):
        raise UserError(f"every image in {data} is one the run trained on: evaluate it on other images "
                        "(or pass --include-training to score them anyway)")
    probabilities = probabilities_of(images, which, estimator, progress)
    true = np.array([index[names[label]] for label in images.labels[which]], dtype=np.int64)
    paths = [images.paths[i] for i in which]
    return {"data": Path(data).name, "left_out": int(len(keep) - len(which)),
            **metrics(probabilities, true, estimator.class_names_),
            "misclassified": misclassified(probabilities, true, estimator.class_names_, paths)}


def write_evaluation(result: dict, out: Path) -> list[Path]:
    """evaluation.json, confusion.json, confusion.png (counts and a colour bar), reliability.png
    and misclassified.html with its thumbnails (`headstart.report_page`) in `out`."""
    matplotlib = require("matplotlib", "evaluate's plots (--out)", "plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = [out / "evaluation.json", out / "confusion.json", out / "confusion.png", out / "reliability.png"]
    # each file replaced through a temporary one (atomic_write): a link planted in `out` is replaced, never followed
    _write_json(written[0], result, indent=2)
    _write_json(written[1], {"class_names": result["class_names"], "confusion": result["confusion"]})
    n = len(result["class_names"])
    side = min(2 + 0.4 * n, CONFUSION_INCHES)
    fig, ax = plt.subplots(figsize=(min(side + 1, CONFUSION_INCHES), side))  # + the colour bar
    counts = np.array(result["confusion"])
    shown = ax.imshow(counts, cmap="Blues")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="images")
    if n <= 30:  # beyond that the numbers would overlap
        for (t, p), count in np.ndenumerate(counts):
            if count:
                ax.text(p, t, str(count), ha="center", va="center", fontsize=8,
                        color="white" if count > counts.max() / 2 else "black")
    if n <= CONFUSION_LABELLED:
        size = min(10.0, 0.4 * 72 * (side - 2) / n)  # points: one name per row
        ax.set_xticks(range(n), result["class_names"], rotation=90, fontsize=size)
        ax.set_yticks(range(n), result["class_names"], fontsize=size)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion on {result['data']} (accuracy {100 * result['accuracy']:.1f} %)")
    fig.tight_layout()
    atomic_write(written[2], lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    filled = [b for b in result["reliability"] if b["count"]]
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    ax.bar([(b["low"] + b["high"]) / 2 for b in filled], [b["accuracy"] for b in filled],
           width=1 / len(result["reliability"]), alpha=0.7, label="accuracy per confidence bin")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability on {result['data']} (ECE {result['ece']:.3f})")
    ax.legend()
    fig.tight_layout()
    atomic_write(written[3], lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    return written + write_page(result, out)


def _write_json(path: Path, value, indent: int | None = None) -> None:
    data = json.dumps(value, indent=indent).encode("utf-8")
    atomic_write(path, lambda f: f.write(data))
