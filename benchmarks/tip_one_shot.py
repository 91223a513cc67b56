"""Tip-Adapter's fixed (alpha, beta) at one shot, where leave-one-out has no shot left to check a pair
on: the pairs its leave-one-out picks at two shots (training labels only, no test image), counted
over datasets and seeds; the most frequent pair over the other datasets is each dataset's one-shot
pair (leave-one-dataset-out), and the one over all of them is `literature.TIP_ONE_SHOT`.

    python benchmarks/tip_one_shot.py fashion-mnist ../shared/datasets/trashnet ...
"""

from __future__ import annotations

import sys
from collections import Counter

import torch


def choices(dataset: str, seeds: int = 5) -> list[tuple[float, float]]:
    from headstart.data import load_dataset
    from headstart.protocol import few_shot_indices
    from headstart.data.features import FeatureCache
    from headstart.evidence import Evidence
    from headstart.few_shot import normalised, tip_adapter_choice
    from headstart.methods.literature import TIP_ALPHAS, TIP_BETAS, names_logits
    from headstart.sources import load_source

    source, data = load_source("efficientnet-lite0"), load_dataset(dataset)
    cache, picked = FeatureCache(source, data, "train", 224), []
    for seed in range(seeds):
        idx = few_shot_indices(data.train.labels, 2, seed)
        evidence = Evidence(source, data.class_names, cache.get(idx, progress=False),
                            torch.from_numpy(data.train.labels[idx]))
        _, logits = names_logits(evidence)
        unit = normalised(evidence.features, evidence.target_mean())
        picked.append(tip_adapter_choice(logits, unit, evidence.labels, evidence.n_classes, TIP_ALPHAS, TIP_BETAS))
    return picked


if __name__ == "__main__":
    found = {d: choices(d) for d in sys.argv[1:]}
    for dataset, picked in found.items():
        others = Counter(p for d, ps in found.items() if d != dataset for p in ps)
        print(f"{dataset}: 2-shot picks {picked}; one-shot pair from the others {others.most_common(1)[0][0]}")
    print(f"all datasets: {Counter(p for ps in found.values() for p in ps).most_common(5)}")
