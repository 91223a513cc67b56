"""How much of the imprinted rows the default's initial head should blend in.

    python benchmarks/imprint_share.py [--seeds 10] > docs/results/imprint-share.md

EfficientNet-Lite0 -> Fashion-MNIST, 224 px, the full test set, the bench's few-shot subsets. For
each share a, the default (`create_method("headstart", imprint_share=a)`) starts training from
(1 - a) * transferred + a * imprinted rows, with its prior and 100 Adam epochs; a = "shots/(shots+2)"
is the earlier `headstart-warm` rule. (docs/results/imprint-share.md was made with the previous
default; the suite's research on all three datasets is in docs/results/suite-research.md.) Reports mean test accuracy after one epoch and at the end, next
to the best peer's final accuracy (best of zero, imprint, logistic regression by mean).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from headstart.bench import TRAIN_SEED_OFFSET, machine_description
from headstart.data import few_shot_indices, load_dataset
from headstart.data.features import FeatureCache
from headstart.methods import create_method, execute, get_method
from headstart.similarity import Evidence
from headstart.sources import load_source
from headstart.train import accuracy, single_thread

SHARES = {"0": lambda shots: 0.0, "1/4": lambda shots: 0.25, "1/3": lambda shots: 1 / 3,
          "2/5": lambda shots: 0.4, "shots/(shots+2)": lambda shots: shots / (shots + 2)}
PEERS = ("zero", "imprint", "logreg")


def one_subset(source, data, test_x, test_y, shots: int, seed: int) -> dict[str, tuple[float, float]]:
    """(accuracy after epoch 1, final accuracy) per share and per peer for one few-shot subset."""
    idx = few_shot_indices(data.train.labels, shots, seed)
    evidence = Evidence(source, data.class_names, FeatureCache(source, data, "train", 224).get(idx, progress=False),
                        torch.from_numpy(data.train.labels[idx]))
    evaluate = lambda w, b: accuracy(w, b, test_x, test_y)  # noqa: E731
    out = {}
    for name, share in SHARES.items():
        plan = create_method("headstart", imprint_share=share(shots)).build(evidence, seed + TRAIN_SEED_OFFSET)
        if not plan.trains:
            raise SystemExit(f"the names did not help at {shots} shots, seed {seed}: nothing to blend")
        torch.manual_seed(seed + TRAIN_SEED_OFFSET)
        _, history = execute(plan, evidence.features, evidence.labels, evaluate, eval_epochs=(1,))
        out[name] = (history[0][1], history[-1][1])
    for peer in PEERS:
        torch.manual_seed(seed + TRAIN_SEED_OFFSET)
        _, history = execute(get_method(peer).build(evidence, seed + TRAIN_SEED_OFFSET), evidence.features,
                             evidence.labels, evaluate, eval_epochs=(1,))
        out[peer] = (history[0][1], history[-1][1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--shots", default="1,2,5,10,20")
    args = parser.parse_args()
    source, data = load_source("efficientnet-lite0"), load_dataset("fashion-mnist")
    test_x = FeatureCache(source, data, "test", 224).get(progress=False)
    test_y = torch.from_numpy(data.test.labels)
    print("# Share of imprinted rows in the default's initial head\n")
    print(f"Machine: {machine_description()}. Command: `python benchmarks/imprint_share.py --seeds {args.seeds} "
          f"--shots {args.shots}`; {args.seeds} seeds, {len(test_y)} test images, 224 px.\n")
    print("Mean test accuracy (%) after one epoch / at the end (100 epochs); best peer = best mean final of "
          f"{', '.join(PEERS)}.\n")
    print("| shots | " + " | ".join(f"a = {name}" for name in SHARES) + " | best peer, final |")
    print("|---:|" + "---:|" * (len(SHARES) + 1))
    with single_thread():
        for shots in (int(s) for s in args.shots.split(",")):
            runs = [one_subset(source, data, test_x, test_y, shots, seed) for seed in range(args.seeds)]
            mean = {k: tuple(100 * np.mean([r[k][i] for r in runs]) for i in (0, 1)) for k in runs[0]}
            best = max(PEERS, key=lambda p: mean[p][1])
            cells = " | ".join(f"{mean[name][0]:.1f} / {mean[name][1]:.2f}" for name in SHARES)
            print(f"| {shots} | {cells} | {mean[best][1]:.2f} ({best}) |", flush=True)


if __name__ == "__main__":
    main()
