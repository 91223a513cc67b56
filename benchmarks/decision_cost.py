"""What the default's decision costs: seconds to build its plan (names, similarities, the trust
decision) and train its head, per few-shot task, on fixed features — runnable against any headstart
version that has `create_method`, `execute` and `Evidence`, so two versions can be compared on the
same tensors.

    python benchmarks/decision_cost.py dump --folder ../shared/datasets/caltech50 --out tasks.pt
    python benchmarks/decision_cost.py time tasks.pt          # with the headstart on PYTHONPATH
    python benchmarks/decision_cost.py time tasks.pt --recipe '{"cosine_epochs": 100}'   # a variant of the default

`dump` writes each (shots, seed) task's training features and labels and the class names (the bench's
few-shot subsets, 224 px); `time` builds and trains the default on each task three times and prints
the median seconds per shots (senses warm: the first build of a name list is not timed).
"""

from __future__ import annotations

import argparse
import statistics
import time

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


def time_default(args) -> None:
    import headstart
    from headstart.methods import execute, get_method
    try:  # its home since issue 30's split of similarity/; before, the similarity package
        from headstart.evidence import Evidence
    except ImportError:
        from headstart.similarity import Evidence
    from headstart.sources import load_source

    torch.set_num_threads(1)
    saved = torch.load(args.tasks)
    source, method = load_source("efficientnet-lite0"), get_method("headstart")
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
    print(f"headstart {headstart.__version__} from {headstart.__file__}")
    for shots, values in sorted(seconds.items()):
        print(f"{shots} shots: median {statistics.median(values):.3f} s (plan + training, {len(values)} runs)")


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
    args = parser.parse_args()
    if args.command == "dump":
        dump(args)
    else:
        time_default(args)


if __name__ == "__main__":
    main()
