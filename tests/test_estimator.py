"""The estimator API end to end on real photos (a few caltech50 images at 64 px), own models,
and export to ONNX and TorchScript."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import headstart
from headstart import HeadStart, SourceModel
from headstart.data import load_image_folder
from headstart.errors import UserError
from headstart.protocol import few_shot_indices
from helpers import run_cli, shared_dataset
from own_models import HFStyle, convnet

CLASSES = [0, 3, 8, 18, 43]  # Faces, ant, butterfly, flamingo, strawberry
R = 64


@pytest.fixture(scope="module")
def photos():
    """(train images, labels, test images, test labels, names): 2 + 3 per class, resized to R."""
    data = load_image_folder(shared_dataset("caltech50"))
    names = [data.class_names[c] for c in CLASSES]

    def pick(split, per_class):
        idx = few_shot_indices(split.labels, per_class, seed=0)
        idx = idx[np.isin(split.labels[idx], CLASSES)]
        images = [np.asarray(im.resize((R, R), Image.BILINEAR)) for im in split.load(idx)]
        return images, np.searchsorted(CLASSES, split.labels[idx])

    return (*pick(data.train, 2), *pick(data.test, 3), names)


@pytest.fixture(scope="module")
def fitted(photos):
    images, labels, _, _, names = photos
    return HeadStart("efficientnet-lite0", resolution=R).fit(images, labels, names)


@pytest.mark.slow
def test_fit_predict_and_probabilities(fitted, photos):
    _, _, test_images, test_labels, names = photos
    proba = fitted.predict_proba(test_images)
    assert proba.shape == (len(test_images), 5) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(fitted.predict(test_images), proba.argmax(axis=1))
    assert fitted.class_names_ == names and list(fitted.classes_) == [0, 1, 2, 3, 4]
    assert fitted.head_.weight.shape == (5, 1280)
    assert fitted.score(test_images, test_labels) >= 0.6  # chance is 0.2
    assert [c["name"] for c in fitted.senses_] == names and fitted.record_


@pytest.mark.slow
def test_precomputed_features_give_the_same_head(fitted, photos):
    images, labels, test_images, _, names = photos
    features = fitted.features(images)
    again = HeadStart("efficientnet-lite0", resolution=R).fit(features, labels, names)
    assert torch.allclose(again.head_.weight, fitted.head_.weight, atol=1e-5)
    assert np.allclose(again.predict_proba(fitted.features(test_images)), fitted.predict_proba(test_images), atol=1e-5)


@pytest.mark.slow
def test_save_and_load_round_trip(fitted, photos, tmp_path):
    _, _, test_images, _, names = photos
    fitted.save(tmp_path / "run")
    loaded = HeadStart.load(tmp_path / "run")
    assert loaded.class_names_ == names and list(loaded.classes_) == [0, 1, 2, 3, 4] and loaded.resolution_ == R
    assert np.allclose(loaded.predict_proba(test_images), fitted.predict_proba(test_images), atol=1e-6)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["model"] == "efficientnet-lite0" and meta["record"] == fitted.record_
    assert [c["name"] for c in meta["classes"]] == names
    assert {"name", "synset", "source", "how", "alternatives"} <= set(meta["classes"][0])


@pytest.mark.slow
def test_exports_take_raw_files_of_any_size_and_match_predict(fitted, tmp_path):
    """ONNX (run by onnxruntime) and TorchScript on the decoded original files, of several sizes,
    give `headstart predict`'s probabilities: resizing and normalisation are inside them."""
    import onnx
    import onnxruntime

    from headstart.data.folder import ImageFiles
    from headstart.data.images import open_image
    from headstart.export import export_onnx, export_torchscript
    from headstart.fit import predict

    originals = sorted((shared_dataset("caltech50") / "test").rglob("*.jpg"))[:3]
    odd = tmp_path / "odd.png"  # taller than wide, larger than the resolution on one side only
    open_image(originals[0]).resize((41, 150)).save(odd)
    files = [*originals, odd]
    expected = fitted.predict_proba(ImageFiles(files))
    top = predict(fitted, ImageFiles(files), top=5)
    assert [[name for name, _ in row] for row in top] == [[fitted.class_names_[i] for i in np.argsort(-p)]
                                                          for p in expected]
    session = onnxruntime.InferenceSession(str(export_onnx(fitted, tmp_path / "m.onnx")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        extra = {"headstart.json": ""}
        scripted = torch.jit.load(str(export_torchscript(fitted, tmp_path / "m.pt")), _extra_files=extra)
    sizes = set()
    for path, want in zip(files, expected):
        image = np.array(open_image(path))[None]  # uint8 [1, H, W, 3] as decoded (a writable copy, as torch wants)
        sizes.add(image.shape)
        (got,) = session.run(None, {"images": image})
        assert np.abs(got[0] - want).max() < 1e-3
        with torch.inference_mode():
            assert np.abs(scripted(torch.from_numpy(image)).numpy()[0] - want).max() < 1e-3
    assert len(sizes) >= 2
    empty = np.zeros((0, 40, 50, 3), np.uint8)  # as predict_proba([]) gives [0, C]
    assert session.run(None, {"images": empty})[0].shape == scripted(torch.from_numpy(empty)).shape == (0, 5)
    for meta in (json.loads(onnx.load(str(tmp_path / "m.onnx")).metadata_props[0].value),
                 json.loads(extra["headstart.json"])):
        assert meta["class_names"] == fitted.class_names_ and meta["resolution"] == R
        assert meta["preprocessing"]["mean"] == [127.0, 127.0, 127.0]
        assert "antialiasing" in meta["preprocessing"]["resize"]
    for bad, message in [(torch.zeros(1, 40, 40, 3), "another dtype"), (torch.zeros(1, 40, 40, 4, dtype=torch.uint8),
                                                                          r"got shape \[1, 40, 40, 4\]")]:
        with pytest.raises(Exception, match=message):  # TorchScript refuses what ONNX's input type refuses
            scripted(bad)
    with pytest.raises(Exception, match="data type"):
        session.run(None, {"images": np.zeros((1, 40, 40, 3), np.float32)})


def test_the_in_graph_resize_is_headstarts_resize():
    from headstart.preprocessing import resize_batch, resize_uint8_images

    rng = np.random.default_rng(0)
    for h, w, r in [(300, 200, 64), (40, 50, 64), (64, 64, 64), (17, 333, 32)]:
        images = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
        assert (resize_batch(list(images), r) - resize_uint8_images(torch.from_numpy(images), r)).abs().max() < 1e-3


def test_the_in_graph_normalisation_is_headstarts_normalisation():
    """Per channel and to the bit: a channel order or constant of the export's own would shift every
    prediction of the exported file (at the resolution itself the resize leaves pixels as they are)."""
    from headstart.classifier import Classifier, ImageClassifier

    source = SourceModel.from_module(convnet(), resolution=24, mean=(10.0, 130.0, 250.0), std=(3.0, 60.0, 90.0))
    images = np.random.default_rng(0).integers(0, 256, (2, 24, 24, 3), dtype=np.uint8)
    exported = ImageClassifier(Classifier(nn.Identity()), source.resolution, source.mean, source.std)
    prepared = source.preprocess(list(images))
    assert torch.equal(exported.logits(torch.from_numpy(images)), prepared.flatten(1))


def test_exports_take_an_empty_batch_as_predict_proba_does(tmp_path):
    """Issue 29: predict_proba([]) gives [0, C], but both exports failed on an empty batch (the
    in-graph resize read the first image for the input's height and width)."""
    import onnxruntime

    from headstart.export import export_onnx, export_torchscript

    images = [np.random.default_rng(i).integers(0, 256, (40, 30, 3), dtype=np.uint8) for i in range(4)]
    clf = HeadStart(SourceModel.from_module(convnet(5), resolution=32), "imprint", epochs=2).fit(images, [0, 0, 1, 1])
    session = onnxruntime.InferenceSession(str(export_onnx(clf, tmp_path / "m.onnx")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(export_torchscript(clf, tmp_path / "m.pt")))
    assert clf.predict_proba([]).shape == (0, 2)
    for n in (0, 2):
        batch = np.stack(images[:2])[:n]
        (got,) = session.run(None, {"images": batch})
        assert got.shape == (n, 2) and got.dtype == np.float32
        assert scripted(torch.from_numpy(batch)).shape == (n, 2)
        if n:
            assert np.abs(got - clf.predict_proba(list(batch))).max() < 1e-4


@pytest.mark.slow
def test_names_only_fit_and_methods_that_need_images():
    clf = HeadStart("efficientnet-lite0", resolution=R).fit(None, None, ["cat", "dog", "car"])
    assert clf.head_.weight.shape == (3, 1280) and clf.history_ == []
    with pytest.raises(UserError, match="needs labelled images"):
        HeadStart("efficientnet-lite0", "logreg").fit(None, None, ["cat", "dog"])


@pytest.mark.parametrize("call, message", [
    (lambda c, x, y: c.fit(x, y, ["only"]), "at least two classes"),
    (lambda c, x, y: c.fit(x, y, ["cat", "Cat"]), "duplicate class names"),
    (lambda c, x, y: c.fit(x, y + 5, ["cat", "dog", "car"]), "3 class names for 2 distinct labels"),
    (lambda c, x, y: c.fit(x, y[:1], ["cat", "dog"]), "one per image"),
    (lambda c, x, y: c.fit(x.astype(np.float64)[:, :, :, 0].reshape(len(x), -1)[:, :7], y, ["cat", "dog"]),
     r"features must be an array \[N, 1280\]"),
    (lambda c, x, y: c.fit(x.astype(np.float32), y, ["cat", "dog"]), "uint8"),
    (lambda c, x, y: c.predict(x), "not fitted"),
])
@pytest.mark.slow
def test_bad_inputs_are_user_errors(call, message):
    x = np.zeros((4, R, R, 3), np.uint8)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(UserError, match=message):
        call(HeadStart("efficientnet-lite0", resolution=R), x, y)


def test_own_models_are_copied_keyed_by_weights_and_unwrapped():
    module = convnet(5)
    x = torch.randn(2, 3, 32, 32)
    before = module(x)
    source = SourceModel.from_module(module, resolution=32)
    assert isinstance(module.fc, torch.nn.Linear) and torch.equal(module(x), before)  # the caller's module is intact
    assert torch.allclose(source.logits(x), before, atol=1e-6)
    assert source.labels == ["0", "1", "2", "3", "4"]
    same = SourceModel.from_module(convnet(5), resolution=32)
    other = SourceModel.from_module(convnet(5, seed=1), resolution=32)
    assert same.cache_key(32) == source.cache_key(32) != other.cache_key(32)
    hf = SourceModel.from_module(HFStyle(), resolution=32)
    assert hf.labels[0] == "n01440764" and hf.names[0] == "tench"  # a 1000-way head is ImageNet
    assert hf.features(x).shape == (2, 12)


@pytest.mark.slow
def test_a_run_of_an_own_model_reloads_by_spec_or_by_the_model(tmp_path):
    images = [np.full((32, 32, 3), v, np.uint8) for v in (0, 40, 200, 250)]
    clf = HeadStart(SourceModel.from_module(convnet(5), resolution=32), "logreg").fit(images, [0, 0, 1, 1], ["a", "b"])
    clf.save(tmp_path / "run")
    with pytest.raises(UserError, match="cannot be reloaded by name"):
        HeadStart.load(tmp_path / "run")
    loaded = HeadStart.load(tmp_path / "run", source=SourceModel.from_module(convnet(5), resolution=32))
    assert np.allclose(loaded.predict_proba(images), clf.predict_proba(images), atol=1e-6)
    with pytest.raises(UserError, match="was made with model"):
        HeadStart.load(tmp_path / "run", source=SourceModel.from_module(convnet(5, seed=3), resolution=32))


@pytest.mark.slow
def test_cli_fit_predict_and_export_with_a_model_spec(tmp_path, photos):
    images, labels, _, _, names = photos
    for image, label in zip(images, labels):
        folder = tmp_path / "data" / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{len(list(folder.iterdir()))}.png")
    printed = run_cli("fit", "--model", "own_models:tiny_imagenet_source", "--data", tmp_path / "data", "--epochs", 5,
                      "--out", tmp_path / "run", "--json").stdout
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert json.loads(printed) == meta  # --json prints the run's run.json
    assert meta["model"] == "own_models:tiny_imagenet_source" and meta["resolution"] == 32
    assert meta["training"]["data"] == str(tmp_path / "data") and meta["training"]["epochs"] == 5
    card = (tmp_path / "run" / "README.md").read_text()  # the model card
    assert all(f"| {name} |" in card for name in names) and "own_models:tiny_imagenet_source" in card
    assert "test accuracy after training" in card and "95 % CI" in card and "headstart export RUN --onnx" in card
    some = sorted((tmp_path / "data").rglob("*.png"))[:2]
    refused = run_cli("predict", tmp_path / "run", *some, check=False)  # a run names code: run it only when told
    assert refused.returncode == 2 and "--allow-code" in refused.stderr and "Traceback" not in refused.stderr
    assert len(run_cli("predict", tmp_path / "run", *some, "--allow-code").stdout.splitlines()) == 2
    run_cli("export", tmp_path / "run", "--onnx", tmp_path / "out" / "m.onnx", "--allow-code")
    assert (tmp_path / "out" / "m.onnx").stat().st_size > 0
    bare = run_cli("init", "--model", "own_models:tiny_module", "--classes", "a,b", "--out", tmp_path / "zs")
    assert "wrote" in bare.stdout
    missing = run_cli("fit", "--model", "no_such_module:f", "--data", tmp_path / "data", "--out", tmp_path / "x",
                      check=False)
    assert missing.returncode == 2 and "package.module:function" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_version_and_quiet(tmp_path):
    assert run_cli("--version").stdout.strip() == f"headstart {headstart.__version__}"
    images = tmp_path / "unlabelled"
    images.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 40, 3), 60 * i, np.uint8)).save(images / f"{i}.png")
    noisy = run_cli("init", "--classes", "cat,dog", "--unlabelled", images, "--out", tmp_path / "a")
    quiet = run_cli("--quiet", "init", "--classes", "cat,dog", "--unlabelled", images, "--out", tmp_path / "b")
    assert "it/s]" in noisy.stderr or "img/s]" in noisy.stderr or "batch/s]" in noisy.stderr
    assert "/s]" not in quiet.stderr


@pytest.mark.slow
def test_head_problems_run_on_one_thread_and_the_text_model_on_the_programs(tmp_path, monkeypatch):
    """Head training is tiny matrices (one thread beats two fighting); the text model, reached from
    `fit` through the similarities, is not (10,000 names: 17 s on one core, 9 s on two)."""
    import headstart.senses.rows as rows
    import headstart.text.embeddings as text

    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path))  # nothing embedded yet: the model must run
    monkeypatch.setattr(rows, "_ROWS", type(rows._ROWS)())  # nor any rows kept in memory
    encoding, evaluating, real_encode = [], [], text._encode

    def spy_encode(texts, batch_size=256):
        encoding.append(torch.get_num_threads())
        return real_encode(texts, batch_size)

    def spy_top1(logits, labels):  # the validation accuracy: evaluated inside head training
        evaluating.append(torch.get_num_threads())
        return 0.0

    monkeypatch.setattr(text, "_encode", spy_encode)
    monkeypatch.setattr(headstart.estimator, "top1", spy_top1)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x, y = torch.randn(4, 1280), torch.tensor([0, 0, 1, 1])
        HeadStart("efficientnet-lite0", method="text", epochs=2).fit(x, y, ["cat", "dog"], validation=(x, y))
        assert encoding and set(encoding) == {2}
        assert evaluating and set(evaluating) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_run_json_is_authoritative_and_records_how_the_run_was_made(tmp_path):
    """A source that normalises otherwise than the run recorded is refused (it shifts every
    prediction: 100 % -> 92.5 % in the issue's probe); run.json says how the head was trained."""
    images = [np.full((32, 32, 3), v, np.uint8) for v in (0, 40, 200, 250)]
    HeadStart(SourceModel.from_module(convnet(5), resolution=32), "logreg", epochs=7, random_state=4).fit(
        images, ["a", "a", "b", "b"]).save(tmp_path / "run")
    other = SourceModel.from_module(convnet(5), resolution=32, mean=(127, 127, 127), std=(128, 128, 128))
    with pytest.raises(UserError, match=r"normalisation mean \[123.675, 116.28, 103.53\].*not mean \[127"):
        HeadStart.load(tmp_path / "run", source=other)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["training"] == {"epochs": 7, "learning_rate": 1e-3, "seed": 4, "data": None, "class_weight": None,
                                "sample_weight": False, "early_stopping": None, "augment": 0}
    assert meta["versions"] == {"headstart": headstart.__version__, "torch": torch.__version__}
    assert meta["labels"] == ["a", "b"]
    card = (tmp_path / "run" / "README.md").read_text()
    assert "| a | a |" in card and "mean [123.675, 116.28, 103.53]" in card and "7 epochs" in card
