"""A real 2-process gloo job on this machine: sharded feature extraction into the cache, DDP
fine-tuning whose replicas stay equal, and a run folder written by rank 0 only, in the same format
as a single-process run."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from headstart import distributed
from headstart.data.dataset import Split, TargetData
from headstart.data.features import FeatureCache, extract
from headstart.finetune import FinetuneConfig, finetune, train_full
from headstart.estimator import HeadStart
from headstart.run_folder import Run, RunMeta, save_run
from headstart.sources import list_sources, register_source
from helpers import colour_images, finetuned_accuracy, tiny_source, zero_head_fitter

TINY = "tiny-test-ddp"
CONFIG = FinetuneConfig(epochs=2, batch_size=6, lr=3e-2, backbone_lr_scale=1.0)


def tiny_data() -> TargetData:
    images, labels = colour_images(8, seed=0)
    test_images, test_labels = colour_images(3, seed=1)
    split = lambda name, ims, ys: Split(name, ys, lambda idx: [ims[i] for i in idx])  # noqa: E731
    return TargetData("colours", "colours-v1", ["red", "green", "blue"],
                      split("train", images, labels), split("test", test_images, test_labels))


def fit_run(out: Path, cache_root: Path) -> dict:
    """What `headstart fit --full-finetune` does, on the tiny model: cached (sharded) features,
    head-only stage, guarded fine-tuning, test accuracy, rank 0 writes the run."""
    source, data = tiny_source(), tiny_data()
    train = data.train
    features = FeatureCache(source, data, "train", root=cache_root).get(progress=False)
    images = train.load(np.arange(len(train)))
    init = zero_head_fitter(np.arange(len(train)))
    state, w, b, report = finetune(source, images, train.labels, init, CONFIG, fit_head=zero_head_fitter,
                                   features=features)
    test_images = data.test.load(np.arange(len(data.test)))
    test_accuracy = finetuned_accuracy(source, state, (w, b), test_images, data.test.labels)
    if distributed.is_main():
        meta = RunMeta(model=None, model_key=source.weights_key, resolution=source.resolution,
                       feature_dim=source.feature_dim, mean=list(source.mean), std=list(source.std),
                       class_names=data.class_names, method="zero",
                       metrics={"test_accuracy": test_accuracy, "finetune": report})
        save_run(out, Run(meta, w, b, state))
    return report


def worker(rank: int, world: int, port: int, folder: Path) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    assert distributed.init_process_group_from_env()
    assert distributed.rank() == rank and distributed.world_size() == world and distributed.is_main() == (rank == 0)
    try:
        source, data = tiny_source(), tiny_data()
        # Sharded extraction of some rows, through a cache only rank 0 writes.
        wanted = np.array([0, 3, 5, 6, 10, 23, 17])
        cache = FeatureCache(source, data, "train", root=folder / "cache-a")
        torch.save(cache.get(wanted, batch_size=2, progress=False), folder / f"features-{rank}.pt")
        # DDP training: the replicas must end equal.
        labels = torch.as_tensor(data.train.labels)
        head = (torch.zeros(3, source.feature_dim), torch.zeros(3))
        model, _ = train_full(source, data.train.load(np.arange(24)), labels, np.arange(24), head, CONFIG)
        torch.save(model.state_dict(), folder / f"model-{rank}.pt")
        distributed.barrier()
        report = fit_run(folder / "run-ddp", folder / "cache-b")
        (folder / f"report-{rank}.json").write_text(json.dumps(report["kept"]))
    finally:
        distributed.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_job(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ddp")
    mp.spawn(worker, args=(2, free_port(), folder), nprocs=2, join=True)
    return folder


def test_helpers_are_no_ops_in_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not distributed.init_process_group_from_env()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    distributed.barrier()
    assert list(distributed.shard(np.arange(5))) == [0, 1, 2, 3, 4]
    assert distributed.broadcast_object("x") == "x"


@pytest.mark.slow
def test_sharded_extraction_equals_single_process_and_fills_the_cache(ddp_job):
    source, data = tiny_source(), tiny_data()
    wanted = np.array([0, 3, 5, 6, 10, 23, 17])
    expected = extract(source, data.train.load(wanted))
    for rank in (0, 1):
        assert torch.allclose(torch.load(ddp_job / f"features-{rank}.pt"), expected, atol=1e-5)
    cache = FeatureCache(source, data, "train", root=ddp_job / "cache-a")
    assert list(np.flatnonzero(cache.done)) == sorted(wanted)
    assert torch.allclose(cache.get(wanted, progress=False), expected, atol=1e-5)  # all rows stored: nothing computed


@pytest.mark.slow
def test_ddp_replicas_end_with_identical_parameters(ddp_job):
    first, second = (torch.load(ddp_job / f"model-{rank}.pt") for rank in (0, 1))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    start = tiny_source().backbone.state_dict()
    assert not torch.equal(first["backbone.module.0.weight"], start["module.0.weight"])  # it did train
    reports = {(ddp_job / f"report-{rank}.json").read_text() for rank in (0, 1)}
    assert len(reports) == 1  # every rank took the same decision


@pytest.mark.slow
def test_the_ddp_run_folder_has_the_single_process_format(ddp_job, tmp_path, monkeypatch):
    if TINY not in list_sources():
        register_source(TINY, tiny_source)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    fit_run(tmp_path / "run-single", tmp_path / "cache")
    ddp_run, single_run = ddp_job / "run-ddp", tmp_path / "run-single"
    assert sorted(p.name for p in ddp_run.iterdir()) == sorted(p.name for p in single_run.iterdir())
    assert (ddp_run / "backbone.safetensors").exists()  # the zero head loses to fine-tuning
    for name in ("head.safetensors", "backbone.safetensors"):
        ddp, single = load_file(str(ddp_run / name)), load_file(str(single_run / name))
        assert {k: (v.shape, v.dtype) for k, v in ddp.items()} == {k: (v.shape, v.dtype) for k, v in single.items()}
    ddp_meta, single_meta = (json.loads((run / "run.json").read_text()) for run in (ddp_run, single_run))
    assert ddp_meta.keys() == single_meta.keys() and ddp_meta["metrics"].keys() == single_meta["metrics"].keys()
    assert ddp_meta["metrics"]["finetune"]["world_size"] == 2
    # The run loads back and its fine-tuned backbone reproduces the recorded test accuracy.
    estimator = HeadStart.load(ddp_run, source=tiny_source())
    data = tiny_data()
    accuracy = estimator.score(data.test.load(np.arange(len(data.test))), data.test.labels)
    assert accuracy == pytest.approx(ddp_meta["metrics"]["test_accuracy"])
