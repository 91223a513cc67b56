"""Classification metrics as pure numpy functions of a confusion matrix: per-class precision, recall,
F1 and support with macro and weighted averages (the numbers and the layout of scikit-learn's
`classification_report`, without needing scikit-learn), the Wilson interval of a proportion, and
the most-confused pairs of classes."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

_AVERAGES = ("macro_avg", "weighted_avg")


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval (low, high) of a proportion successes / n (n > 0)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's zero_division=0, without its warning)."""
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def classification_report(confusion: np.ndarray, class_names: Sequence[str]) -> dict:
    """Per-class {precision, recall, f1, support} and their macro / weighted averages.

    confusion: [C, C] counts, row = true class, column = predicted class. The classes reported are
    those with a true or a predicted image (scikit-learn's default labels); a class never predicted
    has precision 0, one never true has recall 0. Returns {"per_class": {name: {...}}, "macro_avg":
    {...}, "weighted_avg": {...}, "accuracy": float, "support": N}."""
    confusion = np.asarray(confusion, dtype=np.float64)
    support, predicted, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    shown = np.flatnonzero((support > 0) | (predicted > 0))
    precision, recall = _ratio(hits, predicted), _ratio(hits, support)
    f1 = _ratio(2 * hits, support + predicted)  # = 2PR / (P + R), and 0 where either is undefined
    rows = np.stack([precision, recall, f1])[:, shown]
    weights = support[shown]
    total = float(support.sum())
    averages = {"macro_avg": rows.mean(axis=1), "weighted_avg": rows @ weights / max(total, 1.0)}
    as_dict = lambda values, n: {"precision": float(values[0]), "recall": float(values[1]),  # noqa: E731
                                 "f1": float(values[2]), "support": int(n)}
    return {"per_class": {class_names[c]: as_dict(rows[:, k], support[c]) for k, c in enumerate(shown)},
            **{name: as_dict(values, total) for name, values in averages.items()},
            "accuracy": float(hits.sum() / total) if total else 0.0, "support": int(total)}


def format_report(report: dict, digits: int = 2) -> str:
    """`classification_report` (or `evaluate`'s result, which holds its keys) as text, in
    scikit-learn's layout."""
    names = list(report["per_class"]) + ["weighted avg"]
    width = max(len(n) for n in names)
    head = " " * width + "".join(f"{h:>10}" for h in ("precision", "recall", "f1-score", "support"))

    def line(name: str, row: dict) -> str:
        values = "".join(f"{row[k]:>10.{digits}f}" for k in ("precision", "recall", "f1"))
        return f"{name:>{width}}{values}{row['support']:>10}"

    lines = [head, ""] + [line(name, row) for name, row in report["per_class"].items()] + [""]
    total = sum(row["support"] for row in report["per_class"].values())
    lines.append(f"{'accuracy':>{width}}{'':>20}{report['accuracy']:>10.{digits}f}{total:>10}")
    lines += [line(name.replace("_", " "), report[name]) for name in _AVERAGES]
    return "\n".join(lines)


def most_confused(confusion: np.ndarray, class_names: Sequence[str], top: int = 10) -> list[dict]:
    """The `top` largest off-diagonal counts, largest first (ties in class order):
    [{"true", "predicted", "count"}], pairs never confused left out (fastai's `most_confused`)."""
    confusion = np.array(confusion, dtype=np.int64)
    np.fill_diagonal(confusion, 0)
    order = np.argsort(-confusion, axis=None, kind="stable")[:top]
    pairs = [np.unravel_index(i, confusion.shape) for i in order]
    return [{"true": class_names[t], "predicted": class_names[p], "count": int(confusion[t, p])}
            for t, p in pairs if confusion[t, p] > 0]
