"""A fit decides once (`headstart.fit_context`): the method, image size, placement, class names and
senses are decided and checked before any feature is extracted, and the rest of the fit (the head,
fine-tuning, the run folder) uses those decisions instead of making them again."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import headstart.estimator as E
import headstart.finetune as F
import headstart.senses.lookup as S
from headstart import HeadStart
from headstart.errors import UserError
from headstart.finetune import FinetuneConfig
from helpers import TINY_DIM, tiny_source


def images(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    x = rng.integers(0, 60, (n, 16, 16, 3), dtype=np.uint8)
    x[labels == 1, :, :, 0] += 150  # the second class is reddish
    return x, labels


def test_labels_and_class_names_are_checked_before_any_feature_is_extracted(monkeypatch):
    def no_extraction(*args, **kwargs):
        raise AssertionError("features were extracted before the class names were checked")

    monkeypatch.setattr(E, "extract", no_extraction)
    x, y = images(4)
    with pytest.raises(UserError, match="duplicate class names"):
        HeadStart(tiny_source(), "imprint", epochs=1).fit(x, y, ["cat", "Cat"])


def test_full_finetuning_of_precomputed_features_is_refused_before_the_head_is_trained(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("the head was trained before the input was checked")

    monkeypatch.setattr(E, "fit_head", no_training)
    with pytest.raises(UserError, match="full fine-tuning needs the images themselves"):
        HeadStart(tiny_source(), "imprint", full_finetune=True).fit(np.zeros((4, TINY_DIM), np.float32), [0, 1, 0, 1])


def test_fine_tuning_trains_on_the_fits_placement_without_resolving_the_device_again(monkeypatch):
    resolved = []
    monkeypatch.setattr(F, "resolve_device", lambda name: resolved.append(name) or torch.device(name))
    x, y = images(12)
    config = FinetuneConfig(epochs=1, batch_size=4, min_per_class=2, val_fraction=0.5)
    clf = HeadStart(tiny_source(), "imprint", epochs=2, full_finetune=True, finetune_config=config, device="cpu",
                    backend="torch").fit(x, y)
    assert resolved == []  # the placement the fit decided, handed on as a device, not as a name
    assert clf.finetune_report_["config"]["device"] == "cpu"  # what run.json records is unchanged
    assert clf.finetune_report_["val_accuracy_full"] is not None  # the network was trained


@pytest.mark.slow  # a fit on a folder through the real model and WordNet
def test_a_folder_fit_looks_the_names_senses_up_once(tmp_path, monkeypatch, lite0):
    from headstart.fit import fit_folder

    x, y = images(8)
    for i, (image, label) in enumerate(zip(x, y)):
        folder = tmp_path / "data" / ("train" if i < 6 else "test") / ("cat", "dog")[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    looked_up = []
    real = S._names_only
    monkeypatch.setattr(S, "_names_only", lambda *key: looked_up.append(key[0]) or real(*key))
    result = fit_folder(lite0, tmp_path / "data", tmp_path / "run", epochs=2, progress=False, resolution=32)
    assert looked_up == [("cat", "dog")]  # decided by check(), carried to the head by the Evidence
    assert [c["name"] for c in result.meta.classes] == ["cat", "dog"] and result.meta.resolution == 32
    assert result.estimator.resolution_ == 32


def test_a_fit_uses_the_context_check_made_and_refuses_one_of_other_classes(monkeypatch):
    clf = HeadStart(tiny_source(), "imprint", epochs=1, resolution=24)
    context = clf.check(["cat", "dog"], shots=2)
    assert (context.resolution, context.class_names, context.method.name) == (24, ("cat", "dog"), "imprint")
    monkeypatch.setattr(E, "decide", lambda *args: pytest.fail("the fit decided again"))
    x, y = images(4)
    assert clf.fit(x, y, ["cat", "dog"], context=context).resolution_ == 24
    with pytest.raises(UserError, match="the context was decided for the classes cat, dog, not cat, cow"):
        clf.fit(x, y, ["cat", "cow"], context=context)
