"""Each promise of docs/threat-model.md, tested as an attacker would try it (issue 29): a received run
folder, a received dataset, class names from anywhere. One test (or parametrised test) per promise,
named after it; `test_the_doc_lists_these_promises` keeps the doc and this file in step."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from headstart import HeadStart
from headstart.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
ESC = "\x1b"
HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(1+1)", "-", "@x", "\tTab", "\rcr", "<img src=x onerror=alert(1)>",
           f"{ESC}[31mred{ESC}[0m{ESC}]0;title\a", "a|b", "two\nlines", "[x](javascript:alert(1))"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real run of three classes (names only, 32 px)."""
    return HeadStart("efficientnet-lite0", resolution=32).fit(None, None, ["cat", "dog", "car"]).save(
        tmp_path_factory.mktemp("threat") / "run")


def received(run, tmp_path, name="received", **changes) -> Path:
    """A copy of `run` whose run.json was edited by whoever sent it."""
    folder = Path(shutil.copytree(run, tmp_path / name))
    meta = json.loads((folder / "run.json").read_text())
    meta.update(changes)
    (folder / "run.json").write_text(json.dumps(meta))
    return folder


def renamed(run, tmp_path, names, name="hostile") -> Path:
    """A received run whose classes carry `names` (run.json's class names, labels and senses)."""
    meta = json.loads((run / "run.json").read_text())
    classes = [{**c, "name": n} for c, n in zip(meta["classes"], names)]
    return received(run, tmp_path, name, class_names=list(names), labels=list(names), classes=classes)


def image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(path)
    return path


def cli(*args, cwd):
    """`python -m headstart ARGS` in a fresh process started in `cwd` (which Python puts on sys.path)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "headstart", "--quiet", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def run_main(monkeypatch, capsys, *args):
    """`headstart ARGS` in this process -> (exit code, stdout, stderr)."""
    from headstart import cli as cli_module

    monkeypatch.setattr("sys.argv", ["headstart", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def one_error_line(err: str, *needles: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert all(n in errors[0] for n in needles), errors[0]


# -- 1. a received run never makes headstart import or call code ---------------------------------

EVIL = """
from pathlib import Path

Path({marker!r}).write_text("ran")


def make():
    Path({marker!r}).write_text("called")
    import headstart
    return headstart.load_source("efficientnet-lite0")
"""


def evil_run(run, tmp_path, spec="evilmod:make") -> tuple[Path, Path]:
    folder = received(run, tmp_path, model=spec)
    marker = tmp_path / "marker"
    (folder / "evilmod.py").write_text(EVIL.format(marker=str(marker)))
    image(folder / "img.png")
    return folder, marker


@pytest.mark.parametrize("command", [["predict", ".", "img.png"], ["export", ".", "--onnx", "../m.onnx"],
                                     ["evaluate", ".", "--data", "."]])
def test_a_received_run_never_runs_the_code_it_names(run, tmp_path, command):
    folder, marker = evil_run(run, tmp_path)
    result = cli(*command, cwd=folder)
    assert result.returncode == 2, result.stdout + result.stderr
    one_error_line(result.stderr, "--allow-code", "evilmod:make")
    assert not marker.exists()
    with pytest.raises(UserError, match="allow-code"):
        HeadStart.load(folder)
    assert not marker.exists()


def test_a_run_naming_sys_exit_is_refused_not_obeyed(run, tmp_path):
    folder, _ = evil_run(run, tmp_path, "sys:exit")
    result = cli("predict", ".", "img.png", cwd=folder)
    assert result.returncode == 2
    one_error_line(result.stderr, "--allow-code", "sys:exit")


def test_code_named_by_a_run_runs_only_when_the_caller_allows_it(run, tmp_path):
    folder, marker = evil_run(run, tmp_path)
    result = cli("predict", ".", "img.png", "--allow-code", cwd=folder)
    assert result.returncode == 0 and result.stdout.startswith("img.png: "), result.stderr
    assert marker.read_text() == "called"  # the caller's choice, and the proof the test above could fail
    from headstart.sources import load_source

    assert HeadStart.load(folder, source=load_source("efficientnet-lite0")).predict_proba(
        [np.zeros((20, 20, 3), np.uint8)]).shape == (1, 3)
