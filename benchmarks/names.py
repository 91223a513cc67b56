"""Sense accuracy on the labelled sense benchmark, and the mixed head against one family.

    python benchmarks/names.py [--old-tree ../old] [--previous-tree ../prev] [--seeds 5] > docs/results/names.md

Part 1 — tests/data/senses.csv: each row a class name in a task ("group": the other names of the
task are its siblings), its acceptable synsets (``text`` where no synset is right: one person's
name), and whether the group has images (caltech50, Fashion-MNIST, CIFAR-10: one training image
per class, drawn with few_shot_indices per seed, Lite0 features at 224 px). Accuracy for names
only and for names + 1 shot, overall and on the tune / test halves (split by a hash of the name,
fixed in the file). ``--old-tree`` runs the resolver of a checkout from before issue 12 (e.g. a
``git worktree add ../old f4d7e19``) name by name in a subprocess: it refused a list with one
unknown name, so each name is asked alone (its rule looked at no sibling); a refused name counts
as ``text``, which is what ``init``/``fit`` then did for the whole list. ``--previous-tree`` runs
this script's own answers (names only and every 1-shot draw) against another checkout's
``headstart`` (one with the image vote), and lists every class of the image groups — the suite's
datasets — that now resolves differently. Part 2 sweeps the two tuned weights
(the recipe's closeness_weight and gloss_weight, each passed in as a ``Recipe``) on both halves, with the classes of the
image groups that resolve otherwise than without the text term (names only or in any 1-shot draw).

Part 3 — zero-shot accuracy of the transferred head (Lin, top-3 source rows, no recentring) on
test images at 112 px (at most 200 per class), when every class uses WordNet, every class uses text, or a random half
uses calibrated text (5 draws; also uncalibrated), on names that all resolve.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import headstart
from headstart import transfer
from headstart.data import load_dataset
from headstart.data.features import FeatureCache
from headstart.evidence import Evidence
from headstart.protocol import few_shot_indices
from headstart.recipe import DEFAULT_RECIPE, Recipe
from headstart.senses import class_senses, source_texts
from headstart.senses.mixed import mixed_rows
from headstart.senses.naming import find_senses
from headstart.text.embeddings import text_array
from headstart.train import accuracy
from headstart.wordnet.measures import wordnet_matrix

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "senses.csv"
DATASETS = {"caltech50": str(ROOT.parent / "shared" / "datasets" / "caltech50"),
            "cifar10-small": str(ROOT.parent / "shared" / "datasets" / "cifar10-small"),
            "fashion-mnist": "fashion-mnist"}
OLD_SCRIPT = """
import json, sys
from headstart.errors import UserError
from headstart.similarity.resolve import resolve_classes
names, ids = json.load(sys.stdin)
out = []
for name in names:
    try:
        out.append(resolve_classes([name], ids)[0].synset_name)
    except UserError:
        out.append("text")
print(json.dumps(out))
"""


def load_rows() -> dict[str, list[dict]]:
    groups = defaultdict(list)
    with open(DATA, newline="") as f:
        for row in csv.DictReader(f):
            row["acceptable"] = row["acceptable"].split()
            groups[row["group"]].append(row)
    return groups


def answer(sense) -> str:
    return "text" if sense.source == "text" else sense.synset_name


def old_answers(tree: str, names: list[str], ids: list[str]) -> list[str]:
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, "-c", OLD_SCRIPT], input=json.dumps([names, ids]), text=True,
                         capture_output=True, env=env, cwd=tree, check=True)
    return json.loads(out.stdout)


def previous_answers(tree: str, seeds: int) -> dict:
    """``group_answers`` computed by this script against the ``headstart`` of another checkout."""
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, __file__, "--answers", "--seeds", str(seeds)], text=True,
                         capture_output=True, env=env, cwd=tree, check=True)
    return json.loads(out.stdout)


def group_answers(source, groups: dict[str, list[dict]], seeds: int, recipe: Recipe = DEFAULT_RECIPE) -> dict:
    """{"names": group -> answers from the names, "shots": group -> [answers of each 1-shot draw]
    (groups with images), senses weighted by ``recipe``."""
    return {"names": {g: [answer(r) for r in find_senses([x["name"] for x in rows], source.labels, recipe=recipe)]
                      for g, rows in groups.items()},
            "shots": {g: [one_shot_answers(source, rows, seed, recipe) for seed in range(seeds)]
                      for g, rows in groups.items() if rows[0]["images"]}}


def hits(groups, answers: dict, shots: bool) -> list[bool]:
    """Right or not, per row in file order: names only, or right in most 1-shot draws."""
    out = []
    for g, rows in groups.items():
        if shots and g in answers["shots"]:
            out += list(np.mean([score(rows, a) for a in answers["shots"][g]], axis=0) >= 0.5)
        else:
            out += score(rows, answers["names"][g])
    return out


def changed(groups, before: dict, after: dict) -> list[str]:
    """Classes of the image groups whose answer differs: ``name: old -> new`` (names only) or
    ``name (draw k): old -> new``."""
    out = []
    for g in before["shots"]:
        for i, r in enumerate(groups[g]):
            pairs = [("", before["names"][g][i], after["names"][g][i])]
            pairs += [(f" (draw {k})", b[i], a[i])
                      for k, (b, a) in enumerate(zip(before["shots"][g], after["shots"][g]))]
            out += [f"{g} / `{r['name']}`{where}: {old} -> {new}" for where, old, new in pairs if old != new]
    return out


def one_shot_answers(source, rows: list[dict], seed: int, recipe: Recipe = DEFAULT_RECIPE) -> list[str]:
    data = load_dataset(DATASETS[rows[0]["images"]])
    idx = few_shot_indices(data.train.labels, 1, seed)
    features = FeatureCache(source, data, "train", 224).get(idx, progress=False)
    labels = torch.from_numpy(data.train.labels[idx])
    got = dict(zip(data.class_names, class_senses(Evidence(source, data.class_names, features, labels, recipe=recipe))))
    return [answer(got[r["name"]]) for r in rows]


def score(rows: list[dict], answers: list[str]) -> list[bool]:
    return [a in r["acceptable"] for r, a in zip(rows, answers)]


def pct(hits: list[bool]) -> str:
    return f"{100 * np.mean(hits):.1f} % ({sum(hits)}/{len(hits)})" if hits else "—"


def accuracy_table(groups, results: dict[str, dict[str, list[bool]]]) -> list[str]:
    lines = ["| group | names | images | " + " | ".join(results) + " |",
             "|---|---:|---|" + "---:|" * len(results)]
    every = [r for g in groups.values() for r in g]
    sections = [(g, rows) for g, rows in groups.items()] + [("**all**", every)]
    for split in ("tune", "test"):
        sections.append((f"**{split} half**", [r for r in every if r["split"] == split]))
    for label, rows in sections:
        keys = {id(r) for r in rows}
        cells = []
        for hits in results.values():
            chosen = [h for r, h in zip(every, hits) if id(r) in keys]
            cells.append(pct(chosen))
        images = rows[0]["images"] or "—" if label in groups else ""
        lines.append(f"| {label} | {len(rows)} | {images} | " + " | ".join(cells) + " |")
    return lines


def zero_shot(source, dataset: str, resolution: int = 112, draws: int = 5) -> list[str]:
    data = load_dataset(DATASETS[dataset])
    idx = few_shot_indices(data.test.labels, 200, 0)  # at most 200 test images per class
    test_x = FeatureCache(source, data, "test", resolution).get(idx, progress=False)
    test_y = torch.from_numpy(data.test.labels[idx])
    senses = find_senses(data.class_names, source.labels)
    keep = [i for i, r in enumerate(senses) if r.source == "wordnet"]
    mask = torch.isin(test_y, torch.tensor(keep))
    remap = torch.full((len(senses),), -1, dtype=torch.long)
    remap[keep] = torch.arange(len(keep))
    x, y = test_x[mask], remap[test_y[mask]]
    wordnet = wordnet_matrix([senses[i].synset_id for i in keep], source.labels, "lin")
    text = torch.from_numpy(text_array([senses[i].text for i in keep], source_texts(source)))
    w_src, b_src = source.head_weights()

    def acc(sim):
        return 100 * accuracy(*transfer.combine(w_src, b_src, transfer.top_k_weights(sim, 3)), x, y)

    rng = np.random.default_rng(0)
    mixed, raw = [], []
    for _ in range(draws):
        is_text = np.zeros(len(keep), bool)
        is_text[rng.permutation(len(keep))[: len(keep) // 2]] = True
        mixed.append(acc(torch.from_numpy(mixed_rows(wordnet[~is_text].numpy(), text[is_text].numpy(),
                                                     is_text.tolist()))))
        uncalibrated = wordnet.clone()
        uncalibrated[torch.from_numpy(is_text)] = text[torch.from_numpy(is_text)]
        raw.append(acc(uncalibrated))
    return [f"| {dataset} | {len(keep)} | {len(y)} | {acc(wordnet):.1f} | {acc(text):.1f} | "
            f"{np.mean(mixed):.1f} ± {np.std(mixed):.1f} | {np.mean(raw):.1f} ± {np.std(raw):.1f} |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-tree", default=None, help="checkout from before issue 12 (names only, name by name)")
    parser.add_argument("--previous-tree", default=None, help="checkout to compare against, names and 1 shot")
    parser.add_argument("--seeds", type=int, default=5, help="1-shot draws per group with images")
    parser.add_argument("--closeness", default="1,2,3,4", help="Recipe.closeness_weight values to sweep")
    parser.add_argument("--gloss", default="0,4,8,12,16,20", help="Recipe.gloss_weight values to sweep")
    parser.add_argument("--answers", action="store_true", help="print group_answers as JSON and stop")
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    source = headstart.load_source("efficientnet-lite0")
    groups = load_rows()
    every = [r for g in groups.values() for r in g]
    if args.answers:
        print(json.dumps(group_answers(source, groups, args.seeds)))
        return

    results: dict[str, list[bool]] = {}
    if args.old_tree:
        results["before issue 12, names only (= + 1 shot)"] = [
            h for rows in groups.values()
            for h in score(rows, old_answers(args.old_tree, [r["name"] for r in rows], source.labels))]
    previous = previous_answers(args.previous_tree, args.seeds) if args.previous_tree else None
    if previous:
        results["previous, names only"] = hits(groups, previous, shots=False)
        results["previous, names + 1 shot"] = hits(groups, previous, shots=True)
    now = group_answers(source, groups, args.seeds)
    results["now, names only"] = hits(groups, now, shots=False)
    results[f"now, names + 1 shot (majority of {args.seeds} draws)"] = hits(groups, now, shots=True)

    print("# Names' senses: labelled sense benchmark\n")
    print(f"Command: `python {' '.join(sys.argv)}`  ")
    print(f"Machine: `nproc` = {os.cpu_count()}, Python {platform.python_version()}, torch {torch.__version__}\n")
    print(f"Data: `tests/data/senses.csv`, {len(every)} names in {len(groups)} tasks "
          f"({sum(1 for r in every if r['images'])} with images).\n")
    print("\n".join(accuracy_table(groups, results)))
    if previous:
        print(f"\n## Classes of the image groups that resolve differently from {args.previous_tree}\n")
        print("\n".join(f"- {line}" for line in changed(groups, previous, now)) or "None, names only or in any draw.")

    print("\n## The image groups, class by class (now; \"same\": every 1-shot draw as names only)\n")
    print("| group | class | names only | 1 shot, each draw |\n|---|---|---|---|")
    for g, draws in now["shots"].items():
        for i, r in enumerate(groups[g]):
            shots = [d[i] for d in draws]
            same = all(a == now["names"][g][i] for a in shots)
            print(f"| {g} | `{r['name']}` | {now['names'][g][i]} | {'same' if same else ', '.join(shots)} |")

    print("\n## Misses (now, names only)\n")
    for g, rows in groups.items():
        for r, a in zip(rows, now["names"][g]):
            if a not in r["acceptable"]:
                print(f"- {g} / `{r['name']}`: got `{a}`, acceptable `{' '.join(r['acceptable'])}`")

    print("\n## The tuned weights (names only; image-group classes changed, names only or 1 shot)\n")
    print("Changed: against closeness_weight 4, gloss_weight 0 (no text term).\n")
    print("| closeness_weight | gloss_weight | tune half | test half | food | changed |\n"
          "|---:|---:|---:|---:|---:|---|")
    defaults = DEFAULT_RECIPE.closeness_weight, DEFAULT_RECIPE.gloss_weight
    reference = group_answers(source, groups, args.seeds,
                              replace(DEFAULT_RECIPE, closeness_weight=4.0, gloss_weight=0.0))
    for closeness in [float(w) for w in args.closeness.split(",")]:
        for gloss in [float(w) for w in args.gloss.split(",")]:
            recipe = replace(DEFAULT_RECIPE, closeness_weight=closeness, gloss_weight=gloss)
            swept = group_answers(source, groups, args.seeds, recipe)
            right = hits(groups, swept, shots=False)
            tune = [h for r, h in zip(every, right) if r["split"] == "tune"]
            test = [h for r, h in zip(every, right) if r["split"] == "test"]
            food = [h for r, h in zip(every, right) if r["group"] == "food"]
            lost = "; ".join(line.split(" / ", 1)[1] for line in changed(groups, reference, swept)) or "—"
            mark = " (default)" if (closeness, gloss) == defaults else ""
            print(f"| {closeness:g} | {gloss:g}{mark} | {pct(tune)} | {pct(test)} | {pct(food)} | {lost} |")

    print("\n## One head, rows from two families (zero-shot top-1 %, Lin top-3, 112 px, names that resolve)\n")
    print("| dataset | classes | test images | all WordNet | all text | half text, calibrated (5 draws) "
          "| half text, uncalibrated |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for dataset in ("fashion-mnist", "cifar10-small", "caltech50"):
        print("\n".join(zero_shot(source, dataset)))


if __name__ == "__main__":
    main()
