"""The seed paper's "faster training" claim, measured from bench rows (issue 32 item 4): for each method,
over every (dataset, shots >= 1, seed) run of the given bench folders, the mean accuracy before training
and after 1, 5 and 10 epochs, the final one, and how many epochs (and seconds) a run takes to come
within 1 pp of its own final accuracy — the first epoch the bench sampled (`--eval-epochs`) at which it
is there — beside the seconds of the whole fit (the plan's build and every epoch: the bench times no
single epoch). Methods without training rows (closed-form heads, and the literature peers that run their own
loops) have their final row only; `own-loops` follows LP++'s and CLAP's own 300 epochs on the bench's
subsets (seeds 0-4, shots 1, 2, 5, 10, the whole test split) and reports them alike.

    python benchmarks/convergence.py rows docs/results/suite13-peers/*/
    python benchmarks/convergence.py own-loops ../shared/datasets/trashnet ...
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
        at = [f"{np.mean([r['curve'][e] for r in found]):.1f}" if trained and all(e in r["curve"] for r in found)
              else "" for e in (0, 1, 5, 10)]
        if trained:
            epochs = [within(r["curve"]) for r in found]
            speed = (f"{np.percentile(epochs, 50, method='higher'):.0f} / "
                     f"{np.percentile(epochs, 90, method='higher'):.0f} | {seconds:.2f}")
        else:
            speed = f"(no training rows) | {seconds:.2f}"
        lines.append(f"| {method} | {len(found)} | {' | '.join(at)} | {final:.1f} | {speed} |")
    return "\n".join(lines)


OWN_EPOCHS = (1, 2, 5, 10, 20, 50, 100, 200, 300)


def own_loop_runs(datasets: list[str]) -> dict[str, list[dict]]:
    import time

    import torch

    from headstart.data import load_dataset
    from headstart.protocol import few_shot_indices
    from headstart.data.features import FeatureCache
    from headstart.evidence import Evidence
    from headstart.methods import Scorer, execute
    from headstart.methods.literature import clap_fit, lp_plus_plus_fit
    from headstart.sources import load_source

    source, by_method = load_source("efficientnet-lite0"), defaultdict(list)
    for dataset in datasets:
        data = load_dataset(dataset)
        scorer = Scorer(FeatureCache(source, data, "test", 224).get(np.arange(len(data.test)), progress=False),
                        torch.from_numpy(data.test.labels))
        train = FeatureCache(source, data, "train", 224)
        for shots in (1, 2, 5, 10):
            for seed in range(5):
                idx = few_shot_indices(data.train.labels, shots, seed)
                evidence = Evidence(source, data.class_names, train.get(idx, progress=False),
                                    torch.from_numpy(data.train.labels[idx]))
                for name, fit in (("lp-plus-plus", lp_plus_plus_fit), ("clap", clap_fit)):
                    curve = {}

                    def sample(epoch, plan, curve=curve, evidence=evidence, scorer=scorer):
                        if epoch in OWN_EPOCHS:
                            curve[epoch] = 100 * execute(plan, evidence.features, evidence.labels, scorer)[1][-1][1]

                    start = time.perf_counter()
                    fit(evidence)
                    seconds = time.perf_counter() - start  # the fit alone, without the sampling
                    fit(evidence, sample)
                    by_method[name].append({"curve": curve, "seconds": seconds})
    return by_method


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    print(table(runs(args) if command == "rows" else own_loop_runs(args)))
