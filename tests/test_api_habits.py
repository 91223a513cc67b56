"""The Python API behaves as scikit-learn users expect (issue 31 item 6): image file paths are
images, an unfitted estimator raises NotFittedError, bad input raises ValueError, and large inputs
show a progress bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from headstart import HeadStart, SourceModel
from headstart.errors import InputError, UserError
from own_models import convnet
from helpers import ROOT, TESTS


@pytest.fixture(scope="module")
def source():
    return SourceModel.from_module(convnet(5), resolution=32)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """12 images in three colour families, as arrays and as PNG files; labels cat/dog/bird."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("api")
    arrays, paths, labels = [], [], []
    for i in range(12):
        colour = i % 3
        image = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
        image[..., colour] += 180
        arrays.append(image)
        paths.append(folder / f"{i}.png")
        Image.fromarray(image).save(paths[-1])
        labels.append(["cat", "dog", "bird"][colour])
    return np.stack(arrays), paths, np.array(labels)


@pytest.mark.slow
def test_file_paths_are_images_everywhere(source, images):
    arrays, paths, labels = images
    by_array = HeadStart(source, "imprint").fit(arrays, labels)
    for given in (paths, [str(p) for p in paths], np.array([str(p) for p in paths], dtype=object)):
        by_path = HeadStart(source, "imprint").fit(given, labels)
        np.testing.assert_allclose(by_path.predict_proba(given), by_array.predict_proba(arrays), atol=1e-5)
        assert list(by_path.predict(given)) == list(by_array.predict(arrays))
        assert by_path.score(given, labels) == by_array.score(arrays, labels)
    with pytest.raises(ValueError, match="nope.png does not exist"):
        by_array.predict([paths[0], paths[0].parent / "nope.png"])
    with pytest.raises(ValueError, match="a list of image paths"):
        by_array.predict(str(paths[0]))


def test_not_fitted_is_sklearns_error(source):
    from sklearn.exceptions import NotFittedError

    for call in (lambda c: c.predict(np.zeros((1, 32, 32, 3), np.uint8)), lambda c: c.to_module(),
                 lambda c: c.save("never-written")):
        with pytest.raises(NotFittedError, match="not fitted yet") as raised:
            call(HeadStart(source, "imprint"))
        assert isinstance(raised.value, (ValueError, AttributeError, UserError))
    assert not Path("never-written").exists()


@pytest.mark.parametrize("call, message", [
    (lambda c, x, y: c.fit(x, y, ["only"]), "at least two classes"),
    (lambda c, x, y: c.fit(x, y[:1]), "one per image"),
    (lambda c, x, y: c.fit(x, [0.5] * len(x)), "fractional"),
    (lambda c, x, y: c.fit(x.astype(np.float32), y), "uint8"),
    (lambda c, x, y: c.fit(x[0, :, :, 0], y), "a batch of images"),
    (lambda c, x, y: c.fit(x, y).predict(np.zeros((2, 7), np.float32)), r"features must be an array \[N, 16\]"),
    (lambda c, x, y: c.fit(x, y).score(x, ["fish"] * len(x)), "'fish' is not a class"),
])
def test_bad_input_is_a_value_error(source, images, call, message):
    arrays, _, labels = images
    with pytest.raises(ValueError, match=message) as raised:
        call(HeadStart(source, "imprint"), arrays, labels)
    assert isinstance(raised.value, UserError)  # the CLI still prints it as one line


def test_input_error_is_both_kinds():
    assert issubclass(InputError, ValueError) and issubclass(InputError, UserError)


def test_large_inputs_show_a_progress_bar_small_ones_do_not(source, images, capsys):
    arrays, _, labels = images
    clf = HeadStart(source, "imprint", batch_size=4).fit(arrays, labels)
    capsys.readouterr()
    clf.predict(arrays[:3])  # one batch: nothing to follow
    assert "img" not in capsys.readouterr().err
    clf.predict(arrays)  # three batches
    assert "12/12" in capsys.readouterr().err
    HeadStart(source, "imprint", batch_size=4, progress=False).fit(arrays, labels).predict(arrays)
    assert "12/12" not in capsys.readouterr().err


@pytest.mark.slow
def test_cli_predict_on_many_images_shows_a_bar_unless_quiet(tmp_path):
    import os
    import subprocess
    import sys

    for i in range(70):  # more than one batch of 64
        Image.fromarray(np.full((24, 24, 3), 3 * i, np.uint8)).save(tmp_path / f"{i}.png")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
    cli = lambda *args: subprocess.run([sys.executable, "-m", "headstart", *map(str, args)], env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=600, check=True)
    cli("init", "--model", "own_models:tiny_imagenet_source", "--classes", "cat,dog", "--out", tmp_path / "run", "-q")
    # the run names a test model as code: predict runs it only with --allow-code
    assert "/70 [" in cli("predict", tmp_path / "run", tmp_path, "--allow-code").stderr
    assert "/70 [" not in cli("predict", tmp_path / "run", tmp_path, "--quiet", "--allow-code").stderr
