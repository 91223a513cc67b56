"""The torch-free prediction path: numpy preprocessing equal to torch's, a `Predictor` whose
probabilities equal `HeadStart.predict_proba`'s, its ONNX model cached (and trusted only after the
check against torch), no `import torch` in a process that finds it cached, and results that stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import TESTS, shared_dataset
from headstart.data.images import open_image
from headstart.pixels import prepare, resize_taps

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}


def real_photos() -> list[Path]:
    """Photos of several sizes and aspect ratios (192x127, 161x192, 32x32, ...)."""
    picks = [("caltech50", "Faces"), ("caltech50", "garfield"), ("caltech50", "ant"), ("cifar10-small", "cat"),
             ("dtd10", "blotchy")]
    return [sorted((shared_dataset(name) / "test" / label).iterdir())[0] for name, label in picks]


def test_numpy_preprocessing_equals_torchs_on_real_photos():
    """Up- and down-scaling, odd aspect ratios, gray: within 1e-4 on the 0-255 scale of what the
    torch path feeds the network (`SourceModel.preprocess`'s resize and normalisation)."""
    import torch

    from headstart.preprocessing import channel_values, normalise, resize_batch

    photos = [np.asarray(open_image(p)) for p in real_photos()]
    assert len({p.shape for p in photos}) >= 3
    gray = np.asarray(open_image(real_photos()[0]).convert("L"))[:, :, None]
    rng = np.random.default_rng(0)
    odd = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(7, 300, 3), (401, 23, 3), (500, 375, 3)]]
    mean, std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
    for size in (224, 100, 37, 32):
        images = photos + [gray] + odd
        expected = normalise(resize_batch(images, size), channel_values(mean), channel_values(std))
        got = torch.from_numpy(prepare(images, size, mean, std))
        assert ((got - expected) * channel_values(std)).abs().max() < 1e-4, size


def test_resize_taps_sum_to_one_and_cover_only_their_window():
    for n, size in [(5, 16), (192, 224), (500, 224), (224, 224), (1000, 7)]:
        index, weights = resize_taps(n, size)
        assert np.allclose(weights.sum(axis=1), 1, atol=1e-6) and index.min() >= 0 and index.max() < n
        assert (weights >= 0).all()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run of a tiny convnet fitted on 6 photos of three sizes."""
    from headstart import HeadStart

    photos = [np.asarray(open_image(p)) for p in real_photos()[:3] for _ in range(2)]
    estimator = HeadStart("own_models:tiny_module", method="logreg", resolution=48, epochs=5)
    estimator.fit(photos, [0, 1, 2, 0, 1, 2], class_names=["faces", "garfield", "ant"])
    return estimator.save(tmp_path_factory.mktemp("predictor") / "run")


@pytest.mark.slow  # the run fixture fits and exports a model (~5 s, once per module)
def test_predictor_probabilities_equal_headstarts(run):
    from headstart import HeadStart, Predictor
    from headstart.data.folder import ImageFiles

    paths = real_photos()
    expected = HeadStart.load(run, allow_code=True).predict_proba(ImageFiles(paths))
    predictor = Predictor(run, allow_code=True)
    got = predictor.predict_proba(paths)
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-4
    assert np.allclose(got.sum(axis=1), 1, atol=1e-6)
    assert predictor.class_names_ == ["faces", "garfield", "ant"]
    assert (predictor.predict(paths) == HeadStart.load(run, allow_code=True).predict(ImageFiles(paths))).all()


@pytest.mark.slow  # the run fixture fits and exports a model (~5 s, once per module)
def test_a_cached_predict_never_imports_torch(run):
    from headstart.predictor import Predictor, model_key, model_path

    Predictor(run, allow_code=True)  # builds and caches the ONNX model (with torch, in this process)
    assert model_path(model_key(run)).is_file()
    photo = real_photos()[0]
    code = ("import sys, atexit; atexit.register(lambda: print('torch loaded:', 'torch' in sys.modules)); "
            f"sys.argv = ['headstart', 'predict', {str(run)!r}, {str(photo)!r}, '--json', '--allow-code']; "
            "from headstart.cli import main; main()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert json.loads(lines[0])["image"] == str(photo) and lines[-1] == "torch loaded: False"


def test_the_package_the_cli_and_the_predictor_import_no_torch():
    code = "import sys, headstart, headstart.cli, headstart.predictor; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.slow  # the run fixture fits and exports a model (~5 s, once per module)
def test_an_export_that_differs_from_torch_is_neither_used_nor_cached(run, monkeypatch):
    from headstart import predictor

    monkeypatch.setenv("HEADSTART_CACHE", str(run.parent / "other-cache"))
    monkeypatch.setattr(predictor, "CHECK_TOLERANCE", -1.0)  # any difference now counts as a mismatch
    with pytest.warns(UserWarning, match="differs from torch .* predicting with torch"):
        assert predictor.predictor_for(run, "cpu", allow_code=True) is None
    assert not predictor.model_path(predictor.model_key(run)).exists()


@pytest.mark.slow  # the run fixture fits and exports a model (~5 s, once per module)
def test_without_onnxruntime_predict_warns_and_takes_the_torch_path(run, monkeypatch):
    from headstart import predictor

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.warns(UserWarning, match="onnxruntime is not usable .* predicting with torch"):
        assert predictor.predictor_for(run, allow_code=True) is None


@pytest.mark.slow  # the run fixture fits and exports a model (~5 s, once per module)
def test_predictions_stream_batch_by_batch(run):
    """The first results come before later images are even decoded."""
    from headstart import Predictor
    from headstart.data.folder import ImageFiles

    class Recorded(ImageFiles):
        loaded: list[int] = []

        def load(self, indices=None):
            self.loaded += list(indices)
            return super().load(indices)

    images = Recorded(real_photos())
    rows = Predictor(run, batch_size=2, allow_code=True).iter_proba(images)
    first = next(rows)
    assert first.shape == (3,) and images.loaded == [0, 1]
    assert len([first, *rows]) == 5 and images.loaded == [0, 1, 2, 3, 4]


@pytest.mark.slow  # the run fixture fits and exports a model (~5 s, once per module)
def test_options_that_need_torch_take_the_torch_path(run):
    from headstart.predictor import predictor_for

    for options in [{"backend": "torch"}, {"precision": "bf16"}, {"device": "cuda"}]:
        assert predictor_for(run, **options, allow_code=True) is None
    assert predictor_for(run, "cpu", "onnx", allow_code=True).class_names_ == ["faces", "garfield", "ant"]


@pytest.mark.slow  # the run fixture fits and exports a model (~5 s, once per module)
def test_predict_cli_prints_each_image_and_shows_progress_unless_quiet(run):
    photos = [str(p) for p in real_photos()]
    out = subprocess.run([sys.executable, "-m", "headstart", "predict", str(run), *photos, "--allow-code"],
                         capture_output=True, text=True, env=ENV, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [line.split(": ")[0] for line in out.stdout.splitlines()] == photos and "img/s" in out.stderr
    quiet = subprocess.run([sys.executable, "-m", "headstart", "predict", str(run), *photos, "-q", "--allow-code"],
                           capture_output=True, text=True, env=ENV, timeout=120)
    assert quiet.stdout == out.stdout and "img/s" not in quiet.stderr


@pytest.mark.slow  # the run fixture fits and exports a model (~5 s, once per module)
def test_evaluate_takes_the_same_path_without_torch(run, tmp_path):
    import shutil

    from headstart import HeadStart, Predictor
    from headstart.evaluate import evaluate_run

    for name, photo in zip(["faces", "garfield", "ant"], real_photos()):
        (tmp_path / "data" / name).mkdir(parents=True)
        shutil.copy(photo, tmp_path / "data" / name / photo.name)
    expected = evaluate_run(HeadStart.load(run, allow_code=True), tmp_path / "data")
    got = evaluate_run(Predictor(run, allow_code=True), tmp_path / "data")
    assert got["confusion"] == expected["confusion"] and abs(got["ece"] - expected["ece"]) < 1e-4
    code = ("import sys, atexit; atexit.register(lambda: print('torch loaded:', 'torch' in sys.modules)); "
            f"sys.argv = ['headstart', 'evaluate', {str(run)!r}, '--data', {str(tmp_path / 'data')!r}, "
            "'--json', '--allow-code']; "
            "from headstart.cli import main; main()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "torch loaded: False"
    assert json.loads(out.stdout.rsplit("\n", 2)[0])["confusion"] == expected["confusion"]
