"""What the default's decision costs: seconds to build its plan (names, similarities, the trust
decision) and train its head, per few-shot task, on fixed features — runnable against any headstart
version that has `create_method`, `execute` and `Evidence`, so two versions can be compared on the
same tensors.

    python benchmarks/decision_cost.py dump --folder ../shared/datasets/caltech50 --out tasks.pt
    python benchmarks/decision_cost.py time tasks.pt          # with the headstart on PYTHONPATH
    python benchmarks/decision_cost.py time tasks.pt --recipe '{"cosine_epochs": 100}'   # a variant of the default
    python benchmarks/decision_cost.py cold tasks.pt --shots 1    # one cold fit in this fresh process
    python benchmarks/decision_cost.py heads tasks.pt --out heads.pt   # each task's heads, for `compare`
    python benchmarks/decision_cost.py compare a.pt b.pt --tasks tasks.pt --folder ../shared/datasets/caltech50

`dump` writes each (shots, seed) task's training features and labels and the class names (the bench's
few-shot subsets, 224 px); `time` builds and trains the default on each task three times and prints
the median seconds per shots (senses warm: the first build of a name list is not timed); `cold` times
a user's single fit: the first build and training of one task (seed 0) in the process, after its senses
were looked up and torch.optim's one-time imports were made (disk caches warm). `heads` saves the
default's start, CLAP partner and final head per task (and the names-only head); `compare` prints how far
two such files differ, and whether the heads' classes agree on the tasks' features and the folder's test
images.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def dump(args) -> None:
    from headstart.data import load_dataset
    from headstart.protocol import few_shot_indices
    from headstart.data.features import FeatureCache
    from headstart.sources import load_source

    source, data = load_source("efficientnet-lite0"), load_dataset(args.folder)
    cache = FeatureCache(source, data, "train", 224)
    tasks = []
    for shots in (int(s) for s in args.shots.split(",")):
        for seed in range(args.seeds):
            idx = few_shot_indices(data.train.labels, shots, seed)
            tasks.append({"shots": shots, "seed": seed, "features": cache.get(idx, progress=False),
                          "labels": torch.from_numpy(data.train.labels[idx])})
    torch.save({"class_names": data.class_names, "tasks": tasks}, args.out)


def _harness():
    """(Evidence, class_senses, execute, the default method, the source, the version line) of the headstart
    on the path: the homes of Evidence and class_senses since issue 30's split, else the similarity package."""
    import headstart
    from headstart.methods import execute, get_method
    try:
        from headstart.evidence import Evidence
        from headstart.senses import class_senses
    except ImportError:
        from headstart.similarity import Evidence, class_senses
    from headstart.sources import load_source

    torch.set_num_threads(1)
    return (Evidence, class_senses, execute, get_method("headstart"), load_source("efficientnet-lite0"),
            f"headstart {headstart.__version__} from {headstart.__file__}")


def time_default(args) -> None:
    Evidence, _, execute, method, source, version = _harness()
    saved = torch.load(args.tasks)
    if args.recipe:  # overrides of the default's recipe (versions that have one)
        import json

        from headstart.methods import create_method
        from headstart.recipe import DEFAULT_RECIPE, Recipe

        method = create_method("headstart", recipe=Recipe.from_dict({**DEFAULT_RECIPE.as_dict(),
                                                                     **json.loads(args.recipe)}))
    seconds: dict[int, list[float]] = {}
    for task in saved["tasks"]:
        evidence = Evidence(source, saved["class_names"], task["features"], task["labels"])
        method.build(evidence, 0)  # warm: the names' senses and similarity rows are cached per name list
        for _ in range(3):
            start = time.perf_counter()
            plan = method.build(evidence, 0)
            execute(plan, evidence.features, evidence.labels)
            seconds.setdefault(task["shots"], []).append(time.perf_counter() - start)
    print(version)
    for shots, values in sorted(seconds.items()):
        print(f"{shots} shots: median {statistics.median(values):.3f} s (plan + training, {len(values)} runs)")


def time_cold(args) -> None:
    Evidence, class_senses, execute, method, source, version = _harness()
    saved = torch.load(args.tasks)
    task = next(t for t in saved["tasks"] if t["shots"] == args.shots and t["seed"] == 0)
    evidence = Evidence(source, saved["class_names"], task["features"], task["labels"])
    class_senses(evidence)  # the senses, the images voting
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # the optimisers' one-time imports
    start = time.perf_counter()
    execute(method.build(evidence, 0), evidence.features, evidence.labels)
    print(f"{version}\n{args.shots} shots: cold fit {time.perf_counter() - start:.3f} s (plan + training, 1 run)")


def save_heads(args) -> None:
    Evidence, _, execute, method, source, version = _harness()
    saved, heads = torch.load(args.tasks), []
    for task in saved["tasks"]:
        evidence = Evidence(source, saved["class_names"], task["features"], task["labels"])
        plan = method.build(evidence, 0)
        heads.append({"shots": task["shots"], "seed": task["seed"], "start": plan.init, "partner": plan.partner,
                      "final": execute(plan, evidence.features, evidence.labels)[0]})
    names_only = method.build(Evidence(source, saved["class_names"], task["features"][:0], task["labels"][:0]), 0)
    torch.save({"version": version, "tasks": heads, "names only": names_only.init}, args.out)


def compare_heads(args) -> None:
    a, b = torch.load(args.first), torch.load(args.second)
    saved = torch.load(args.tasks) if args.tasks else None
    test = None
    if args.folder:
        from headstart.data import load_dataset
        from headstart.data.features import FeatureCache
        from headstart.sources import load_source

        data = load_dataset(args.folder)
        test = FeatureCache(load_source("efficientnet-lite0"), data, "test", 224).get(
            np.arange(len(data.test.labels)), progress=False)
    print(f"{a['version']}\n{b['version']}")
    for i, (x, y) in enumerate(zip(a["tasks"], b["tasks"])):
        line = f"{x['shots']} shots seed {x['seed']}:"
        for part in ("start", "partner", "final"):
            if x[part] is None:
                continue
            (w0, b0), (w1, b1) = x[part], y[part]
            line += f" {part} max|dW| {(w0 - w1).abs().max():.1e} max|db| {(b0 - b1).abs().max():.1e};"
        (w0, b0), (w1, b1) = x["final"], y["final"]
        for name, f in (("task", saved["tasks"][i]["features"] if saved else None), ("test", test)):
            if f is not None:
                agree = ((f @ w0.T + b0).argmax(1) == (f @ w1.T + b1).argmax(1)).float().mean().item()
                line += f" final's class alike on {100 * agree:.1f} % of the {len(f)} {name} images;"
        print(line)
    (w0, b0), (w1, b1) = a["names only"], b["names only"]
    print(f"names only: max|dW| {(w0 - w1).abs().max():.1e} max|db| {(b0 - b1).abs().max():.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--folder", default="../shared/datasets/caltech50")
    d.add_argument("--shots", default="1,5,20")
    d.add_argument("--seeds", type=int, default=3)
    d.add_argument("--out", required=True)
    t = sub.add_parser("time")
    t.add_argument("tasks")
    t.add_argument("--recipe", help="JSON overrides of the default's Recipe, e.g. '{\"cosine_epochs\": 100}'")
    c = sub.add_parser("cold")
    c.add_argument("tasks")
    c.add_argument("--shots", type=int, default=1)
    h = sub.add_parser("heads")
    h.add_argument("tasks")
    h.add_argument("--out", required=True)
    m = sub.add_parser("compare")
    m.add_argument("first")
    m.add_argument("second")
    m.add_argument("--tasks", help="the tasks file: the final heads' classes compared on its features")
    m.add_argument("--folder", help="a folder: the final heads' classes compared on its test images")
    args = parser.parse_args()
    {"dump": dump, "time": time_default, "cold": time_cold, "heads": save_heads, "compare": compare_heads}[
        args.command](args)


if __name__ == "__main__":
    main()
