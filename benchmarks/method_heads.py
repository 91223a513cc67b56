"""Every registered method's head on fixed few-shot tasks, saved, and two such files compared: the proof
that a change meant to keep behaviour (issue 30: `methods.py` into a package) changed no head.

    python benchmarks/decision_cost.py dump --folder ../shared/datasets/trashnet --shots 0,1,5 --seeds 2 --out tasks.pt
    PYTHONPATH=OLD python benchmarks/method_heads.py fit tasks.pt old.pt
    PYTHONPATH=NEW python benchmarks/method_heads.py fit tasks.pt new.pt
    python benchmarks/method_heads.py compare old.pt new.pt

`fit` runs each method the way the bench does (`fit_head`, the bench's training seed, 100 epochs) on
every task of `decision_cost.py dump`; `compare` prints each method present in both files and whether
every one of its heads is bit-equal (torch.equal), and exits 1 when one is not.
"""

from __future__ import annotations

import argparse
import sys

import torch

TRAIN_SEED_OFFSET = 1_000_003  # headstart.protocol's; repeated so versions before it run this too


def fit(args) -> None:
    from headstart.methods import METHODS, fit_head, get_method
    try:  # a version whose bench peers' heads read mapped features scores them with a Scorer
        from headstart.methods import Scorer
    except ImportError:
        Scorer = None
    try:  # its home since issue 30's split of similarity/; before, the similarity package
        from headstart.evidence import Evidence
    except ImportError:
        from headstart.similarity import Evidence
    from headstart.sources import load_source

    saved, source = torch.load(args.tasks), load_source("efficientnet-lite0")
    heads = {}
    for name in METHODS:
        method = get_method(name)
        for task in saved["tasks"]:
            if method.needs_shots and task["shots"] == 0:
                continue
            evidence = Evidence(source, saved["class_names"], task["features"], task["labels"])
            scorer = Scorer(evidence.features, evidence.labels) if Scorer else None  # scores; changes no head
            head, _, plan = fit_head(method, evidence, task["seed"] + TRAIN_SEED_OFFSET, evaluate=scorer)
            heads[(name, task["shots"], task["seed"])] = (head, plan.record)
    torch.save(heads, args.out)
    print(f"{len(heads)} heads of {len(METHODS)} methods -> {args.out}")


def compare(args) -> None:
    old, new = torch.load(args.old), torch.load(args.new)
    methods = dict.fromkeys(key[0] for key in old if key in new)
    unequal = []
    for name in methods:
        keys = [k for k in old if k[0] == name and k in new]
        same = all(torch.equal(old[k][0][0], new[k][0][0]) and torch.equal(old[k][0][1], new[k][0][1])
                   and old[k][1] == new[k][1] for k in keys)
        print(f"{name:12s} {len(keys):3d} heads {'bit-equal' if same else 'DIFFERENT'}")
        if not same:
            unequal.append(name)
    only = sorted({k[0] for k in new} - set(methods))
    if only:
        print(f"only in {args.new}: {', '.join(only)}")
    sys.exit(1 if unequal or not methods else 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("fit")
    p.add_argument("tasks")
    p.add_argument("out")
    p = commands.add_parser("compare")
    p.add_argument("old")
    p.add_argument("new")
    args = parser.parse_args()
    {"fit": fit, "compare": compare}[args.command](args)
