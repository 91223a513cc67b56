"""Packaging as people expect it from PyPI: one version source, the licence and typing marker in the
wheel, a core install without the lab's and the plots' packages (each missing extra one line naming
it), and the methods that read no class names running without WordNet."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import headstart
from headstart import HeadStart, SourceModel
from headstart.errors import UserError
from own_models import convnet
from helpers import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def run_python(code: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`code` in a new process that imports this checkout's headstart."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=env)


def test_the_version_has_one_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "headstart.__version__"}
    assert run_python("import headstart; print(headstart.__version__)").stdout.strip() == headstart.__version__


def test_the_licence_and_the_typing_marker_are_there():
    assert PYPROJECT["project"]["license"] == "MIT" and PYPROJECT["project"]["license-files"] == ["LICENSE"]
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "Copyright (c) the headstart authors" in licence
    assert (ROOT / "headstart" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["headstart"]


def test_the_core_leaves_the_lab_and_the_plots_to_extras():
    core = " ".join(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert "scipy" not in core and "matplotlib" not in core
    assert "onnxruntime" in core  # the default feature backend and the torch-free predict path run on it
    assert any(d.startswith("scipy") for d in extras["lab"]) and any(d.startswith("matplotlib") for d in extras["lab"])
    assert any(d.startswith("matplotlib") for d in extras["plots"])


WITHOUT = "import sys\nfor _m in {modules!r}: sys.modules[_m] = None\n"


@pytest.mark.slow
def test_the_product_imports_without_scipy_or_matplotlib():
    code = WITHOUT.format(modules=["scipy", "matplotlib"]) + (
        "import headstart.cli, headstart.estimator, headstart.fit, headstart.evaluate, headstart.export, "
        "headstart.top_sources, headstart.heatmap\nprint('ok')")
    result = run_python(code)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("missing, args, extra", [
    ("scipy", ["report", "no-such-folder"], "lab"),
    ("matplotlib", ["bench", "--methods", "zero"], "lab"),
    ("matplotlib", ["evaluate", "no-such-run", "--data", "no-such-folder", "--out", "ev"], "plots"),
])
def test_a_missing_extra_is_one_line_naming_it(missing, args, extra, tmp_path):
    result = run_python(WITHOUT.format(modules=[missing]) + "from headstart.cli import main\nmain()", *args,
                        cwd=tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert lines[0].endswith(f"needs the '{extra}' extra: pip install 'headstart[{extra}]'")


def test_the_plots_of_the_api_name_their_extra_too(tmp_path):
    code = WITHOUT.format(modules=["matplotlib"]) + (
        "from headstart.errors import UserError\nfrom headstart.heatmap import plot_similarity_heatmap\n"
        "try:\n    plot_similarity_heatmap([[0.5]], ['a'], ['b'], sys.argv[1])\n"
        "except UserError as e:\n    print(e)\n")
    result = run_python(code, str(tmp_path / "h.png"))
    assert result.stdout.strip() == "the similarity heatmap needs the 'plots' extra: pip install 'headstart[plots]'"


@pytest.fixture
def no_wordnet(tmp_path, monkeypatch):
    """WordNet's location pointed at an empty folder, with a cache of this test's own."""
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("HEADSTART_WORDNET_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("method", ["imprint", "logreg", "zero", "random"])
def test_methods_that_read_no_names_run_without_wordnet(method, no_wordnet, tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (20, 20, 3), dtype=np.uint8) for _ in range(6)]
    # names no other test uses, so no sense found earlier in this process is reused
    names = ["pkg-nowordnet-a", "pkg-nowordnet-b"]
    source = SourceModel.from_module(convnet(5), resolution=16)
    clf = HeadStart(source, method, epochs=2).fit(images, [0, 0, 0, 1, 1, 1], names)
    assert clf.predict_proba(images).shape == (6, 2) and clf.sense_details_ == []  # no sense looked up
    assert clf.senses_ == [{"name": name} for name in names]  # the classes by name alone
    clf.save(tmp_path / "run")
    assert HeadStart.load(tmp_path / "run", source=source).predict(images[:1]).shape == (1,)


def test_a_method_that_reads_names_without_wordnet_names_both_routes(no_wordnet):
    source = SourceModel.from_module(convnet(5), resolution=16)
    with pytest.raises(UserError) as error:
        HeadStart(source, "lin").fit(None, None, ["pkg-nowordnet-c", "pkg-nowordnet-d"])
    message = str(error.value)
    assert "apt-get install wordnet-base wordnet-sense-index" in message and "\n" not in message
    assert "python -m nltk.downloader wordnet" in message and "~/nltk_data" in message
    assert "imprint, logreg, zero, random" in message


@pytest.mark.slow
def test_the_wheel_holds_the_package_its_licence_and_typing_marker(tmp_path):
    """Built as pip builds it (isolated, from pyproject.toml alone)."""
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("headstart-*.whl")
    assert wheel.name.startswith(f"headstart-{headstart.__version__}-py3-none-any")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "headstart/py.typed" in names and "headstart/lab/report/plots.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert f"Version: {headstart.__version__}" in metadata and "License-Expression: MIT" in metadata
    unconditional = [line for line in metadata.splitlines()
                     if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not any("scipy" in line or "matplotlib" in line for line in unconditional)
    assert "Requires-Dist: scipy>=1.11; extra == \"lab\"" in metadata
    assert not any(n.startswith("tests/") for n in names)
