"""Fault injection on run folders, second round (issue 22): files of different runs mixed in one
folder, commands that would overwrite what headstart did not write, a full disk, permissions."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from headstart import HeadStart
from headstart.errors import UserError
from helpers import ROOT



def make_run(folder, classes=("cat", "dog", "car")):
    return HeadStart("efficientnet-lite0", resolution=32).fit(None, None, list(classes)).save(folder)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs of the same three classes whose heads differ (another class order)."""
    base = tmp_path_factory.mktemp("runs")
    return make_run(base / "a"), make_run(base / "b", ("car", "cat", "dog"))


def copy(run, tmp_path, name="run"):
    return Path(shutil.copytree(run, tmp_path / name))


def test_another_runs_head_copied_in_is_refused(runs, tmp_path):
    folder = copy(runs[0], tmp_path)
    shutil.copy(runs[1] / "head.safetensors", folder / "head.safetensors")
    with pytest.raises(UserError, match="does not belong to this run"):
        HeadStart.load(folder)


def test_another_runs_head_linked_in_is_refused(runs, tmp_path):
    folder = copy(runs[0], tmp_path)
    (folder / "head.safetensors").unlink()
    (folder / "head.safetensors").symlink_to(runs[1] / "head.safetensors")
    with pytest.raises(UserError, match="does not belong to this run"):
        HeadStart.load(folder)


def test_another_runs_metadata_of_the_same_class_count_is_refused(runs, tmp_path):
    folder = copy(runs[0], tmp_path)
    shutil.copy(runs[1] / "run.json", folder / "run.json")
    with pytest.raises(UserError, match="does not belong to this run"):
        HeadStart.load(folder)


def test_class_names_reordered_against_classes_are_refused(runs, tmp_path):
    folder = copy(runs[0], tmp_path)
    meta = json.loads((folder / "run.json").read_text())
    meta["class_names"] = meta["class_names"][::-1]
    (folder / "run.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="same classes in the same order"):
        HeadStart.load(folder)


def test_class_names_reordered_in_a_run_of_a_method_that_reads_no_names_are_refused(tmp_path):
    """imprint, logreg, zero look up no sense: their run.json still lists each class by name, so the two
    lists bind each other as for the methods that read the names."""
    folder = HeadStart("efficientnet-lite0", "zero", resolution=32).fit(None, None, ["cat", "dog", "car"]).save(
        tmp_path / "run")
    meta = json.loads((folder / "run.json").read_text())
    assert [c["name"] for c in meta["classes"]] == ["cat", "dog", "car"]
    meta["class_names"] = meta["class_names"][::-1]
    (folder / "run.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="same classes in the same order"):
        HeadStart.load(folder)


@pytest.mark.slow
def test_a_run_is_not_written_over_the_users_other_files(runs, tmp_path):
    folder = copy(runs[0], tmp_path)
    (folder / "notes.txt").write_text("my notes on this run")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(UserError, match="did not write .*notes.txt"):
        make_run(folder, ("x", "y"))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def cli(*args, cwd, limit_bytes=None):
    """`python -m headstart ARGS` (with a file-size limit: writes beyond it fail with EFBIG, as on a
    full disk; SIGXFSZ ignored so the write fails instead of killing the process)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, resource.RLIM_INFINITY))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "headstart", "--quiet", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=limit if limit_bytes else None)


@pytest.mark.slow
def test_a_run_written_on_a_full_disk_is_one_line_and_keeps_the_old_run(tmp_path):
    folder = make_run(tmp_path / "run")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = cli("init", "--classes", "cat,dog", "--out", folder, cwd=tmp_path, limit_bytes=4096)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(folder) in errors[0], result.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left behind


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_run_folders_and_exports_follow_the_umask(tmp_path, umask_022):
    from headstart.export import export_torchscript

    folder = make_run(tmp_path / "run")
    assert mode(folder) == 0o755
    assert {p.name: mode(p) for p in folder.iterdir()} == {"run.json": 0o644, "head.safetensors": 0o644,
                                                           "README.md": 0o644}
    exported = export_torchscript(HeadStart.load(folder), tmp_path / "m.pt")
    assert mode(exported) == 0o644
