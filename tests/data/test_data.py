import gzip
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from headstart.data import load_dataset, load_image_folder
from headstart.data.dataset import stratified_split
from headstart.data.fashion_mnist import CLASS_NAMES, read_idx
from headstart.data.features import FeatureCache, extract
from headstart.errors import UserError
from headstart.protocol import few_shot_indices


def test_read_idx_parses_header_and_body(tmp_path):
    body = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in body.shape) + body.tobytes()
    (tmp_path / "x.gz").write_bytes(gzip.compress(raw))
    assert np.array_equal(read_idx(tmp_path / "x.gz"), body)
    (tmp_path / "bad").write_bytes(raw[:-3])
    with pytest.raises(UserError, match="truncated"):
        read_idx(tmp_path / "bad")


def test_fashion_mnist_from_debian_files(fashion):
    assert fashion.class_names == CLASS_NAMES
    assert len(fashion.train) == 60000 and len(fashion.test) == 10000
    assert np.array_equal(np.bincount(fashion.test.labels), np.full(10, 1000))
    image = fashion.train.load([0])[0]
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert fashion.train.labels[0] == 9  # the first training image is an ankle boot


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(UserError, match="fashion-mnist"):
        load_dataset("imagenet-21k-please")


def test_few_shot_subsets_are_seeded_stratified_and_nested():
    labels = np.repeat(np.arange(4), 10)
    five = few_shot_indices(labels, 5, seed=3)
    assert np.array_equal(np.bincount(labels[five]), [5, 5, 5, 5])
    assert np.array_equal(five, few_shot_indices(labels, 5, seed=3))
    assert not np.array_equal(five, few_shot_indices(labels, 5, seed=4))
    assert set(few_shot_indices(labels, 2, seed=3)) <= set(five)
    assert len(few_shot_indices(labels, 0, seed=0)) == 0


def test_stratified_split_keeps_every_class_on_both_sides():
    labels = np.repeat(np.arange(3), [2, 5, 10])
    train, test = stratified_split(labels, 0.2, seed=0)
    assert set(labels[train]) == set(labels[test]) == {0, 1, 2}
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == len(labels)


def write_folder(root, counts, size=(20, 16)):
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(root / name / f"{i}.png")


def test_image_folder_split_and_corrupt_files(tmp_path):
    write_folder(tmp_path, {"cat": 5, "dog": 6})
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "dog" / "notes.txt").write_text("hello")
    write_folder(tmp_path / "cat" / ".ipynb_checkpoints", {"old": 2})  # hidden: neither images nor skipped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_image_folder(tmp_path)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "broken.jpg" in messages[0] and "notes.txt" in messages[0]
    assert data.class_names == ["cat", "dog"]
    assert len(data.train) + len(data.test) == 11
    image = data.test.load([0])[0]
    assert image.size == (16, 20) and image.mode == "RGB"


def test_image_folder_with_train_and_test(tmp_path):
    write_folder(tmp_path / "train", {"a": 3, "b": 3})
    write_folder(tmp_path / "test", {"a": 1, "b": 2})
    data = load_image_folder(tmp_path)
    assert len(data.train) == 6 and len(data.test) == 3
    assert list(data.test.labels) == [0, 1, 1]


@pytest.mark.parametrize("layout, message", [
    ({"only": 3}, "at least two class"),
    ({"a": 2, "empty": 0}, "no readable images"),
])
def test_image_folder_errors(tmp_path, layout, message):
    write_folder(tmp_path, layout)
    with pytest.raises(UserError, match=message):
        load_image_folder(tmp_path)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_image_folder(tmp_path / "nope")


@pytest.mark.slow
def test_feature_cache_computes_once_and_matches_direct_extraction(lite0, fashion, tmp_path, monkeypatch):
    idx = np.array([5, 1, 7])
    cache = FeatureCache(lite0, fashion, "test", resolution=64, root=tmp_path)
    first = cache.get(idx, progress=False)
    direct = extract(lite0, fashion.test.load(idx), resolution=64)
    assert torch.allclose(first, direct, atol=1e-5)

    def no_compute(*args, **kwargs):
        raise AssertionError("cached rows must not be recomputed")

    monkeypatch.setattr("headstart.data.features.extract_batches", no_compute)
    again = FeatureCache(lite0, fashion, "test", resolution=64, root=tmp_path)  # a new run, same files
    assert torch.equal(again.get(np.array([1, 5]), progress=False), first[[1, 0]])
    assert list(np.flatnonzero(again.done)) == [1, 5, 7]


@pytest.mark.slow
def test_feature_cache_is_keyed_by_resolution(lite0, fashion, tmp_path):
    small = FeatureCache(lite0, fashion, "test", resolution=64, root=tmp_path)
    large = FeatureCache(lite0, fashion, "test", resolution=96, root=tmp_path)
    assert small.path != large.path
    assert not torch.allclose(small.get([0], progress=False), large.get([0], progress=False))


@pytest.mark.parametrize("test_name", ["val", "validation"])
def test_train_and_val_folders_are_the_splits_not_classes(tmp_path, test_name):
    write_folder(tmp_path / "train", {"cat": 3, "dog": 3})
    write_folder(tmp_path / test_name, {"cat": 1, "dog": 2})
    data = load_image_folder(tmp_path)
    assert data.class_names == ["cat", "dog"] and len(data.train) == 6 and len(data.test) == 3


def test_a_lone_train_folder_is_split(tmp_path):
    write_folder(tmp_path / "train", {"cat": 5, "dog": 5})
    data = load_image_folder(tmp_path)
    assert data.class_names == ["cat", "dog"] and len(data.train) + len(data.test) == 10 and len(data.test) == 2


@pytest.mark.parametrize("layout, message", [
    (["train", "val", "test"], "several test splits"),
    (["val"], "no train/ folder"),
])
def test_ambiguous_split_layouts_are_errors(tmp_path, layout, message):
    for split in layout:
        write_folder(tmp_path / split, {"cat": 2, "dog": 2})
    with pytest.raises(UserError, match=message):
        load_image_folder(tmp_path)


def test_a_csv_of_paths_and_labels(tmp_path):
    write_folder(tmp_path / "images", {"a": 4, "b": 4})
    rows = [f"images/{c}/{i}.png,{c},{'test' if i == 3 else 'train'}" for c in "ab" for i in range(4)]
    (tmp_path / "list.csv").write_text("path,label,split\n" + "\n".join(rows) + "\n")
    data = load_image_folder(tmp_path / "list.csv")
    assert data.class_names == ["a", "b"] and len(data.train) == 6 and list(data.test.labels) == [0, 1]
    (tmp_path / "nosplit.csv").write_text("path,label\n" + "\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    assert len(load_image_folder(tmp_path / "nosplit.csv").test) == 2
    (tmp_path / "bad.csv").write_text("path,label\nimages/a/missing.png,a\nimages/b/0.png,b\n")
    with pytest.raises(UserError, match="missing files"):
        load_image_folder(tmp_path / "bad.csv")
    assert load_dataset(str(tmp_path / "list.csv")).class_names == ["a", "b"]
    # absolute paths, and a CSV in another folder than its images
    (tmp_path / "lists").mkdir()
    absolute = [f"{tmp_path}/{row}" for row in rows]
    (tmp_path / "lists" / "abs.csv").write_text("path,label,split\n" + "\n".join(absolute) + "\n")
    elsewhere = load_image_folder(tmp_path / "lists" / "abs.csv")
    assert len(elsewhere.train) == 6 and list(elsewhere.test.labels) == [0, 1]
