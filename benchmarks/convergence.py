"""The seed paper's "faster training" claim, measured from bench rows (issue 32 item 4): for each method,
over every (dataset, shots >= 1, seed) run of the given bench folders, the mean accuracy before training
and after 1, 5 and 10 epochs, the final one, and how many epochs (and seconds) a run takes to come
within 1 pp of its own final accuracy — the first epoch the bench sampled (`--eval-epochs`) at which it
is there — beside the seconds of the whole fit (the plan's build and every epoch: the bench times no
single epoch). Methods without training rows (closed-form heads, and the literature peers that run their own
loops) have their final row only.

    python benchmarks/convergence.py docs/results/suite13-peers/*/
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def runs(folders: list[str]) -> dict[str, list[dict]]:
    """method -> [{"curve": {epoch: accuracy %}, "seconds": s}] for every run with shots >= 1."""
    found: dict[tuple, dict] = defaultdict(lambda: {"curve": {}, "seconds": 0.0})
    for folder in folders:
        for r in csv.DictReader((Path(folder) / "results.csv").open(encoding="utf-8")):
            if int(r["shots"]) >= 1:
                run = found[(r["method"], folder, r["shots"], r["seed"])]
                run["curve"][int(r["epoch"])] = 100 * float(r["accuracy"])
                run["seconds"] = float(r["seconds"])
    by_method = defaultdict(list)
    for key, run in found.items():
        by_method[key[0]].append(run)
    return by_method


def within(curve: dict[int, float], tolerance: float = 1.0) -> int:
    """The first sampled epoch whose accuracy is within `tolerance` pp of the last epoch's."""
    final = curve[max(curve)]
    return min(e for e, a in curve.items() if a >= final - tolerance)


def table(by_method: dict[str, list[dict]]) -> str:
    lines = ["| method | runs | epoch 0 | epoch 1 | epoch 5 | epoch 10 | final | epochs to within 1 pp of final "
             "(median / 90th pct) | seconds per fit |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for method, found in by_method.items():
        final = np.mean([r["curve"][max(r["curve"])] for r in found])
        seconds = np.mean([r["seconds"] for r in found])
        trained = all(len(r["curve"]) > 1 for r in found)
        at = [f"{np.mean([r['curve'][e] for r in found]):.1f}" if trained else "" for e in (0, 1, 5, 10)]
        if trained:
            epochs = [within(r["curve"]) for r in found]
            speed = (f"{np.percentile(epochs, 50, method='higher'):.0f} / "
                     f"{np.percentile(epochs, 90, method='higher'):.0f} | {seconds:.2f}")
        else:
            speed = f"(no training rows) | {seconds:.2f}"
        lines.append(f"| {method} | {len(found)} | {' | '.join(at)} | {final:.1f} | {speed} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(runs(sys.argv[1:])))
