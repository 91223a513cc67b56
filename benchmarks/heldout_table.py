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


def heldout_rows(suite_rows: list[dict], grid: dict, dataset: str) -> list[dict]:
    """The suite folder's final rows, the default's replaced by the grid's where its fold chose it."""
    rows = []
    for row in (r for r in suite_rows if r["final"] == "1"):
        if row["method"] == "headstart":
            chosen = "agreement" if dataset in {d for d, _, _ in grid} else "both"
            row = {**row, "config": f"shots_names={chosen}"}
            if chosen == "agreement":
                row["accuracy"] = grid[(dataset, row["shots"], row["seed"])]
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite_out", type=Path, help="the suite's folder (one bench folder per dataset)")
    parser.add_argument("grid_rows", type=Path, help="lodo grid's rows of the agreement folds")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    grid = {(r["dataset"], r["shots"], r["seed"]): r["accuracy"] for r in csv.DictReader(args.grid_rows.open())}
    for folder in sorted(p for p in args.suite_out.iterdir() if (p / "results.csv").exists()):
        suite_rows = list(csv.DictReader((folder / "results.csv").open()))
        rows = heldout_rows(suite_rows, grid, folder.name)
        (args.out / folder.name).mkdir(parents=True, exist_ok=True)
        with (args.out / folder.name / "results.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(suite_rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"{folder.name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
