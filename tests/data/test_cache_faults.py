"""Fault injection on the feature cache, second round (issue 22): stale features must never be read
as if they belonged to edited files, relabelled CSVs, moved rows or a crash's zeroed pages."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from headstart.data import load_image_folder
from headstart.data.features import FeatureCache, extract
from helpers import ROOT, TESTS, tiny_source, write_images


@pytest.fixture
def tiny():
    return tiny_source()


def cached_and_fresh(tiny, data, split, root):
    """(features read through a cache at `root`, features extracted without one) of a split."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cached = FeatureCache(tiny, data, split, root=root).get(progress=False)
    images = data.split(split)
    return cached, extract(tiny, images.load(np.arange(len(images))))


def assert_cache_agrees(tiny, data, root):
    for split in ("train", "test"):
        cached, fresh = cached_and_fresh(tiny, data, split, root)
        assert torch.allclose(cached, fresh, atol=1e-6), split


def write_csv(folder, rows):
    (folder / "l.csv").write_text("path,label" + (",split" if len(rows[0]) == 3 else "") + "\n"
                                  + "".join(",".join(row) + "\n" for row in rows))
    return folder / "l.csv"


def csv_rows(folder):
    """path,label rows of the images of write_images(folder, 4, cat/dog/car), by class folder."""
    return [(f"{name}/{i}.png", name) for name in ("cat", "dog", "car") for i in range(4)]


def test_relabelled_csv_rows_are_not_read_from_the_old_split(tmp_path, tiny):
    write_images(tmp_path, 4, ("cat", "dog", "car"), size=16)
    rows = csv_rows(tmp_path)
    data = load_image_folder(write_csv(tmp_path, rows))
    assert_cache_agrees(tiny, data, tmp_path / "cache")
    relabelled = [(p, {"cat": "dog", "dog": "cat"}.get(label, label)) if i % 3 == 0 else (p, label)
                  for i, (p, label) in enumerate(rows)]
    data = load_image_folder(write_csv(tmp_path, relabelled))
    assert_cache_agrees(tiny, data, tmp_path / "cache")


def test_rows_moved_between_train_and_test_are_not_read_from_the_old_split(tmp_path, tiny):
    write_images(tmp_path, 4, ("cat", "dog", "car"), size=16)
    rows = [(p, label, "test" if p.endswith("0.png") else "train") for p, label in csv_rows(tmp_path)]
    data = load_image_folder(write_csv(tmp_path, rows))
    assert_cache_agrees(tiny, data, tmp_path / "cache")
    swap = {"cat/0.png": "train", "cat/1.png": "test"}  # one row each way: both splits keep their sizes
    data = load_image_folder(write_csv(tmp_path, [(p, label, swap.get(p, s)) for p, label, s in rows]))
    assert_cache_agrees(tiny, data, tmp_path / "cache")


def keep_times(path, change):
    """Apply `change()` and set `path`'s modification time back, as `cp -p` or `rsync -t` leave it."""
    stat = path.stat()
    change()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_pixels_rewritten_under_the_same_size_and_time_are_recomputed(tmp_path, tiny):
    root = tmp_path / "data"
    write_images(root, 4, ("cat", "dog"), size=16)
    bmp = root / "cat" / "0.bmp"
    Image.fromarray(np.full((16, 16, 3), 10, np.uint8)).save(bmp)
    assert_cache_agrees(tiny, load_image_folder(root, split_seed=1), tmp_path / "cache")
    size = bmp.stat().st_size
    keep_times(bmp, lambda: Image.fromarray(np.full((16, 16, 3), 240, np.uint8)).save(bmp))
    assert bmp.stat().st_size == size
    assert_cache_agrees(tiny, load_image_folder(root, split_seed=1), tmp_path / "cache")


def test_same_size_files_swapped_between_classes_are_recomputed(tmp_path, tiny):
    root = tmp_path / "data"
    write_images(root, 4, ("cat", "dog"), size=16)
    a, b = root / "cat" / "9.bmp", root / "dog" / "9.bmp"  # BMPs of one size have one file size
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(a)
    Image.fromarray(np.full((16, 16, 3), 255, np.uint8)).save(b)
    assert a.stat().st_size == b.stat().st_size
    assert_cache_agrees(tiny, load_image_folder(root), tmp_path / "cache")
    bytes_a, bytes_b = a.read_bytes(), b.read_bytes()
    keep_times(a, lambda: a.write_bytes(bytes_b))
    keep_times(b, lambda: b.write_bytes(bytes_a))
    assert_cache_agrees(tiny, load_image_folder(root), tmp_path / "cache")


def test_values_zeroed_behind_complete_checksums_are_recomputed(tmp_path, tiny):
    """What a crash leaves when the checksums (done-flags) reached the disk but the values did not."""
    data = load_image_folder(write_images(tmp_path / "data"))
    cache = FeatureCache(tiny, data, "train", root=tmp_path / "cache")
    expected = cache.get(progress=False)
    assert cache.done.all()
    with open(cache.path, "r+b") as f:
        f.seek(cache._values_offset())
        f.write(bytes(4 * cache.shape[0] * cache.shape[1]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = FeatureCache(tiny, data, "train", root=tmp_path / "cache").get(progress=False)
    assert torch.allclose(got, expected, atol=1e-6)
    assert len(caught) == 1 and "checksum" in str(caught[0].message)


FILL_CACHE = """
import sys, warnings
import numpy as np, torch
from headstart.data.dataset import Split, TargetData
from headstart.data.features import FeatureCache, extract
from helpers import tiny_source

rng = np.random.default_rng(0)
images = [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(4096)]
split = Split("train", np.arange(4096) % 2, lambda idx: [images[i] for i in idx])
data = TargetData("noise", "noise-4096", ["a", "b"], split, split)
source = tiny_source()
warnings.simplefilter("ignore")
got = FeatureCache(source, data, "train", root=__import__("pathlib").Path(sys.argv[1])).get(progress=False)
assert torch.allclose(got, extract(source, images), atol=1e-6)
print("ok")
"""


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 128 KiB tmpfs (root only): a real full disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.slow
def test_a_full_disk_under_the_cache_is_bypassed_not_a_crash(small_tmpfs):
    """4096 rows of 16 floats (256 KiB of values) do not fit: the sparse file is created, its pages
    cannot all be. The map once died there with SIGBUS; the next run must not crash either."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
    for attempt in ("first", "next"):
        result = subprocess.run([sys.executable, "-c", FILL_CACHE, str(small_tmpfs)], env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0 and result.stdout.strip() == "ok", (attempt, result.returncode, result.stderr)


def test_rows_swapped_together_with_their_checksums_are_recomputed(tmp_path, tiny):
    """Each checksum covers its row's place and the file's key: two rows exchanged with their
    checksums (a bad copy, a hand edit) must not be read as each other's features."""
    data = load_image_folder(write_images(tmp_path / "data"))
    cache = FeatureCache(tiny, data, "train", root=tmp_path / "cache")
    expected = cache.get(progress=False)
    assert not torch.allclose(expected[0], expected[1])
    row_bytes = 4 * cache.shape[1]
    with open(cache.path, "r+b") as f:
        for start, size in ((4096, 8), (cache._values_offset(), row_bytes)):  # checksums, then values
            f.seek(start)
            first, second = f.read(size), f.read(size)
            f.seek(start)
            f.write(second + first)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = FeatureCache(tiny, data, "train", root=tmp_path / "cache").get(progress=False)
    assert torch.allclose(got, expected, atol=1e-6)
    assert len(caught) == 1 and "2 rows that do not match their checksums" in str(caught[0].message)
