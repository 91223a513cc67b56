"""Grid runner: methods x shots x seeds -> tidy CSV rows, appended as they are computed.

Each (shots, seed) draws one few-shot subset that every method uses, so comparisons are paired.
A killed run resumes: complete (method, shots, seed) groups are kept and skipped, a partial one
is dropped and recomputed. One bench at a time writes into a folder (a lock file there), and never
into a folder holding a fitted run.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from headstart.backends import resolve as resolve_placement
from headstart.cache import atomic_write
from headstart.data import load_dataset
from headstart.data.features import FeatureCache
from headstart.defaults import DEFAULT_MODEL, HEAD_EPOCHS, MAX_RESOLUTION, MIN_RESOLUTION
from headstart.errors import UserError
from headstart.evidence import Evidence
from headstart.inputs import check_resolution
from headstart.lab.peers import BASIC_HEADS, DEFAULT_METHOD, SHOTS
from headstart.methods import Scorer, create_method, fit_head
from headstart.params import Interval, Kind, ListOf, check_parameters
from headstart.protocol import (TEST_SUBSET_SEED, TRAIN_SEED_OFFSET, few_shot_indices, test_indices,
                                 unlabelled_indices)
from headstart.recipe import DEFAULT_RECIPE, NAMING_FIELDS, Recipe
from headstart.senses import name_senses
from headstart.sources import load_source
from headstart.train import EVAL_EPOCHS

# The lab's bench as the CLI, the suite and benchmarks/ use it; the rest is this module's own.
__all__ = ["BENCH_PARAMETERS", "COLUMNS", "DEMO", "BenchConfig", "check_config", "machine_description", "run_bench",
           "settings"]

COLUMNS = ["model", "dataset", "method", "shots", "seed", "epoch", "accuracy", "final",
           "resolution", "test_size", "seconds", "config"]


@dataclass
class BenchConfig:
    model: str = DEFAULT_MODEL
    dataset: str = "fashion-mnist"
    methods: list[str] = field(default_factory=lambda: [*BASIC_HEADS, "wup", DEFAULT_METHOD])
    shots: list[int] = field(default_factory=lambda: list(SHOTS))
    seeds: int = 5
    seed_start: int = 0
    resolution: int | None = None
    test_size: int | None = None
    epochs: int = HEAD_EPOCHS
    unlabelled: int = 0  # training images per seed given without labels (to methods that use them)
    overrides: dict[str, str] = field(default_factory=dict)  # class name -> synset id
    method_options: dict[str, dict] = field(default_factory=dict)  # method -> options (create_method)
    eval_epochs: list[int] = field(default_factory=lambda: list(EVAL_EPOCHS))
    out: str = "bench-out"
    device: str | None = None  # where features are computed (see features.extract): not a result setting
    backend: str | None = None
    precision: str | None = None  # fp32 (default) or bf16 / fp16 autocast: a result setting when mixed


_AT_LEAST_0, _AT_LEAST_1 = Interval(Integral, 0), Interval(Integral, 1)
# What each field of BenchConfig accepts (`headstart.params.check_parameters`, before any work); the
# registries check what they decide (method names and options, datasets, models, devices).
BENCH_PARAMETERS = {
    "model": [Kind((str,), "a model name")], "dataset": [Kind((str,), "a dataset name or path")],
    "methods": [ListOf(Kind((str,), "a method name (see `headstart methods`)"))], "shots": [ListOf(_AT_LEAST_0)],
    "seeds": [_AT_LEAST_1], "seed_start": [_AT_LEAST_0],
    "resolution": [None, Interval(Integral, MIN_RESOLUTION, MAX_RESOLUTION)],
    "test_size": [None, _AT_LEAST_1],  # None: the whole test set
    "epochs": [_AT_LEAST_0], "unlabelled": [_AT_LEAST_0],  # training images per seed given without labels
    "overrides": [Kind((dict,), "a dict of class name -> WordNet synset id")],
    "method_options": [Kind((dict,), "a dict of method name -> its options")], "eval_epochs": [ListOf(_AT_LEAST_0, 0)],
    "out": [Kind((str,), "a folder path (str)")], "device": [None, Kind((str,), "a device name")],
    "backend": [None, Kind((str,), "a backend name")], "precision": [None, Kind((str,), "a precision name")],
}


def check_config(config: BenchConfig) -> None:
    """Refuse a value outside BENCH_PARAMETERS in one line naming its command-line option."""
    check_parameters(vars(config), BENCH_PARAMETERS, "bench", lambda name: "--" + name.replace("_", "-"))


# `headstart demo`, the README's main job: the default against the basic heads and two families.
DEMO = dict(model=DEFAULT_MODEL, dataset="fashion-mnist", methods=[*BASIC_HEADS, "wup", "text", DEFAULT_METHOD],
            shots=list(SHOTS), seeds=5, resolution=224, test_size=2000)


def naming_recipe(methods) -> Recipe:
    """The recipe whose naming constants resolve the class names for every method of a bench (they
    share one choice of senses): the one passed to a method that takes a recipe, else the default."""
    return next((m.recipe for m in methods if "recipe" in m.options), DEFAULT_RECIPE)


def settings(config: BenchConfig, source, data, resolution: int, test_idx: np.ndarray, naming: Recipe) -> dict:
    """Everything that changes a result row besides (method, shots, seed): a resumed bench must
    have exactly these, or its old rows would be relabelled as the new configuration's."""
    return {"model": source.cache_key(resolution), "dataset": data.key, "resolution": resolution,
            "naming": {name: getattr(naming, name) for name in NAMING_FIELDS},
            "test_images": len(test_idx), "test_subset_seed": TEST_SUBSET_SEED, "epochs": config.epochs,
            "eval_epochs": sorted(set(config.eval_epochs)), "unlabelled": config.unlabelled,
            "overrides": dict(sorted(config.overrides.items())),
            **({"precision": config.precision} if config.precision not in (None, "fp32") else {})}


def config_id(shared: dict, method) -> str:
    """Short id of the shared settings plus one method's options: the `config` column of its rows."""
    text = json.dumps({"settings": shared, "method": method.name, "options": method.json_options()}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def read_done(path: Path, expected: dict[str, str], previous: dict | None, current: dict) -> set[tuple[str, int, int]]:
    """Complete (method, shots, seed) groups in an existing results.csv whose rows were made with
    this configuration (`expected`: method -> config id); rewrites the file (atomically) without
    rows of incomplete groups (a run killed mid-group) or torn lines. Rows of another configuration
    are an error: resuming must never mix two configurations under one label."""
    if not path.exists():
        return set()
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if _group(r) is not None]
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path} is not a results file of headstart bench ({error}); "
                        "use a new --out folder or delete it") from None
    changed = [f"{k} {previous.get(k)!r} -> {current[k]!r}" for k in current
               if previous is not None and previous.get(k) != current[k]]
    foreign = sorted({r["method"] for r in rows
                      if not r.get("config") or r["config"] != expected.get(r["method"], r["config"])})
    if rows and (changed or foreign):
        what = "; ".join(changed) if changed else f"other options for {', '.join(foreign)}, or an older headstart"
        raise UserError(f"{path.parent} holds results of another configuration ({what}): use a new --out "
                        f"folder, or delete {path} to start over")
    done = {_group(r) for r in rows if r["final"] == "1"}
    kept, seen = [], set()
    for row in rows:  # two benches that once wrote into one folder at the same time left duplicates
        if _group(row) in done and (*_group(row), row["epoch"]) not in seen:
            seen.add((*_group(row), row["epoch"]))
            kept.append(row)

    def write(f) -> None:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        writer = csv.DictWriter(text, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in COLUMNS} for r in kept)
        text.flush()
        text.detach()

    atomic_write(path, write)
    return done


def _group(row: dict) -> tuple[str, int, int] | None:
    """(method, shots, seed) of a complete row; None for a torn or foreign line."""
    try:
        if row.get("final") in ("0", "1") and row.get("seconds") and float(row["accuracy"]) >= 0:
            return row["method"], int(row["shots"]), int(row["seed"])
    except (TypeError, ValueError, KeyError):
        pass
    return None


def read_previous_settings(out: Path) -> dict | None:
    """The settings an earlier run wrote into out/run.json (None when absent or unreadable)."""
    try:
        previous = json.loads((out / "run.json").read_text(encoding="utf-8"))
        return previous.get("settings") if isinstance(previous, dict) else None
    except (OSError, ValueError):
        return None


def check_shots(shots: list[int], data) -> None:
    """Refuse shot counts above the smallest class's training images: those rows would be labelled
    with more shots than they had."""
    counts = np.bincount(data.train.labels, minlength=len(data.class_names))
    if max(shots) > counts.min():
        smallest = data.class_names[int(counts.argmin())]
        raise UserError(f"--shots {max(shots)} is more than the {counts.min()} training images of class "
                        f"{smallest!r}: use shots of at most {counts.min()}")


def lock_folder(out: Path):
    """An exclusive lock on `out` (flock on out/.bench.lock), held while the returned file is open;
    a second bench into the same folder is refused rather than interleaving its rows."""
    lock = open(out / ".bench.lock", "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise UserError(f"another headstart bench is writing into {out}: wait for it to finish, or pass "
                        "another --out") from None
    except OSError as error:  # ENOLCK: a file system without locks (NFS without its lock daemon)
        lock.close()
        raise UserError(f"cannot lock {out / '.bench.lock'} ({error.strerror}: the file system gives no locks, "
                        "as NFS may not): pass an --out on a local disk") from None
    return lock


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


def write_similarity_heatmap(source, class_names: list[str], overrides: dict, path: Path) -> None:
    """The names-only Lin similarity (top-3 sources per class) for the report."""
    from headstart.top_sources import similar_classes

    similar_classes(source, class_names, "lin", 3, overrides, heatmap=path)


def run_bench(config: BenchConfig, progress: bool = True, announce=None) -> Path:
    """Run the grid, appending rows to `out/results.csv`; returns the results path.

    Everything that can fail is checked before a feature is extracted: methods and their options,
    numbers, and the class names' senses, which `announce(senses)` receives (a list of
    `ClassSense`s) — the CLI prints it. The folder's lock is released however this ends."""
    with contextlib.ExitStack() as held:
        return _run_bench(config, progress, announce, held)


def _run_bench(config: BenchConfig, progress: bool, announce, held: contextlib.ExitStack) -> Path:
    check_config(config)
    methods = [create_method(name, **config.method_options.get(name, {})) for name in dict.fromkeys(config.methods)]
    shot_counts = list(dict.fromkeys(config.shots))  # a repeated method or shot count would repeat its rows
    placement = resolve_placement(config.device, config.backend, config.precision)  # decided once, here
    source = load_source(config.model)
    data = load_dataset(config.dataset)
    resolution = check_resolution(config.resolution or source.resolution)
    check_shots(shot_counts, data)
    if max(shot_counts) == 0 and any(m.needs_shots for m in methods):
        raise UserError(f"{', '.join(m.name for m in methods if m.needs_shots)} need labelled images: add shots >= 1")
    naming = naming_recipe(methods)
    senses = name_senses(source, data.class_names, config.overrides, naming)
    if announce is not None:
        announce(senses)
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file: pass a folder for the results")
    if read_previous_settings(out) is None and (out / "run.json").exists():
        raise UserError(f"{out / 'run.json'} is not a bench's (a fitted run's?): pass another --out, "
                        "a bench would overwrite it")
    test_idx = test_indices(data.test.labels, config.test_size)
    shared = settings(config, source, data, resolution, test_idx, naming)
    ids = {m.name: config_id(shared, m) for m in methods}
    results = out / "results.csv"
    out.mkdir(parents=True, exist_ok=True)
    held.enter_context(lock_folder(out))
    done = read_done(results, ids, read_previous_settings(out), shared)
    atomic_write(out / "run.json", lambda f: f.write(json.dumps(
        {**asdict(config), "resolution": resolution, "settings": shared,
         "command": " ".join(["headstart"] + sys.argv[1:]), "machine": machine_description()}, indent=2).encode()))
    if not (out / "similarity.png").exists():  # names only: the same for every run into `out`
        write_similarity_heatmap(source, data.class_names, config.overrides, out / "similarity.png")
    test_x = FeatureCache(source, data, "test", resolution, placement=placement).get(test_idx, progress=progress)
    test_y = torch.from_numpy(data.test.labels[test_idx])
    scorer = Scorer(test_x, test_y)  # scores a head on test_x, or on test_x mapped as a bench peer's plan maps it
    train_cache = FeatureCache(source, data, "train", resolution, placement=placement)
    seeds = range(config.seed_start, config.seed_start + config.seeds)
    subsets = {(n, seed): few_shot_indices(data.train.labels, n, seed) for n in shot_counts for seed in seeds}
    unlabelled = {seed: unlabelled_indices(len(data.train), config.unlabelled, seed) for seed in seeds}
    # all extraction up front
    train_cache.get(np.concatenate(list(subsets.values()) + list(unlabelled.values())), progress=progress)

    grid = [(n, seed, m) for n in shot_counts for seed in seeds for m in methods if not (m.needs_shots and n == 0)]
    todo = [g for g in grid if (g[2].name, g[0], g[1]) not in done]
    new_file = not results.exists() or results.stat().st_size == 0
    with results.open("a", newline="") as f:
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
                    torch.from_numpy(data.train.labels[idx]), config.overrides,
                    unlabelled=train_cache.get(unlabelled[seed], progress=False) if config.unlabelled else None,
                    recipe=naming)
            evidence = evidence_for[(shots, seed)]
            start = time.perf_counter()
            _, history, _ = fit_head(method, evidence, seed + TRAIN_SEED_OFFSET, config.epochs, scorer,
                                     config.eval_epochs)
            seconds = time.perf_counter() - start
            for i, (epoch, acc) in enumerate(history):
                writer.writerow({"model": config.model, "dataset": config.dataset, "method": method.name,
                                 "shots": shots, "seed": seed, "epoch": epoch, "accuracy": f"{acc:.6f}",
                                 "final": int(i == len(history) - 1), "resolution": resolution,
                                 "test_size": len(test_idx), "seconds": f"{seconds:.3f}",
                                 "config": ids[method.name]})
            f.flush()
    return results
