"""The multi-dataset benchmark suite: the paired bench on several datasets, one report.

Every constant of the default method is judged on all datasets at once, never on one test set. A
suite is data — a JSON file of the benchmarking side (``benchmarks/suites/*.json``):

    {"model": "efficientnet-lite0", "resolution": 224, "epochs": 100, "seeds": 10,
     "shots": [0, 1, 2, 5, 10, 20], "methods": ["logreg", "imprint", ..., "headstart"],
     "datasets": [{"dataset": "fashion-mnist"}, {"dataset": "../../../shared/datasets/caltech50", "seeds": 5}]}

Dataset paths are relative to the suite file; a dataset may set its own number of seeds. Each dataset
gets its own resumable bench folder (``OUT/<dataset>/results.csv``); the suite report
(``OUT/summary.md``, ``OUT/report.html``, plots) is made from those CSVs alone.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from headstart.errors import UserError
from headstart.defaults import DEFAULT_MODEL, HEAD_EPOCHS
from headstart.lab.bench import BenchConfig, run_bench
from headstart.lab.peers import BASIC_HEADS, DEFAULT_METHOD, LITERATURE_PEERS, SEMANTIC_PEERS, SHOTS
from headstart.lab.report import write_report

__all__ = ["SuiteConfig", "load_suite", "run_suite", "suite_config"]

# The basic heads, the seed paper's names-only transfer-init families (each alone, no prior) and the
# literature's few-shot peers.
PEER_METHODS = [*BASIC_HEADS, *SEMANTIC_PEERS, *LITERATURE_PEERS]
SUITE_DEFAULTS = {"model": DEFAULT_MODEL, "resolution": 224, "epochs": HEAD_EPOCHS, "seeds": 10,
                  "shots": list(SHOTS), "methods": PEER_METHODS + [DEFAULT_METHOD], "test_size": None}


@dataclass
class SuiteConfig:
    model: str = SUITE_DEFAULTS["model"]
    datasets: list[str] = field(default_factory=list)
    dataset_seeds: dict[str, int] = field(default_factory=dict)  # dataset -> its own number of seeds
    methods: list[str] = field(default_factory=lambda: list(SUITE_DEFAULTS["methods"]))
    shots: list[int] = field(default_factory=lambda: list(SUITE_DEFAULTS["shots"]))
    seeds: int = SUITE_DEFAULTS["seeds"]
    resolution: int | None = SUITE_DEFAULTS["resolution"]
    test_size: int | None = SUITE_DEFAULTS["test_size"]
    epochs: int = SUITE_DEFAULTS["epochs"]
    unlabelled: int = 0  # training images per seed given without labels (the default recentres on them)
    device: str | None = None  # where features are computed; not a result setting
    backend: str | None = None
    precision: str | None = None  # fp32 (default) or bf16 / fp16 autocast
    out: str = "suite-out"


def slug(dataset: str) -> str:
    """A folder name for a dataset: its last path component, made safe."""
    name = Path(dataset.rstrip("/")).name or dataset
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def load_suite(path: str | Path) -> dict:
    """A suite file (see the module's docstring), its dataset paths made relative to the current
    folder, with defaults for what it leaves out; an unreadable or malformed file is one UserError."""
    path = Path(path)
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read the suite file {path} ({error}); pass a JSON suite file such as "
                        "benchmarks/suites/nine.json") from None
    entries = suite.get("datasets") if isinstance(suite, dict) else None
    if not (isinstance(entries, list) and entries and all(isinstance(e, dict) and "dataset" in e for e in entries)):
        raise UserError(f'{path} is not a suite file: it must be a JSON object with "datasets": '
                        '[{"dataset": "fashion-mnist" or a folder relative to the file}, ...]')
    for entry in entries:
        if entry["dataset"] != "fashion-mnist":
            entry["dataset"] = os.path.relpath(os.path.normpath(path.parent.resolve() / entry["dataset"]))
    return {**SUITE_DEFAULTS, **suite}


def adhoc_suite(datasets: list[str]) -> dict:
    """A suite of the given datasets with the default settings (what `headstart suite --datasets` runs)."""
    return {**SUITE_DEFAULTS, "datasets": [{"dataset": d} for d in datasets]}


def suite_config(suite: dict, **settings) -> SuiteConfig:
    """The SuiteConfig of a loaded suite file; `settings` (out, device, ...) are not part of the file."""
    return SuiteConfig(model=suite["model"], datasets=[e["dataset"] for e in suite["datasets"]],
                       dataset_seeds={e["dataset"]: e["seeds"] for e in suite["datasets"] if "seeds" in e},
                       methods=list(suite["methods"]), shots=list(suite["shots"]), seeds=suite["seeds"],
                       resolution=suite["resolution"], test_size=suite["test_size"], epochs=suite["epochs"],
                       **settings)


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
                            shots=list(config.shots), seeds=config.dataset_seeds.get(dataset, config.seeds),
                            resolution=config.resolution, test_size=config.test_size, epochs=config.epochs,
                            unlabelled=config.unlabelled, device=config.device, backend=config.backend,
                            precision=config.precision, out=str(out / name))
        csvs.append(run_bench(bench, progress=progress, announce=announce))
        write_report(out / name)
    return write_report(out, csvs)
