"""Full fine-tuning (LP-FT): augmentation, frozen BatchNorm, the never-worse guard, the skip rule,
and one real run of EfficientNet-Lite0 on a few Fashion-MNIST images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headstart.data.features import extract
from headstart.errors import UserError
from headstart.finetune import (
    FINETUNE_PARAMETERS,
    FinetuneConfig,
    augment,
    finetune,
    train_full,
)
from headstart.train import logistic_regression
from helpers import colour_images, finetuned_accuracy, tiny_source, zero_head_fitter


def test_augment_keeps_shape_is_seeded_and_changes_images():
    x = torch.randn(4, 3, 20, 20)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.allclose(a, x)
    identity = augment(x, torch.Generator().manual_seed(1), crop_scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=False)
    assert torch.allclose(identity, x, atol=1e-5)


@pytest.mark.slow
def test_train_full_updates_weights_keeps_batchnorm_statistics_and_the_source(monkeypatch):
    from headstart import distributed

    # the config's device (the estimator's placement) decides where it trains, not the process default
    monkeypatch.setattr(distributed, "device", lambda: pytest.fail("fine-tuning ignored its placement"))
    source = tiny_source()
    before = {k: v.clone() for k, v in source.backbone.state_dict().items()}
    images, labels = colour_images(4)
    head = (torch.zeros(3, source.feature_dim), torch.zeros(3))
    config = FinetuneConfig(epochs=2, batch_size=4, lr=1e-2, device="cpu")
    model, losses = train_full(source, images, torch.as_tensor(labels), np.arange(len(labels)), head, config)
    after = model.backbone.state_dict()
    assert len(losses) == 2 and all(np.isfinite(losses))
    stats = [k for k in after if "running" in k]
    assert stats and all(torch.equal(after[k], before[k]) for k in stats)
    assert not torch.equal(after["module.0.weight"], before["module.0.weight"])  # the backbone trained
    assert model.head.weight.abs().sum() > 0  # and the head
    assert all(torch.equal(v, before[k]) for k, v in source.backbone.state_dict().items())  # source untouched


def test_too_few_images_per_class_skips_and_keeps_the_head_only_result():
    source = tiny_source()
    images, labels = colour_images(3)  # < 4 per class: no honest validation part
    init = (torch.randn(3, source.feature_dim), torch.randn(3))
    state, w, b, report = finetune(source, images, labels, init, FinetuneConfig(epochs=1),
                                   features=extract(source, images, None))
    assert state is None and torch.equal(w, init[0]) and torch.equal(b, init[1])
    assert report["kept"] == "head-only" and not report["finetuned"]
    assert "skipped" in report["message"] and "4" in report["message"]


@pytest.mark.slow
def test_a_destructive_fine_tune_is_thrown_away():
    source = tiny_source()
    images, labels = colour_images(8)
    init = (torch.randn(3, source.feature_dim), torch.randn(3))
    config = FinetuneConfig(epochs=2, batch_size=6, optimizer="sgd", lr=1e4, backbone_lr_scale=1.0, augment=False)
    state, w, b, report = finetune(source, images, labels, init, config,  # default head-only stage: logreg
                                   features=extract(source, images, None))
    assert report["val_accuracy_full"] <= report["val_accuracy_head_only"]  # ties go to head-only too
    assert state is None and report["kept"] == "head-only"
    assert torch.equal(w, init[0]) and torch.equal(b, init[1])
    assert report["val_images"] == 6 and report["fit_images"] == 18  # 25 % of 8 per class held out


@pytest.mark.slow
def test_a_helpful_fine_tune_is_kept_and_its_reported_accuracy_is_real():
    source = tiny_source()
    images, labels = colour_images(8)
    init = (torch.zeros(3, source.feature_dim), torch.zeros(3))
    config = FinetuneConfig(epochs=4, batch_size=6, lr=3e-2, backbone_lr_scale=1.0)
    state, w, b, report = finetune(source, images, labels, init, config, fit_head=zero_head_fitter,
                                   features=extract(source, images, None))
    assert report["kept"] == "full" and report["finetuned"]
    assert report["val_accuracy_full"] > report["val_accuracy_head_only"]
    assert set(state) == set(source.backbone.state_dict()) and w.shape == (3, source.feature_dim)
    # The returned network scores on the held-out images exactly what the report says.
    from headstart.data.dataset import stratified_split

    _, val = stratified_split(labels, config.val_fraction, config.seed)
    val_acc = finetuned_accuracy(source, state, (w, b), [images[i] for i in val], labels[val])
    assert val_acc == pytest.approx(report["val_accuracy_full"])


@pytest.mark.slow
def test_lite0_on_fashion_mnist_is_never_worse_than_head_only():
    from headstart.data import load_dataset
    from headstart.protocol import few_shot_indices
    from headstart.sources import load_source

    source = load_source("efficientnet-lite0")
    data = load_dataset("fashion-mnist")
    indices = few_shot_indices(data.train.labels, 4, seed=0)  # 40 images: 30 fit / 10 validation
    images, labels = data.train.load(indices), data.train.labels[indices]
    features = extract(source, images, 64)
    # Fixed-C logistic regression as the head-only stage: the cross-validated default costs ~15x more.
    fit_head = lambda part: logistic_regression(features[part], torch.as_tensor(labels)[part], 10, c=1.0)  # noqa: E731
    init = fit_head(np.arange(len(labels)))
    config = FinetuneConfig(epochs=1, batch_size=10, resolution=64)
    state, w, b, report = finetune(source, images, labels, init, config, fit_head=fit_head, features=features)
    head_only, full = report["val_accuracy_head_only"], report["val_accuracy_full"]
    assert 0 <= head_only <= 1 and 0 <= full <= 1 and report["val_images"] == 10
    if full > head_only:
        assert report["kept"] == "full" and state is not None
        assert set(state) == set(source.backbone.state_dict())
    else:
        assert report["kept"] == "head-only" and state is None
        assert torch.equal(w, init[0]) and torch.equal(b, init[1])
    assert w.shape == (10, 1280) and b.shape == (10,)
    assert f"{100 * head_only:.1f} %" in report["message"]


def test_the_head_only_candidate_is_trained_with_the_fits_controls(monkeypatch):
    # The guard must weigh the fine-tuned network against the head the user would get: trained with the
    # same learning rate, per-image weights, early stopping and views, on the fit part alone.
    import headstart.finetune as F
    from headstart import HeadStart
    from headstart.data.dataset import stratified_split

    started_from = []  # the head-only candidate: the head full training starts from (and the guard scores)
    real = F.train_full
    monkeypatch.setattr(F, "train_full", lambda *args, **kwargs: started_from.append(args[4]) or real(*args, **kwargs))
    images, labels = colour_images(6)
    names, weights = ["red", "green", "blue"], np.linspace(0.2, 2.0, len(labels))
    controls = dict(method="imprint", epochs=12, random_state=3, device="cpu", learning_rate=0.8,
                    class_weight={"red": 4.0}, early_stopping=True, validation_fraction=0.34, n_iter_no_change=2,
                    augment=1)  # each control changes this head
    config = FinetuneConfig(epochs=0, batch_size=6)  # no fine-tuning steps: the candidate is what is tested
    model = HeadStart(tiny_source(), full_finetune=True, finetune_config=config, **controls)
    model.fit(images, labels, names, sample_weight=weights)
    fit_part, _ = stratified_split(labels, config.val_fraction, config.seed)
    fit_images = [images[i] for i in fit_part]
    alone = HeadStart(tiny_source(), **controls).fit(fit_images, labels[fit_part], names,
                                                    sample_weight=weights[fit_part])
    stop = alone.training_["early_stopping"]
    assert 0 < stop["best_epoch"] < stop["stopped_epoch"] < controls["epochs"]  # early stopping (and the lr) mattered
    (w, b), = started_from
    assert torch.allclose(w, alone.head_.weight, atol=1e-6) and torch.allclose(b, alone.head_.bias, atol=1e-6)
    assert model.finetune_report_["head_only_candidate"].startswith("trained with the head-only result's controls")
    plain = HeadStart(tiny_source(), method="imprint", epochs=12, random_state=3, device="cpu").fit(
        fit_images, labels[fit_part], names)
    assert not torch.allclose(w, plain.head_.weight, atol=1e-3)  # the controls matter: the test can fail


def test_early_stopping_with_no_image_to_hold_out_of_the_fit_part_says_where_it_fell_short():
    from headstart import HeadStart

    images, labels = colour_images(2)  # the fit itself holds one image of each class out; the fit part has 1 each
    config = FinetuneConfig(epochs=0, min_per_class=2, val_fraction=0.5)
    model = HeadStart(tiny_source(), method="imprint", epochs=2, device="cpu", early_stopping=True,
                      full_finetune=True, finetune_config=config)
    with pytest.raises(UserError, match="^early stopping needs a validation image within full fine-tuning's fit "
                                        "part: give some class more training images, lower"):
        model.fit(images, labels, ["red", "green", "blue"])


def test_the_keep_or_drop_decision_is_said_with_its_numbers():
    from headstart.finetune import decision_message

    dropped = decision_message(False, 5 / 6, 4 / 6, 6, 24, 0.25)
    assert dropped.startswith("full fine-tuning: kept the head-only result: on 6 validation images (25 % of each")
    assert "the head alone got 5 right (83.3 %), the fine-tuned network 4 (66.7 %); ties go to head-only" in dropped
    assert "with 6 images one image is 16.7 pp, so the decision is noisy" in dropped
    kept = decision_message(True, 0.8, 0.9, 40, 160, 0.25)
    assert "kept the fine-tuned network: on 40 validation images" in kept and "36 (90.0 %)" in kept
    assert "noisy" not in kept and "ties" not in kept


@pytest.mark.slow
def test_fine_tuning_shows_its_progress_on_stderr_unless_asked_not_to(capsys):
    source = tiny_source()
    images, labels = colour_images(4)
    head = (torch.zeros(3, source.feature_dim), torch.zeros(3))
    for progress in (True, False):
        config = FinetuneConfig(epochs=2, batch_size=4, device="cpu", progress=progress)
        train_full(source, images, torch.as_tensor(labels), np.arange(len(labels)), head, config)
        err = capsys.readouterr().err
        assert ("fine-tuning" in err and "6/6" in err) == progress  # 3 steps of 4 images, 2 epochs


def test_the_fit_report_says_the_decision_once(tmp_path):
    from headstart.finetune import decision_message
    from headstart.fit import fit_report
    from headstart.run_folder import RunMeta

    message = decision_message(False, 0.5, 0.25, 4, 16, 0.25)
    meta = RunMeta(model="tiny", model_key="k", resolution=24, feature_dim=16, mean=[0, 0, 0], std=[1, 1, 1],
                   class_names=["a", "b"], method="logreg", training={"data": "d"},
                   metrics={"train_images": 16, "test_images": 4, "accuracy_before_training": 0.5,
                            "test_accuracy": 0.5, "finetune": {"message": message}})
    report = fit_report(tmp_path / "run", meta)
    assert f"- {message}\n" in report and report.count("full fine-tuning") == 1


@pytest.mark.parametrize("field, value, valid", [
    ("epochs", -1, "an integer >= 0"),
    ("epochs", 1.5, "an integer >= 0"),
    ("batch_size", 0, "an integer >= 1"),
    ("optimizer", "adam", "one of 'adamw', 'sgd'"),
    ("lr", 0.0, "None or a number > 0"),
    ("backbone_lr_scale", -0.1, "a number >= 0"),
    ("weight_decay", float("nan"), "a number >= 0"),
    ("momentum", 1.5, "a number >= 0 and <= 1"),
    ("resolution", 8, "None or an integer >= 16 and <= 1024"),
    ("val_fraction", 0.0, "a number > 0 and < 1"),
    ("val_fraction", 1.0, "a number > 0 and < 1"),
    ("min_per_class", 1, "an integer >= 2"),
    ("augment", "yes", "True or False"),
    ("crop_scale", (0.0, 1.0), "a list of 2, each a number > 0 and <= 1"),
    ("crop_scale", (0.6,), "a list of 2, each a number > 0 and <= 1"),
    ("seed", -1, "an integer >= 0"),
    ("eval_batch_size", 0, "an integer >= 1"),
    ("device", 0, "None or a device name"),
    ("progress", "yes", "None or True or False"),
])
def test_a_finetune_config_refuses_each_value_outside_its_table(field, value, valid):
    with pytest.raises(UserError, match=f"^FinetuneConfig parameter '{field}' must be {valid}, got "):
        FinetuneConfig(**{field: value})


def test_every_finetune_field_has_its_constraint_and_the_edges_are_accepted():
    assert set(FINETUNE_PARAMETERS) == set(vars(FinetuneConfig()))
    FinetuneConfig(epochs=0, lr=None, momentum=1.0, resolution=16, val_fraction=0.01, min_per_class=2,
                   crop_scale=[1.0, 1.0], seed=0, device=torch.device("cpu"), optimizer="sgd", progress=None)


@pytest.mark.slow
def test_the_estimator_passes_its_progress_setting_into_the_fine_tuning():
    # HeadStart hands its own `progress` (None: decided by the input's size) to FinetuneConfig: a
    # table that refused None would break every full fine-tune of the library
    from headstart import HeadStart

    images, labels = colour_images(4)
    model = HeadStart(tiny_source(), method="logreg", full_finetune=True, epochs=2, progress=None,
                      finetune_config=FinetuneConfig(epochs=1, batch_size=6))
    model.fit(images, labels, ["red", "green", "blue"])
    assert model.predict(images[:1]).shape == (1,)
