"""Head problems on the CPU and on a GPU: how long the default's head training and the
logistic-regression peer (cross-validated C) take on the features of a few-shot task, and whether
the two devices give the same heads. Evidence for moving heads to the GPU (issue 15); headstart
trains each head where its features are (on the CPU today), on one thread.

    python benchmarks/heads.py [--folder ../shared/datasets/caltech50] [--shots 1,5,20] [--seeds 3]

The features are extracted once (cached) at the model's resolution; each (shots, seed) task's plan
(names and similarities) is built once, then its head problems are solved on the CPU (on one thread,
as `execute` and `cross_validated_logreg` always run) and, when CUDA is present, on the GPU with the
same tensors moved there. Reported per shots: median seconds of the default's
training (its plan built beforehand, untimed) and of `cross_validated_logreg`; test accuracy on
each device; the largest difference between the two devices' heads.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import headstart
from headstart.lab.bench import machine_description
from headstart.data import load_dataset
from headstart.data.features import FeatureCache
from headstart.evidence import Evidence
from headstart.methods import create_method, cross_validated_logreg, execute
from headstart.process_settings import configure
from headstart.protocol import few_shot_indices
from headstart.train import accuracy


def timed(fn, device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def solve(plan, x, y, test_x, test_y, n_classes: int, device: torch.device) -> dict:
    """The default's head (from its `plan`) and logistic regression on `device`: seconds, accuracy,
    heads (on the CPU)."""
    x, y, test_x, test_y = (t.to(device) for t in (x, y, test_x, test_y))
    default_s, (head, _) = timed(lambda: execute(plan, x, y), device)
    logreg_s, logreg = timed(lambda: cross_validated_logreg(x, y, n_classes), device)
    return {"default_s": default_s, "logreg_s": logreg_s,
            "default_acc": accuracy(*head, test_x, test_y), "logreg_acc": accuracy(*logreg, test_x, test_y),
            "heads": [t.cpu() for t in (*head, *logreg)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", default="../shared/datasets/caltech50")
    parser.add_argument("--shots", default="1,5,20")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    configure()
    source, data = headstart.load_source("efficientnet-lite0"), load_dataset(args.folder)
    test_x = FeatureCache(source, data, "test").get(range(len(data.test)), progress=False)
    test_y = torch.from_numpy(data.test.labels)
    train = FeatureCache(source, data, "train")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"# Head problems: CPU vs GPU\n\nCommand: `python benchmarks/heads.py --folder {args.folder} "
          f"--shots {args.shots} --seeds {args.seeds}`  \nMachine: {machine_description()}"
          f"{', GPU: ' + torch.cuda.get_device_name() if len(devices) > 1 else ''}\n")
    print("| shots | device | default: s (median) | logreg CV: s (median) | default acc % | logreg acc % "
          "| max abs diff of heads vs CPU |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for shots in [int(s) for s in args.shots.split(",")]:
        runs = {d.type: [] for d in devices}
        for seed in range(args.seeds):
            idx = few_shot_indices(data.train.labels, shots, seed)
            x, y = train.get(idx, progress=False), torch.from_numpy(data.train.labels[idx])
            plan = create_method("headstart").build(Evidence(source, data.class_names, x, y), 0)
            for device in devices:
                torch.manual_seed(seed)
                runs[device.type].append(solve(plan, x, y, test_x, test_y, len(data.class_names), device))
        for name, results in runs.items():
            diff = max(float((a - b).abs().max()) for r, c in zip(results, runs["cpu"])
                       for a, b in zip(r["heads"], c["heads"]))
            print(f"| {shots} | {name} | {statistics.median(r['default_s'] for r in results):.3f} | "
                  f"{statistics.median(r['logreg_s'] for r in results):.3f} | "
                  f"{100 * statistics.mean(r['default_acc'] for r in results):.1f} | "
                  f"{100 * statistics.mean(r['logreg_acc'] for r in results):.1f} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
