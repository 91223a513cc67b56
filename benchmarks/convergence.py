"""The seed paper's "faster training" claim, measured from bench rows (issue 32 item 4): per shots and method,
over every (dataset, seed) run of the given bench folders, the mean accuracy before training and after 1, 5
and 10 epochs, the final one, how many epochs a run takes to come within 1 pp of its own final accuracy
(the first epoch the bench sampled, `--eval-epochs`, at which it is there) and the seconds of the whole fit
— the table `headstart report` and `headstart suite` write into summary.md and report.html
(`headstart.lab.report.convergence`; its legend says each column precisely). `rows` prints that table for
any set of bench folders; methods without training rows (closed-form heads, and the literature peers that
run their own loops) have their final row only, so `own-loops` follows LP++'s and CLAP's own 300 epochs on
the bench's subsets (seeds 0-4, shots 1, 2, 5, 10, the whole test split) and reports them alike (its
seconds: one fit timed alone, without the sampling, where the bench's include scoring each sampled epoch).

    python benchmarks/convergence.py rows docs/results/suite13-peers/*/
    python benchmarks/convergence.py own-loops ../shared/datasets/trashnet ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from headstart.lab.report import convergence, read_results
from headstart.lab.report.tables import markdown_table, speed_grid


def table(rows: list[dict]) -> str:
    """The report's convergence table of bench-like rows, as markdown."""
    return markdown_table(*speed_grid(convergence(rows)))


OWN_EPOCHS = (1, 2, 5, 10, 20, 50, 100, 200, 300)


def own_loop_rows(datasets: list[str]) -> list[dict]:
    """Bench-like rows of LP++'s and CLAP's own loops, sampled at OWN_EPOCHS."""
    import time

    import torch

    from headstart.data import load_dataset
    from headstart.protocol import few_shot_indices
    from headstart.data.features import FeatureCache
    from headstart.evidence import Evidence
    from headstart.methods import Scorer, execute
    from headstart.methods.literature import clap_fit, lp_plus_plus_fit
    from headstart.sources import load_source

    source, rows = load_source("efficientnet-lite0"), []
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
                            curve[epoch] = execute(plan, evidence.features, evidence.labels, scorer)[1][-1][1]

                    start = time.perf_counter()
                    fit(evidence)
                    seconds = time.perf_counter() - start  # the fit alone, without the sampling
                    fit(evidence, sample)
                    rows += [{"model": source.name, "dataset": dataset, "method": name, "shots": shots,
                              "seed": seed, "epoch": epoch, "accuracy": accuracy, "final": epoch == max(curve),
                              "seconds": seconds} for epoch, accuracy in curve.items()]
    return rows


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    print(table(read_results([Path(folder) / "results.csv" for folder in args]) if command == "rows"
                else own_loop_rows(args)))
