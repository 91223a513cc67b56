"""How fast each method comes near its own final accuracy (the seed paper's "faster training" claim,
issue 32 item 4), from the bench rows alone.

A run is one (model, dataset, method, shots, seed) with shots >= 1; its curve is its rows' accuracy
at the epochs the bench sampled (``--eval-epochs``, 0 = before training) up to its final row
(:func:`~headstart.lab.report.statistics.final_row`). Its *epochs to within 1 pp* is the first
sampled epoch whose accuracy is at least its final accuracy minus 1 percentage point — the final epoch
itself when no earlier sample gets there. A run whose only row is its final one at epoch 0 was not
trained epoch by epoch (a closed-form head, or a literature peer that runs its own loop inside its
plan): it has no curve to read a speed from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from headstart.lab.report.statistics import final_row, method_order

TOLERANCE_PP = 1.0
AT_EPOCHS = (0, 1, 5, 10)


@dataclass(frozen=True)
class ConvergenceRow:
    """One method at one shots value of one model, over every dataset and seed of the rows.

    ``at``: mean accuracy at each of :data:`AT_EPOCHS` (None unless every run sampled that epoch);
    ``final``: mean final accuracy; ``epochs`` and ``median_epochs``: mean and median (the higher
    middle value) over runs of the epochs to within ``TOLERANCE_PP`` of each run's own final accuracy
    (None when no run was trained epoch by epoch); ``seconds``: mean of the runs' ``seconds`` column
    (None unless every run has one).
    """

    model: str
    shots: int
    method: str
    runs: int
    at: tuple[float | None, ...]
    final: float
    epochs: float | None
    median_epochs: int | None
    seconds: float | None


def epochs_to_within(curve: dict[int, float], final_epoch: int, final: float,
                     tolerance_pp: float = TOLERANCE_PP) -> int:
    """The first sampled epoch up to ``final_epoch`` whose accuracy (a fraction) is within
    ``tolerance_pp`` percentage points of ``final``."""
    return min(e for e, a in curve.items() if e <= final_epoch and a >= final - tolerance_pp / 100 - 1e-9)


def convergence(rows: Sequence[dict], tolerance_pp: float = TOLERANCE_PP) -> list[ConvergenceRow]:
    """One :class:`ConvergenceRow` per (model, shots >= 1, method) of ``read_results`` rows, sorted by
    model, shots and method (peers first). Unfinished runs (no final row) are left out."""
    runs: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if row["shots"] >= 1:
            runs[(row["model"], row["shots"], row["method"], row["dataset"], row["seed"])].append(row)
    groups: dict[tuple, list[tuple[dict[int, float], dict]]] = defaultdict(list)
    for (model, shots, method, _, _), run in runs.items():
        final = final_row(run)
        if final is not None:
            groups[(model, shots, method)].append(({r["epoch"]: r["accuracy"] for r in run}, final))
    table = []
    for model in dict.fromkeys(k[0] for k in groups):
        for shots in sorted({k[1] for k in groups if k[0] == model}):
            for method in method_order(k[2] for k in groups if k[:2] == (model, shots)):
                table.append(_row(model, shots, method, groups[(model, shots, method)], tolerance_pp))
    return table


def _row(model: str, shots: int, method: str, found: list[tuple[dict[int, float], dict]],
         tolerance_pp: float) -> ConvergenceRow:
    trained = any(len(curve) > 1 or final["epoch"] > 0 for curve, final in found)
    at = tuple(float(np.mean([c[e] for c, _ in found])) if trained and all(e in c for c, _ in found) else None
               for e in AT_EPOCHS)
    epochs = [epochs_to_within(c, f["epoch"], f["accuracy"], tolerance_pp) for c, f in found] if trained else None
    seconds = [f.get("seconds") for _, f in found]
    has_seconds = all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in seconds)
    return ConvergenceRow(model, shots, method, len(found), at, float(np.mean([f["accuracy"] for _, f in found])),
                          None if epochs is None else float(np.mean(epochs)),
                          None if epochs is None else sorted(epochs)[len(epochs) // 2],
                          float(np.mean(seconds)) if has_seconds else None)
