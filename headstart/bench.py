"""Grid runner: methods x shots x seeds -> tidy CSV rows, appended as they are computed.

Each (shots, seed) draws one few-shot subset that every method uses, so comparisons are paired.
A killed run resumes: complete (method, shots, seed) groups are kept and skipped, a partial one
is dropped and recomputed.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from headstart.data import few_shot_indices, load_dataset
from headstart.data.features import FeatureCache
from headstart.errors import UserError
from headstart.methods import execute, get_method
from headstart.similarity import Evidence
from headstart.sources import load_source
from headstart.train import EVAL_EPOCHS, accuracy, single_thread

COLUMNS = ["model", "dataset", "method", "shots", "seed", "epoch", "accuracy", "final",
           "resolution", "test_size", "seconds"]
TEST_SUBSET_SEED = 20190901  # one fixed test subset for every run of a given --test-size
TRAIN_SEED_OFFSET = 1_000_003  # training randomness has its own seed, apart from subset sampling
UNLABELLED_SEED_OFFSET = 2_000_003  # so does the draw of unlabelled images


@dataclass
class BenchConfig:
    model: str = "efficientnet-lite0"
    dataset: str = "fashion-mnist"
    methods: list[str] = field(default_factory=lambda: ["random", "zero", "logreg", "imprint", "wup", "headstart"])
    shots: list[int] = field(default_factory=lambda: [0, 1, 2, 5, 10, 20])
    seeds: int = 5
    seed_start: int = 0
    resolution: int | None = None
    test_size: int | None = None
    epochs: int = 100
    unlabelled: int = 0  # training images per seed given without labels (to methods that use them)
    eval_epochs: list[int] = field(default_factory=lambda: list(EVAL_EPOCHS))
    out: str = "bench-out"


def test_indices(labels: np.ndarray, test_size: int | None) -> np.ndarray:
    """All test images, or a class-balanced fixed subset of about `test_size`."""
    if test_size is None or test_size >= len(labels):
        return np.arange(len(labels))
    per_class = max(1, test_size // len(np.unique(labels)))
    return few_shot_indices(labels, per_class, TEST_SUBSET_SEED)


def unlabelled_indices(n_images: int, count: int, seed: int) -> np.ndarray:
    """`count` training-split indices drawn at random (no class balance: unlabelled images come as
    they come) with their own seed, sorted; the same for every shot count of a seed."""
    rng = np.random.default_rng(seed + UNLABELLED_SEED_OFFSET)
    return np.sort(rng.choice(n_images, size=min(count, n_images), replace=False))


def read_done(path: Path) -> set[tuple[str, int, int]]:
    """Complete (method, shots, seed) groups in an existing results.csv; rewrites the file without
    rows of incomplete groups (a run killed mid-group) or torn lines."""
    if not path.exists():
        return set()
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("final") in ("0", "1") and r.get("seconds")]
    done = {(r["method"], int(r["shots"]), int(r["seed"])) for r in rows if r["final"] == "1"}
    kept = [r for r in rows if (r["method"], int(r["shots"]), int(r["seed"])) in done]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in COLUMNS} for r in kept)
    return done


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


def write_similarity_heatmap(source, class_names: list[str], path: Path) -> None:
    """The default method's names-only similarity (top-3 sources per class) for the report;
    skipped when the names do not resolve to synsets."""
    from headstart.methods import DEFAULT_MEASURE, DEFAULT_TOP_K
    from headstart.similar import similar_classes

    try:
        similar_classes(source, class_names, DEFAULT_MEASURE, DEFAULT_TOP_K, heatmap=path)
    except UserError:
        pass


def run_bench(config: BenchConfig, progress: bool = True) -> Path:
    """Run the grid, appending rows to `out/results.csv`; returns the results path."""
    methods = [get_method(name) for name in config.methods]
    if not config.shots or min(config.shots) < 0:
        raise UserError("--shots must be a list of integers >= 0, e.g. 0,1,5")
    if config.seeds < 1:
        raise UserError("--seeds must be >= 1")
    if config.unlabelled < 0:
        raise UserError("--unlabelled must be >= 0 (a number of training images given without labels)")
    source = load_source(config.model)
    data = load_dataset(config.dataset)
    resolution = config.resolution or source.resolution
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps({**asdict(config), "resolution": resolution,
                                              "command": " ".join(["headstart"] + sys.argv[1:]),
                                              "machine": machine_description()}, indent=2))
    results = out / "results.csv"
    done = read_done(results)
    if not (out / "similarity.png").exists():  # names only: the same for every run into `out`
        write_similarity_heatmap(source, data.class_names, out / "similarity.png")

    test_idx = test_indices(data.test.labels, config.test_size)
    test_x = FeatureCache(source, data, "test", resolution).get(test_idx, progress=progress)
    test_y = torch.from_numpy(data.test.labels[test_idx])
    train_cache = FeatureCache(source, data, "train", resolution)
    seeds = range(config.seed_start, config.seed_start + config.seeds)
    subsets = {(shots, seed): few_shot_indices(data.train.labels, shots, seed) for shots in config.shots
               for seed in seeds}
    unlabelled = {seed: unlabelled_indices(len(data.train), config.unlabelled, seed) for seed in seeds}
    # all extraction up front
    train_cache.get(np.concatenate(list(subsets.values()) + list(unlabelled.values())), progress=progress)

    grid = [(shots, seed, m) for shots in config.shots for seed in seeds for m in methods
            if not (m.needs_shots and shots == 0)]
    todo = [g for g in grid if (g[2].name, g[0], g[1]) not in done]
    new_file = not results.exists() or results.stat().st_size == 0
    with results.open("a", newline="") as f, single_thread():
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        evidence_for: dict[tuple[int, int], Evidence] = {}
        for shots, seed, method in tqdm(todo, desc="bench", unit="run", disable=not progress):
            if (shots, seed) not in evidence_for:
                evidence_for.clear()
                idx = subsets[(shots, seed)]
                evidence_for[(shots, seed)] = Evidence(
                    source, data.class_names, train_cache.get(idx, progress=False),
                    torch.from_numpy(data.train.labels[idx]),
                    unlabelled=train_cache.get(unlabelled[seed], progress=False) if config.unlabelled else None)
            evidence = evidence_for[(shots, seed)]
            start = time.perf_counter()
            torch.manual_seed(seed + TRAIN_SEED_OFFSET)
            plan = method.build(evidence, seed + TRAIN_SEED_OFFSET)
            _, history = execute(plan, evidence.features, evidence.labels,
                                 lambda w, b: accuracy(w, b, test_x, test_y), config.epochs, config.eval_epochs)
            seconds = time.perf_counter() - start
            for i, (epoch, acc) in enumerate(history):
                writer.writerow({"model": config.model, "dataset": config.dataset, "method": method.name,
                                 "shots": shots, "seed": seed, "epoch": epoch, "accuracy": f"{acc:.6f}",
                                 "final": int(i == len(history) - 1), "resolution": resolution,
                                 "test_size": len(test_idx), "seconds": f"{seconds:.3f}"})
            f.flush()
    return results
