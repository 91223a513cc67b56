"""The multi-dataset benchmark suite: the paired bench on several datasets, one report.

Every constant of the default method is judged here, on all datasets at once, never on one test
set. Each dataset gets its own resumable bench folder (`OUT/<dataset>/results.csv`); the suite
report (`OUT/summary.md`, `OUT/report.html`, plots) is made from those CSVs alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from headstart.bench import BenchConfig, run_bench
from headstart.errors import UserError
from headstart.methods import SEMANTIC_FAMILIES
from headstart.report import write_report

# The basic heads and the seed paper's transfer-init families the default averages (each alone, no prior).
PEER_METHODS = ["random", "zero", "logreg", "imprint", *SEMANTIC_FAMILIES]
DEFAULT_DATASETS = ["fashion-mnist", "../shared/datasets/cifar10-small", "../shared/datasets/caltech50"]
# The protocol: 10 seeds where a test set is large, 5 on caltech50 (20 test images per class).
DEFAULT_SEEDS = {"caltech50": 5}


@dataclass
class SuiteConfig:
    model: str = "efficientnet-lite0"
    datasets: list[str] = field(default_factory=lambda: list(DEFAULT_DATASETS))
    methods: list[str] = field(default_factory=lambda: PEER_METHODS + ["headstart"])
    shots: list[int] = field(default_factory=lambda: [0, 1, 2, 5, 10, 20])
    seeds: int = 10
    resolution: int | None = 224
    test_size: int | None = None
    epochs: int = 100
    unlabelled: int = 0  # training images per seed given without labels (the default recentres on them)
    device: str | None = None  # where features are computed; not a result setting
    backend: str | None = None
    precision: str | None = None  # fp32 (default) or bf16 / fp16 autocast
    out: str = "suite-out"


def slug(dataset: str) -> str:
    """A folder name for a dataset: its last path component, made safe."""
    name = Path(dataset.rstrip("/")).name or dataset
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def run_suite(config: SuiteConfig, progress: bool = True, announce=None) -> Path:
    """Run the bench on every dataset (each into OUT/<slug>/, resumable), then write the suite report
    into OUT; returns OUT/report.html."""
    names = [slug(d) for d in config.datasets]
    if len(set(names)) != len(names):
        raise UserError(f"two datasets would share a results folder: {names}; rename one")
    for dataset in config.datasets:
        if dataset != "fashion-mnist" and not Path(dataset).expanduser().exists():
            raise UserError(f"suite dataset {dataset} does not exist: pass --datasets with existing folders")
    out = Path(config.out)
    csvs = []
    for dataset, name in zip(config.datasets, names):
        bench = BenchConfig(model=config.model, dataset=dataset, methods=list(config.methods),
                            shots=list(config.shots), seeds=min(config.seeds, DEFAULT_SEEDS.get(name, config.seeds)),
                            resolution=config.resolution, test_size=config.test_size, epochs=config.epochs,
                            unlabelled=config.unlabelled, device=config.device, backend=config.backend,
                            precision=config.precision, out=str(out / name))
        csvs.append(run_bench(bench, progress=progress, announce=announce))
        write_report(out / name)
    return write_report(out, csvs)
