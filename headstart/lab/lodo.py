"""Choose the default's recipe leave-one-dataset-out, and score it on the dataset it was not chosen on.

    python -m headstart.lab.lodo grid SUITE.json GRID.json --seeds 0-4 --out DIR      # recipes x datasets
    python -m headstart.lab.lodo choose SUITE.json DIR [DIR ...] --suite-out SUITE_DIR --seeds 0-4 \
        --check-seeds 5-9 [--held-out-out HELD_DIR]
    python -m headstart.lab.lodo table SUITE.json --suite-out SUITE_DIR         # the default vs the best fixed peer

`grid` runs the default method (`create_method("headstart", recipe=...)`) with every recipe of GRID
(a JSON list of `Recipe` field overrides, each with a "name") on every dataset of the suite file, on
the bench's own few-shot subsets and test sets, and appends one row per (recipe, dataset, shots,
seed) to DIR/grid.csv (final accuracy; resumable: done rows are skipped).

`choose` reads those rows and the fixed peers' rows of a suite run (SUITE_DIR/<dataset>/results.csv),
and for each dataset d picks the recipe that scores best on the *other* datasets (choosing seeds),
then reports that recipe on d (checking seeds): the held-out table. With `--held-out-out DIR` it also
writes DIR/<dataset>/results.csv, bench rows of the held-out table (the fixed peers' final rows and the
chosen recipe's rows as `headstart`, checking seeds, the grid's shots), so that the robustness rule
(../shared/tools/robust_check.py) checks the table that counts. The score of a recipe on a set
of datasets is the mean over datasets and shots of its margin over the best fixed peer of each
(dataset, shots) cell (the strongest peer there, by mean), minus `--loss-weight` (3) times the mean
loss beyond 1 pp below it, the robustness rule's tolerance. It also prints the recipes ranked on
all datasets (the first is the candidate default). For names only (issue 32: never more than 3 pp
behind text, lin, path or jcn) choose with `--tolerance 3 --peers text,lin,path,jcn --by-peer`
on a shots-0 suite (benchmarks/suites/thirteen-names-only.json, grid-names-only.json).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from headstart.data import load_dataset
from headstart.data.features import FeatureCache
from headstart.evidence import Evidence
from headstart.lab.peers import DEFAULT_METHOD, ROBUSTNESS_PEERS
from headstart.lab.suite import load_suite, slug
from headstart.methods import create_method, fit_head
from headstart.protocol import TRAIN_SEED_OFFSET, few_shot_indices, test_indices
from headstart.recipe import DEFAULT_RECIPE, Recipe
from headstart.sources import load_source
from headstart.train import accuracy

# The fixed peers of the robustness rule (../shared/tools/robust_check.py), compared one by one.
PEERS = ROBUSTNESS_PEERS
GRID_COLUMNS = ["recipe", "dataset", "shots", "seed", "accuracy"]


def seed_range(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def load_grid(path: str) -> dict[str, Recipe]:
    """name -> recipe, from a JSON list of {"name": ..., field: value, ...} overrides of the default."""
    out = {}
    for entry in json.loads(Path(path).read_text()):
        entry = dict(entry)
        name = entry.pop("name")
        out[name] = Recipe.from_dict({**DEFAULT_RECIPE.as_dict(), **entry})
    return out


def run_grid(suite: dict, recipes: dict[str, Recipe], seeds: list[int], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "grid.csv"
    done = set()
    if path.exists():
        done = {(r["recipe"], r["dataset"], int(r["shots"]), int(r["seed"])) for r in csv.DictReader(path.open())}
    new = not path.exists()
    source = load_source(suite["model"])
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=GRID_COLUMNS)
        if new:
            writer.writeheader()
        for entry in suite["datasets"]:
            name, data = slug(entry["dataset"]), load_dataset(entry["dataset"])
            resolution = suite["resolution"]
            test_idx = test_indices(data.test.labels, suite.get("test_size"))
            test_x = FeatureCache(source, data, "test", resolution).get(test_idx, progress=False)
            test_y = torch.from_numpy(data.test.labels[test_idx])
            cache = FeatureCache(source, data, "train", resolution)
            for shots in suite["shots"]:
                for seed in seeds:
                    todo = [r for r in recipes if (r, name, shots, seed) not in done]
                    if not todo or seed >= entry.get("seeds", suite["seeds"]):
                        continue
                    idx = few_shot_indices(data.train.labels, shots, seed)
                    # read (and checked) once for every recipe: no method changes its evidence's features
                    train_x, train_y = cache.get(idx, progress=False), torch.from_numpy(data.train.labels[idx])
                    for recipe_name in todo:
                        recipe = recipes[recipe_name]
                        evidence = Evidence(source, data.class_names, train_x, train_y, recipe=recipe)
                        method = create_method(DEFAULT_METHOD, recipe=recipe)
                        _, history, _ = fit_head(method, evidence, seed + TRAIN_SEED_OFFSET, suite["epochs"],
                                                 lambda w, b: accuracy(w, b, test_x, test_y), ())
                        writer.writerow({"recipe": recipe_name, "dataset": name, "shots": shots, "seed": seed,
                                         "accuracy": f"{history[-1][1]:.6f}"})
                    f.flush()
            print(f"{name} done", file=sys.stderr, flush=True)


def peer_finals(suite_out: Path, datasets: list[str]) -> dict:
    """(dataset, method, shots, seed) -> final accuracy of the fixed peers (and the committed default)."""
    out = {}
    for name in datasets:
        for r in csv.DictReader((suite_out / name / "results.csv").open()):
            if r["final"] == "1":
                out[(name, r["method"], int(r["shots"]), int(r["seed"]))] = float(r["accuracy"])
    return out


def cell_margins(acc: dict, peers: dict, dataset: str, shots: int, seeds: list[int], names=PEERS):
    """(mean margin over the best peer, mean margin over each peer of `names`) for one recipe's cell."""
    mine = [acc[(dataset, shots, s)] for s in seeds if (dataset, shots, s) in acc]
    if not mine:
        return None
    by_peer = {}
    for p in names:
        theirs = [peers.get((dataset, p, shots, s)) for s in seeds if (dataset, shots, s) in acc]
        if all(t is not None for t in theirs):
            by_peer[p] = 100 * (np.mean(mine) - np.mean(theirs))
    return min(by_peer.values()) if by_peer else None, by_peer


def score(acc: dict, peers: dict, datasets: list[str], shots: list[int], seeds: list[int], loss_weight: float,
          tolerance: float = 1.0, names=PEERS) -> float:
    margins, shortfalls = [], []
    for d in datasets:
        for s in shots:
            cell = cell_margins(acc, peers, d, s, seeds, names)
            if cell and cell[0] is not None:
                margins.append(cell[0])
                shortfalls.append(max(0.0, -cell[0] - tolerance))
    return float(np.mean(margins) - loss_weight * np.mean(shortfalls)) if margins else -1e9


def choose(args) -> None:
    suite = load_suite(args.suite)
    datasets = [slug(e["dataset"]) for e in suite["datasets"]]
    rows = [r for d in args.grid_dirs for r in csv.DictReader((Path(d) / "grid.csv").open())]
    by_recipe: dict[str, dict] = defaultdict(dict)
    for r in rows:
        by_recipe[r["recipe"]][(r["dataset"], int(r["shots"]), int(r["seed"]))] = float(r["accuracy"])
    peers = peer_finals(Path(args.suite_out), datasets)
    shots = sorted({int(r["shots"]) for r in rows} & set(suite["shots"]))
    choosing, checking = seed_range(args.seeds), seed_range(args.check_seeds)
    names = tuple(args.peers.split(",")) if args.peers else PEERS

    def judged(recipe, on):
        return score(by_recipe[recipe], peers, on, shots, choosing, args.loss_weight, args.tolerance, names)

    print("| held-out dataset | recipe chosen on the other eight | " +
          " | ".join(f"{s}-shot margin over the strongest peer (which)" for s in shots) + " |")
    print("|---|---|" + "---:|" * len(shots))
    held_out = defaultdict(list)  # shots -> the chosen recipe's accuracy on each held-out dataset
    for held in datasets:
        others = [d for d in datasets if d != held]
        best = max(by_recipe, key=lambda r: judged(r, others))
        cells = []
        for s in shots:
            cell = cell_margins(by_recipe[best], peers, held, s, checking, names)
            if cell is None or cell[0] is None:
                cells.append("–")
                continue
            strongest = min(cell[1], key=cell[1].get)
            held_out[s].append(100 * np.mean([by_recipe[best][(held, s, x)] for x in checking if (held, s, x) in
                                              by_recipe[best]]))
            cells.append(f"{cell[0]:+.1f} ({strongest})" + (
                f": {held_out[s][-1]:.1f} %, " + ", ".join(f"{p} {m:+.1f}" for p, m in cell[1].items())
                if args.by_peer else ""))
        print(f"| {held} | {best} | " + " | ".join(cells) + " |")
        if args.held_out_out:
            write_held_out(Path(args.suite_out) / held / "results.csv", by_recipe[best], best, held, shots, checking,
                           Path(args.held_out_out) / held / "results.csv")
    print("\nHeld-out mean accuracy: " + ", ".join(f"{s} shots {np.mean(v):.2f} % ({len(v)} datasets)"
                                                 for s, v in held_out.items()))
    ranked = sorted(by_recipe, key=lambda r: -judged(r, datasets))
    print("\nChosen on all datasets (choosing seeds), best first: " +
          ", ".join(f"{r} ({judged(r, datasets):+.2f})" for r in ranked[:8]))


def write_held_out(suite_results: Path, acc: dict, recipe: str, dataset: str, shots: list[int], seeds: list[int],
                   out: Path) -> None:
    """Bench rows of one held-out dataset: the suite's final rows of every method but the default, and
    the chosen recipe's grid rows in the default's place (config = the recipe's name), for `shots` x
    `seeds` only, where the recipe has a row."""
    with suite_results.open() as f:
        reader = csv.DictReader(f)
        columns, finals = reader.fieldnames, [r for r in reader if r["final"] == "1"]
    kept = [r for r in finals if int(r["shots"]) in shots and int(r["seed"]) in seeds and r["method"] != DEFAULT_METHOD
            and (dataset, int(r["shots"]), int(r["seed"])) in acc]
    chosen = {}
    for r in kept:  # the default's row takes its cell's columns (model, resolution, test size) from a peer's
        key = (int(r["shots"]), int(r["seed"]))
        chosen.setdefault(key, {**r, "method": DEFAULT_METHOD, "seconds": "",
                                "accuracy": f"{acc[(dataset, *key)]:.6f}", "config": recipe})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(kept + [chosen[k] for k in sorted(chosen)])


def paired(mine: list[float], theirs: list[float]) -> tuple[float, float]:
    """Mean paired difference (pp) and the half-width of its 95 % CI (Student t)."""
    from scipy import stats

    diff = 100 * (np.array(mine) - np.array(theirs))
    if len(diff) < 2:
        return float(diff.mean()), 0.0
    return float(diff.mean()), float(stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)))


def table(args) -> None:
    """The default against each dataset's best fixed peer (by mean), per shots, from a suite run: the
    README's table. Paired by seed; 0 shots against the names-only peers."""
    suite = load_suite(args.suite)
    datasets = [slug(e["dataset"]) for e in suite["datasets"]]
    finals = peer_finals(Path(args.suite_out), datasets)
    shots = suite["shots"]
    print("| dataset | | " + " | ".join(map(str, shots)) + " |")
    print("|---|---|" + "---:|" * len(shots))
    for d in datasets:
        rows = {DEFAULT_METHOD: [], "best fixed peer": [], "Δ (pp, 95 % CI)": []}
        for s in shots:
            seeds = sorted(k[3] for k in finals if k[:3] == (d, DEFAULT_METHOD, s))
            mine = [finals[(d, DEFAULT_METHOD, s, x)] for x in seeds]
            peers = {p: [finals[(d, p, s, x)] for x in seeds] for p in PEERS
                     if all((d, p, s, x) in finals for x in seeds)}
            best = max(peers, key=lambda p: np.mean(peers[p]))
            mean, half = paired(mine, peers[best])
            rows[DEFAULT_METHOD].append(f"{100 * np.mean(mine):.1f}")
            rows["best fixed peer"].append(f"{100 * np.mean(peers[best]):.1f} ({best})")
            rows["Δ (pp, 95 % CI)"].append(f"{mean:+.1f}" + (f" ± {half:.1f}" if half >= 0.05 else ""))
        for i, (label, cells) in enumerate(rows.items()):
            print(f"| {d if i == 0 else ''} | {label} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m headstart.lab.lodo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grid")
    g.add_argument("suite")
    g.add_argument("grid")
    g.add_argument("--seeds", default="0-4")
    g.add_argument("--out", required=True)
    c = sub.add_parser("choose")
    c.add_argument("suite")
    c.add_argument("grid_dirs", nargs="+")
    c.add_argument("--suite-out", required=True)
    c.add_argument("--seeds", default="0-4")
    c.add_argument("--check-seeds", default="5-9")
    c.add_argument("--loss-weight", type=float, default=3.0)
    c.add_argument("--tolerance", type=float, default=1.0, help="pp below a peer before a cell counts as a loss "
                   "(the rule's 1; 3 for names only)")
    c.add_argument("--peers", help="comma-separated peers to judge by (default: the robustness rule's fixed peers)")
    c.add_argument("--by-peer", action="store_true", help="each cell also gives the accuracy and every peer's margin")
    c.add_argument("--held-out-out", help="write the held-out table's bench rows here, for robust_check.py")
    t = sub.add_parser("table")
    t.add_argument("suite")
    t.add_argument("--suite-out", required=True)
    args = parser.parse_args()
    if args.command == "grid":
        torch.set_num_threads(1)
        run_grid(load_suite(args.suite), load_grid(args.grid), seed_range(args.seeds), Path(args.out))
    elif args.command == "choose":
        choose(args)
    else:
        table(args)


if __name__ == "__main__":
    main()
