"""Does augmenting the few training images help? Paired against the same method without it.

    python benchmarks/augment.py DATASET [DATASET ...] --shots 1,2 --seeds 0-4 --views 4 \
        --methods headstart,imprint,logreg --csv augment.csv --out docs/results/augment.md

On the bench's own few-shot subsets (`few_shot_indices`, seed s) and test set (`test_indices`,
--test-size), each method is fitted as the bench fits it (`fit_head`, the bench's training seed,
--epochs) three ways on the same images:

- `plain`: the images' features (what `headstart bench` measures);
- `mean`: each image's feature averaged with its --views augmented views' (a flip, then seeded random
  resized crops, `headstart.data.augment`, seed s): what `HeadStart(augment=N)` and `fit --augment N` do;
- `extra`: the views as extra labelled samples (for comparison; not what headstart does, see the note).

Features come from the feature cache (the views' under their own key). Rows go to --csv (one per
dataset, shots, seed, method, variant; resumed: rows already there are not recomputed) and the
table of mean differences to --out, with leave-one-dataset-out: for each dataset, whether the
other datasets' mean difference says "augment" and whether that holds on the held-out one.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch

from headstart.data import load_dataset
from headstart.data.augment import augmented_data, view_rows, with_views
from headstart.data.features import FeatureCache
from headstart.evidence import Evidence
from headstart.lab.bench import machine_description
from headstart.lab.suite import slug
from headstart.methods import create_method, fit_head
from headstart.protocol import TRAIN_SEED_OFFSET, few_shot_indices, test_indices
from headstart.sources import load_source
from headstart.train import accuracy

COLUMNS = ["dataset", "shots", "seed", "method", "variant", "accuracy"]
VARIANTS = ("plain", "mean", "extra")


def seed_range(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def variants(x: torch.Tensor, y: torch.Tensor, views: torch.Tensor, n_views: int) -> dict:
    """variant -> (features, labels) of the same images."""
    return {"plain": (x, y), "mean": (with_views(x, views, n_views), y),
            "extra": (torch.cat([x, views]), torch.cat([y, y.repeat_interleave(n_views)]))}


def run(args, source, done: set, writer, f) -> None:
    methods = [create_method(name) for name in args.methods.split(",")]
    for dataset in args.datasets:
        name, data = slug(dataset), load_dataset(dataset)
        test_idx = test_indices(data.test.labels, args.test_size)
        test_x = FeatureCache(source, data, "test", args.resolution).get(test_idx, progress=False)
        test_y = torch.from_numpy(data.test.labels[test_idx])
        cache = FeatureCache(source, data, "train", args.resolution)
        start = time.perf_counter()
        for shots in args.shots:
            for seed in args.seeds:
                todo = [(m, v) for m in methods for v in VARIANTS if (name, shots, seed, m.name, v) not in done]
                if not todo:
                    continue
                idx = few_shot_indices(data.train.labels, shots, seed)
                x, y = cache.get(idx, progress=False), torch.from_numpy(data.train.labels[idx])
                view_cache = FeatureCache(source, augmented_data(data, seed), "train", args.resolution)
                views = view_cache.get(view_rows(idx, args.views).ravel(), progress=False)
                samples = variants(x, y, views, args.views)
                for method, variant in todo:
                    evidence = Evidence(source, data.class_names, *samples[variant])
                    _, history, _ = fit_head(method, evidence, seed + TRAIN_SEED_OFFSET, args.epochs,
                                             lambda w, b: accuracy(w, b, test_x, test_y), ())
                    writer.writerow({"dataset": name, "shots": shots, "seed": seed, "method": method.name,
                                     "variant": variant, "accuracy": f"{history[-1][1]:.6f}"})
                f.flush()
        print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def table(rows: list[dict], args) -> str:
    acc = {(r["dataset"], int(r["shots"]), int(r["seed"]), r["method"], r["variant"]): float(r["accuracy"])
           for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    shots = sorted({int(r["shots"]) for r in rows})

    def diffs(d, n, m, variant):
        seeds = [s for s in args.seeds if (d, n, s, m, variant) in acc and (d, n, s, m, "plain") in acc]
        return np.array([100 * (acc[(d, n, s, m, variant)] - acc[(d, n, s, m, "plain")]) for s in seeds])

    def plain(d, n, m):
        return 100 * np.mean([acc[(d, n, s, m, "plain")] for s in args.seeds if (d, n, s, m, "plain") in acc])

    lines = ["| dataset | shots | method | plain % | mean of views: Δ pp (± s.e., wins/seeds) | "
             "views as extra samples: Δ pp (± s.e.) |", "|---|---:|---|---:|---:|---:|"]
    for d in datasets:
        for n in shots:
            for m in methods:
                if not len(diffs(d, n, m, "mean")):
                    continue
                cells = []
                for variant in ("mean", "extra"):
                    delta = diffs(d, n, m, variant)
                    se = delta.std(ddof=1) / np.sqrt(len(delta)) if len(delta) > 1 else float("nan")
                    cells.append(f"{delta.mean():+.1f} (± {se:.1f}, {int((delta > 0).sum())}/{len(delta)})")
                lines.append(f"| {d} | {n} | {m} | {plain(d, n, m):.1f} | {cells[0]} | {cells[1]} |")
    lines += ["", "Mean over datasets (Δ pp against plain, the same images) and leave-one-dataset-out: "
              "for each held-out dataset, the sign of the other datasets' mean Δ decides (augment if > 0), "
              "and the row says on how many held-out datasets that decision did not lose (Δ >= 0 there).", "",
              "| shots | method | variant | mean Δ pp | datasets with Δ > 0 | LODO decision held |",
              "|---:|---|---|---:|---:|---:|"]
    for n in shots:
        for m in methods:
            for variant in ("mean", "extra"):
                per = {d: diffs(d, n, m, variant).mean() for d in datasets if len(diffs(d, n, m, variant))}
                if not per:
                    continue
                held = 0
                for d in per:
                    others = np.mean([per[o] for o in per if o != d]) if len(per) > 1 else per[d]
                    held += (per[d] >= 0) if others > 0 else (per[d] <= 0)
                lines.append(f"| {n} | {m} | {variant} | {np.mean(list(per.values())):+.2f} | "
                             f"{sum(v > 0 for v in per.values())}/{len(per)} | {held}/{len(per)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--shots", type=lambda t: [int(v) for v in t.split(",")], default=[1, 2])
    parser.add_argument("--seeds", type=seed_range, default=seed_range("0-4"))
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--methods", default="headstart,imprint,logreg")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--csv", type=Path, default=Path("augment.csv"))
    parser.add_argument("--out", type=Path, default=None, help="write the table (markdown) here")
    args = parser.parse_args()
    source = load_source(args.model)
    done = {(r["dataset"], int(r["shots"]), int(r["seed"]), r["method"], r["variant"]) for r in read_rows(args.csv)}
    new = not args.csv.exists()
    with args.csv.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        run(args, source, done, writer, f)
    text = table(read_rows(args.csv), args)
    print(text)
    if args.out:
        command = "python benchmarks/augment.py " + " ".join(sys.argv[1:])
        args.out.write_text(f"# Augmenting the few training images (issue 31 item 4)\n\n`{command}`\n\n"
                            f"Machine: {machine_description()}\n\n{text}")


if __name__ == "__main__":
    main()
