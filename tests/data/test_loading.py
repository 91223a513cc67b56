"""Images prepared in worker processes: the same batches as in this process, workers only where
they pay, no process left behind, and clean recovery when workers fail."""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from headstart.data import load_image_folder, loading
from headstart.data.features import extract
from headstart.data.loading import prepared_batches
from headstart.errors import UserError
from helpers import tiny_source


@pytest.fixture
def photos_folder(tmp_path):
    """Two classes of JPEG and PNG photos of several sizes (some shared, so batches mix both)."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog"]):
        (tmp_path / name).mkdir()
        for i in range(9):
            height, width = [(30, 40), (48, 32), (30, 40)][i % 3]
            image = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
            image.save(tmp_path / name / f"{i}.{'jpg' if i % 2 else 'png'}")
    return load_image_folder(tmp_path)


@pytest.fixture
def tiny():
    return tiny_source()


@pytest.fixture
def always_workers(monkeypatch):
    """Two workers whenever there are two batches (beside a CPU network on every core there are none)."""
    monkeypatch.setenv(loading.WORKERS_ENV, "2")


def batches(source, images, workers, batch_size=4, resolution=24, device=None):
    """Every batch, with `workers` processes whether or not they pay."""
    return [(rows, x) for rows, x in prepared_batches(source, images, resolution, batch_size, workers,
                                                      only_if_they_pay=False, device=device)]


@pytest.mark.parametrize("device", [None, torch.device("cpu")], ids=["resized in the workers", "workers decode only"])
def test_workers_prepare_the_same_batches_and_leave_no_process(photos_folder, tiny, device):
    serial = batches(tiny, photos_folder.train, workers=0)
    parallel = batches(tiny, photos_folder.train, workers=2, device=device)
    assert [rows for rows, _ in parallel] == [rows for rows, _ in serial]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(serial, parallel))
    assert sum(len(rows) for rows, _ in serial) == len(photos_folder.train)
    assert multiprocessing.active_children() == []


def test_features_with_workers_equal_features_without(photos_folder, tiny, always_workers, monkeypatch):
    with_workers = extract(tiny, photos_folder.train, batch_size=3)
    monkeypatch.setenv(loading.WORKERS_ENV, "0")
    assert torch.equal(extract(tiny, photos_folder.train, batch_size=3), with_workers)


def test_a_cpu_network_on_every_core_gets_no_workers_and_a_gpu_gets_them(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 16)
    assert loading.default_workers(torch.device("cpu")) == 0
    assert loading.default_workers(torch.device("cuda", 0)) == 8
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert loading.default_workers(torch.device("cpu")) == 12
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # four torchrun ranks of 4 threads share the 16 cores
    assert loading.default_workers(torch.device("cpu")) == 0
    assert loading.decode_workers(torch.device("cpu")) == (0, True)
    monkeypatch.setenv(loading.WORKERS_ENV, "3")
    assert loading.decode_workers(torch.device("cpu")) == (3, False)
    monkeypatch.setenv(loading.WORKERS_ENV, "many")
    with pytest.raises(UserError, match="number of processes"):
        loading.decode_workers(torch.device("cpu"))


def test_stopping_early_stops_the_workers(photos_folder, tiny):
    iterator = prepared_batches(tiny, photos_folder.train, 24, 2, workers=2, only_if_they_pay=False)
    next(iterator), next(iterator)
    assert multiprocessing.active_children()  # the workers are running
    iterator.close()
    assert multiprocessing.active_children() == []


def test_workers_start_only_where_preparing_costs_more_than_a_share_of_the_network(tiny):
    def slow_load(indices):
        time.sleep(0.02 * len(indices))
        return [np.full((20, 20), 7 * i % 255, dtype=np.uint8) for i in indices]

    class SlowFiles:
        def __len__(self):
            return 12

        load = staticmethod(slow_load)

    in_memory = [np.zeros((20, 20), np.uint8)] * 12
    for images, network_s, expect_workers in [(SlowFiles(), 0.0, True), (in_memory, 0.2, False)]:
        seen = []
        for _ in prepared_batches(tiny, images, 24, 3, workers=1):
            seen.append(bool(multiprocessing.active_children()))
            time.sleep(network_s)
        assert any(seen) == expect_workers
    assert multiprocessing.active_children() == []


def test_a_dead_worker_is_replaced_by_this_process_with_a_warning(photos_folder, tiny):
    expected = batches(tiny, photos_folder.train, workers=0)
    load = photos_folder.train.load

    def dies_in_a_worker(indices):
        if torch.utils.data.get_worker_info() is not None and 8 in indices:
            os._exit(3)
        return load(indices)

    class Fragile:
        def __len__(self):
            return len(photos_folder.train)

        load = staticmethod(dies_in_a_worker)

    with pytest.warns(UserWarning, match="decoding in this process"):
        got = batches(tiny, Fragile(), workers=1)
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(expected, got)) and len(got) == len(expected)
    assert multiprocessing.active_children() == []


def test_a_file_that_no_longer_decodes_is_one_user_error_from_a_worker(photos_folder, tiny, always_workers,
                                                                        tmp_path, monkeypatch):
    for victim in tmp_path.glob("dog/*.jpg"):  # training images after the first batch (cats), which this process makes
        victim.write_bytes(b"not a jpeg any more")
    started = []
    real = loading._from_workers
    monkeypatch.setattr(loading, "_from_workers", lambda *args: started.append(True) or real(*args))
    with pytest.raises(UserError, match=r"cannot read image .*dog.*\.jpg") as error:
        extract(tiny, photos_folder.train, batch_size=2)
    assert started  # the error came through the workers
    assert "\n" not in str(error.value) and "Traceback" not in str(error.value)
    assert multiprocessing.active_children() == []
