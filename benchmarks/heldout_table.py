"""The held-out table of issue 32: each dataset's default rows under the names head chosen leave-one-dataset-out
(without that dataset), beside the suite's other methods' final rows, so that `robust_check.py` checks the
table that counts.

    python benchmarks/heldout_table.py docs/results/suite13-peers docs/results/suite13-grids/agreement.csv \
        docs/results/suite13-heldout
    python ../shared/tools/robust_check.py '{...}' docs/results/suite13-heldout/*/

The datasets whose fold chose `shots_names` "agreement" are those in the grid's rows (`python -m
headstart.lab.lodo grid benchmarks/suites/heldout-agreement.json benchmarks/suites/grid-heldout-agreement.json
--seeds 0-4 --out DIR`); every other fold chose "both", the default's, whose rows are the suite's own.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from headstart.lab.lodo import write_held_out


def final_rows(results: Path, dataset: str, method: str = "headstart") -> dict:
    """(dataset, shots, seed) -> accuracy of `method`'s final rows in a bench's results.csv."""
    return {(dataset, int(r["shots"]), int(r["seed"])): float(r["accuracy"])
            for r in csv.DictReader(results.open()) if r["final"] == "1" and r["method"] == method}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite_out", type=Path, help="the suite's folder (one bench folder per dataset)")
    parser.add_argument("grid_rows", type=Path, help="lodo grid's rows of the agreement folds")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    grid = {(r["dataset"], int(r["shots"]), int(r["seed"])): float(r["accuracy"])
            for r in csv.DictReader(args.grid_rows.open())}
    for folder in sorted(p for p in args.suite_out.iterdir() if (p / "results.csv").exists()):
        results = folder / "results.csv"
        agreement = any(dataset == folder.name for dataset, _, _ in grid)
        acc = grid if agreement else final_rows(results, folder.name)  # "both": the suite's own rows
        chosen = f"shots_names={'agreement' if agreement else 'both'}"
        shots, seeds = sorted({s for _, s, _ in acc}), sorted({x for _, _, x in acc})
        write_held_out(results, acc, chosen, folder.name, shots, seeds, args.out / folder.name / "results.csv")
        print(f"{folder.name}: {chosen}")


if __name__ == "__main__":
    main()
