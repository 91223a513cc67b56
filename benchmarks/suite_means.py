"""Mean final accuracy (%) over datasets of each method at each shot count, from bench folders (each
dataset's mean over its seeds first, then the mean over the datasets that have the method at that shot
count; the last column says how many).

    python benchmarks/suite_means.py docs/results/suite13-peers/*/
"""

from __future__ import annotations

import sys

import numpy as np

from headstart.lab.report import final_accuracies, read_results


def main(folders: list[str]) -> None:
    per_dataset: dict[tuple[str, int], list[float]] = {}
    for folder in folders:
        for (_, _, method, shots), seeds in final_accuracies(read_results(f"{folder.rstrip('/')}/results.csv")).items():
            per_dataset.setdefault((method, shots), []).append(100 * np.mean(list(seeds.values())))
    methods = list(dict.fromkeys(m for m, _ in per_dataset))
    shots = sorted({s for _, s in per_dataset})
    print("| method | " + " | ".join(f"{s} shots" for s in shots) + " | datasets |")
    print("|---|" + "---:|" * (len(shots) + 1))
    for m in methods:
        cells = [f"{np.mean(per_dataset[(m, s)]):.1f}" if (m, s) in per_dataset else "" for s in shots]
        print(f"| {m} | " + " | ".join(cells) + f" | {max(len(v) for (q, _), v in per_dataset.items() if q == m)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
