"""`headstart evaluate`: how a fitted run does on a labelled image folder — accuracy, per-class
accuracy, confusion matrix, top-k accuracy and calibration (ECE, reliability diagram). The metrics
are pure functions of the probabilities; plots are drawn from the returned dictionary alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from headstart.data.folder import ImageFiles, scan_classes
from headstart.errors import UserError

CALIBRATION_BINS = 15
TOP_K = (1, 5)


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
    present = confusion.sum(axis=1) > 0
    per_class = {name: float(confusion[c, c] / confusion[c].sum())
                 for c, name in enumerate(class_names) if present[c]}
    calibrated = calibration(probabilities, labels)
    return {"images": int(len(labels)), "accuracy": float((predicted == labels).mean()), "per_class": per_class,
            "top_k": {str(k): top_k_accuracy(probabilities, labels, k) for k in TOP_K if k <= len(class_names)},
            "confusion": confusion.tolist(), "class_names": list(class_names), "ece": calibrated["ece"],
            "reliability": calibrated["bins"]}


def labelled_images(folder: Path) -> tuple[list[str], list[Path], np.ndarray]:
    """(class names, paths, labels) of an evaluation folder: its test/ (or val/) split when it has
    one, else its class sub-folders."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"--data {folder} is not a folder: pass a folder with one sub-folder per class")
    for split in ("test", "val"):
        if (folder / split).is_dir():
            folder = folder / split
            break
    names, paths, labels, _ = scan_classes(folder)
    return names, paths, labels


def evaluate_run(estimator, data: str | Path, progress: bool = False) -> dict:
    """Metrics of a fitted `HeadStart` on the labelled image folder `data` (class folders named
    as the run's classes; a class the run does not know is an error)."""
    names, paths, labels = labelled_images(Path(data))
    index = {name: i for i, name in enumerate(estimator.class_names_)}
    unknown = [n for n in names if n not in index]
    if unknown:
        raise UserError(f"class folders {unknown} are not classes of this run; its classes: "
                        f"{', '.join(estimator.class_names_)}")
    estimator.set_params(progress=progress)
    probabilities = estimator.predict_proba(ImageFiles(paths))
    true = np.array([index[names[label]] for label in labels], dtype=np.int64)
    return {"data": Path(data).name, **metrics(probabilities, true, estimator.class_names_)}


def write_evaluation(result: dict, out: Path) -> list[Path]:
    """evaluation.json, confusion.json, confusion.png and reliability.png in `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = [out / "evaluation.json", out / "confusion.json", out / "confusion.png", out / "reliability.png"]
    written[0].write_text(json.dumps(result, indent=2), encoding="utf-8")
    written[1].write_text(json.dumps({"class_names": result["class_names"], "confusion": result["confusion"]}),
                          encoding="utf-8")
    n = len(result["class_names"])
    fig, ax = plt.subplots(figsize=(2 + 0.4 * n, 2 + 0.4 * n))
    ax.imshow(np.array(result["confusion"]), cmap="Blues")
    ax.set_xticks(range(n), result["class_names"], rotation=90)
    ax.set_yticks(range(n), result["class_names"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion on {result['data']} (accuracy {100 * result['accuracy']:.1f} %)")
    fig.tight_layout()
    fig.savefig(written[2])
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
    fig.savefig(written[3])
    plt.close(fig)
    return written
