"""Augmenting the few training images (issue 31 item 4): seeded views, their features cached apart
from the images' own, averaged with each image's feature, `augment` in run.json and reloaded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from headstart import HeadStart
from headstart.data import load_image_folder
from headstart.data.augment import MAX_VIEWS, augmented_data, view, view_rows, with_views
from headstart.data.features import FeatureCache
from headstart.errors import InputError
from headstart.fit import fit_folder
from headstart.params import ParameterError
from helpers import run_cli, shared_dataset

R = 64


def picture(seed: int = 0, shape=(40, 60, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_views_are_deterministic_under_a_seed_and_differ_from_the_image():
    image = picture()
    assert np.array_equal(view(image, 0, 1, seed=0), image[:, ::-1])  # view 1: the flip
    crops = [view(image, 3, v, seed=7) for v in range(2, 6)]
    again = [view(image, 3, v, seed=7) for v in range(2, 6)]
    assert all(np.array_equal(a, b) for a, b in zip(crops, again))
    other_seed = [view(image, 3, v, seed=8) for v in range(2, 6)]
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(crops, other_seed))
    assert not all(a.shape == crops[0].shape and np.array_equal(a, crops[0]) for a in crops[1:])  # views differ
    for crop in crops:
        assert crop.dtype == np.uint8 and crop.shape[2] == 3 and not np.array_equal(crop, image)
        assert 0.3 * image.shape[0] * image.shape[1] <= crop.shape[0] * crop.shape[1]  # at least 35 % of the area


def test_view_rows_and_the_average_with_the_views():
    assert view_rows([0, 2], 3).tolist() == [[0, 1, 2], [2 * MAX_VIEWS, 2 * MAX_VIEWS + 1, 2 * MAX_VIEWS + 2]]
    x = torch.tensor([[0.0, 3.0], [6.0, 0.0]])
    views = torch.tensor([[3.0, 0.0], [0.0, 0.0], [0.0, 3.0], [0.0, 0.0]])  # image-major: 2 views of each
    assert torch.equal(with_views(x, views, 2), torch.tensor([[1.0, 1.0], [2.0, 1.0]]))
    assert with_views(x, views[:0], 0) is x


def test_the_augmented_data_has_a_cache_key_of_its_own_per_seed(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(picture(i)).save(tmp_path / "data" / name / f"{i}.png")
    data = load_image_folder(tmp_path / "data")
    keys = {data.key, augmented_data(data, 0).key, augmented_data(data, 1).key}
    assert len(keys) == 3
    views = augmented_data(data, 0).train
    assert len(views) == MAX_VIEWS * len(data.train)
    first = data.train.load([1])[0]
    assert np.array_equal(views.load([MAX_VIEWS])[0], view(first, 1, 1, 0))


@pytest.mark.slow
def test_augment_changes_the_head_is_recorded_and_reloaded(lite0, tmp_path):
    images = [picture(i, (48, 48, 3)) for i in range(6)]
    labels = ["a", "b"] * 3
    plain = HeadStart(lite0, "imprint", resolution=R).fit(images, labels)
    augmented = HeadStart(lite0, "imprint", resolution=R, augment=2).fit(images, labels)
    assert not torch.allclose(plain.head_.weight, augmented.head_.weight)
    again = HeadStart(lite0, "imprint", resolution=R, augment=2).fit(images, labels)
    assert torch.equal(again.head_.weight, augmented.head_.weight)  # seeded: the same views
    augmented.save(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["training"]["augment"] == 2
    assert HeadStart.load(tmp_path / "run", source=lite0).augment == 2
    plain.save(tmp_path / "plain")
    assert HeadStart.load(tmp_path / "plain", source=lite0).augment == 0
    with pytest.raises(InputError, match="augment needs the images themselves"):
        HeadStart(lite0, "imprint", augment=2).fit(plain.features(images), labels)


@pytest.mark.slow
def test_fit_caches_the_views_features_and_a_second_fit_computes_nothing(tmp_path, monkeypatch):
    data = shared_dataset("intel-scenes")
    folder = tmp_path / "two"
    for split in ("train", "test"):
        for name in ("forest", "sea"):
            (folder / split / name).mkdir(parents=True)
            for image in sorted((data / split / name).iterdir())[:3 if split == "train" else 2]:
                (folder / split / name / image.name).symlink_to(image)
    first = fit_folder("efficientnet-lite0", folder, tmp_path / "a", "imprint", resolution=R, epochs=5,
                       progress=False, augment=3)
    assert first.meta.training["augment"] == 3
    source, loaded = first.estimator.source_, load_image_folder(folder)
    views = FeatureCache(source, augmented_data(loaded, 0), "train", R)
    assert views.done.sum() == 3 * 6 and views.done[view_rows(range(6), 3).ravel()].all()

    def no_compute(*args, **kwargs):
        raise AssertionError("cached rows must not be recomputed")

    monkeypatch.setattr("headstart.data.features.extract_batches", no_compute)
    second = fit_folder("efficientnet-lite0", folder, tmp_path / "b", "imprint", resolution=R, epochs=5,
                        progress=False, augment=3)
    assert torch.equal(second.estimator.head_.weight, first.estimator.head_.weight)
    plain = fit_folder("efficientnet-lite0", folder, tmp_path / "c", "imprint", resolution=R, epochs=5,
                       progress=False)
    assert not torch.allclose(plain.estimator.head_.weight, first.estimator.head_.weight)
    assert "averaged with those of 3 augmented views" in (tmp_path / "a" / "README.md").read_text()
    assert "augmented views" not in (tmp_path / "c" / "README.md").read_text()
    run_cli("fit", "--data", folder, "--method", "imprint", "--resolution", R, "--epochs", 5, "--quiet", "--augment", 2,
            "--out", tmp_path / "d")
    assert json.loads((tmp_path / "d" / "run.json").read_text())["training"]["augment"] == 2


@pytest.mark.parametrize("augment", [-1, MAX_VIEWS + 1, 1.5])
def test_augment_is_checked_like_the_other_parameters(augment):
    with pytest.raises(ParameterError, match="augment"):
        HeadStart("efficientnet-lite0", "imprint", augment=augment).fit(np.zeros((2, 4), np.float32), ["a", "b"])
