"""Fault injection on bench and export, second round (issue 22): commands that would overwrite a
run, rows labelled with shots they did not have, duplicated rows, two benches in one folder."""

from __future__ import annotations

import csv
import fcntl

import pytest

from headstart import HeadStart
from headstart.lab.bench import BENCH_PARAMETERS, DEMO, BenchConfig, run_bench
from headstart.errors import UserError
from helpers import TINY_BENCH, write_images


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "run"
    return HeadStart("efficientnet-lite0", resolution=32).fit(None, None, ["cat", "dog"]).save(folder)


def contents(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.slow
def test_a_bench_into_a_fitted_run_is_refused(run_folder):
    before = contents(run_folder)
    with pytest.raises(UserError, match="not a bench's"):
        run_bench(BenchConfig(out=str(run_folder), **TINY_BENCH), progress=False)
    assert contents(run_folder) == before


@pytest.mark.parametrize("kind", ["onnx", "torchscript"])
@pytest.mark.slow
def test_an_export_over_a_runs_file_or_a_users_file_is_refused(run_folder, tmp_path, kind):
    from headstart import export

    write = getattr(export, f"export_{kind}")
    estimator, before = HeadStart.load(run_folder), contents(run_folder)
    with pytest.raises(UserError, match="is a file of the run"):
        write(estimator, run_folder / "head.safetensors")
    assert contents(run_folder) == before
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="nothing was overwritten"):
        write(estimator, tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    write(estimator, tmp_path / "model")
    write(estimator, tmp_path / "model")  # an earlier export of the same kind is replaced


def test_more_shots_than_the_smallest_class_has_are_refused(tmp_path):
    write_images(tmp_path / "data" / "train", per_class=3, classes=("cat", "dog", "car"))
    write_images(tmp_path / "data" / "test", per_class=2, classes=("cat", "dog", "car"), seed=1)
    config = {**TINY_BENCH, "dataset": str(tmp_path / "data"), "shots": [1, 10], "out": str(tmp_path / "B")}
    with pytest.raises(UserError, match="at most 3"):
        run_bench(BenchConfig(**config), progress=False)
    assert not (tmp_path / "B" / "results.csv").exists()


def read_keys(path):
    with open(path, newline="") as f:
        return [(r["method"], r["shots"], r["seed"], r["epoch"]) for r in csv.DictReader(f)]


@pytest.mark.slow
def test_repeated_methods_and_shots_give_each_row_once(tmp_path):
    config = {**TINY_BENCH, "methods": ["zero", "zero", "imprint"], "shots": [1, 1], "seeds": 1}
    keys = read_keys(run_bench(BenchConfig(out=str(tmp_path / "B"), **config), progress=False))
    assert len(keys) == len(set(keys)) == 2 * len(TINY_BENCH["eval_epochs"])


@pytest.mark.slow
def test_a_second_bench_into_a_folder_in_use_is_refused(tmp_path):
    out = tmp_path / "B"
    out.mkdir()
    with open(out / ".bench.lock", "a") as held:  # what a running bench holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(UserError, match="another headstart bench is writing into"):
            run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)
    assert not (out / "results.csv").exists()


@pytest.mark.slow
def test_rows_duplicated_by_two_benches_are_kept_once_on_resume(tmp_path):
    results = run_bench(BenchConfig(out=str(tmp_path / "B"), **TINY_BENCH), progress=False)
    complete = results.read_text()
    with results.open("a") as f:  # the second bench's copy of every row, header included
        f.write(complete)
    run_bench(BenchConfig(out=str(tmp_path / "B"), **TINY_BENCH), progress=False)
    assert results.read_text() == complete


@pytest.mark.parametrize("field, value, message", [
    ("shots", [], "--shots must be a non-empty list, each an integer >= 0, got []"),
    ("shots", [0, -1], "--shots must be a non-empty list, each an integer >= 0, got [0, -1]"),
    ("seeds", 0, "--seeds must be an integer >= 1, got 0"),
    ("seed_start", -1, "--seed-start must be an integer >= 0, got -1"),
    ("test_size", 0, "--test-size must be None or an integer >= 1, got 0"),
    ("epochs", -1, "--epochs must be an integer >= 0, got -1"),
    ("unlabelled", -1, "--unlabelled must be an integer >= 0, got -1"),
    ("resolution", 2000, "--resolution must be None or an integer >= 16 and <= 1024, got 2000"),
    ("methods", [], "--methods must be a non-empty list, each a method name"),
    ("methods", "logreg", "--methods must be a non-empty list, each a method name"),
    ("eval_epochs", [-5], "--eval-epochs must be a list, each an integer >= 0, got [-5]"),
    ("overrides", None, "--overrides must be a dict of class name -> WordNet synset id, got None"),
    ("method_options", [], "--method-options must be a dict of method name -> its options, got []"),
    ("out", 3, "--out must be a folder path (str), got 3"),
    ("model", None, "--model must be a model name, got None"),
    ("dataset", 7, "--dataset must be a dataset name or path, got 7"),
    ("device", 0, "--device must be None or a device name, got 0"),
])
def test_a_bench_refuses_each_value_outside_its_table_before_any_work(tmp_path, field, value, message):
    # in one line naming the option, before a model is loaded or a folder made
    config = BenchConfig(model="no-such-model", out=str(tmp_path / "b"))
    setattr(config, field, value)
    with pytest.raises(UserError) as refused:
        run_bench(config)
    assert str(refused.value).startswith("bench " + message)
    assert not (tmp_path / "b").exists()


def test_every_bench_field_has_its_constraint_and_the_demo_passes():
    from headstart.lab.bench import check_config

    assert set(BENCH_PARAMETERS) == set(vars(BenchConfig()))
    check_config(BenchConfig(**DEMO))
    check_config(BenchConfig(shots=[0], seeds=1, test_size=1, epochs=0, eval_epochs=[], resolution=16, device="cpu"))
