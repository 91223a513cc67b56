"""The multi-dataset suite: one bench folder per dataset, one report over all of them."""

from __future__ import annotations

import json

import pytest

from headstart.errors import UserError
from headstart.lab.report.tables import SPEED_TITLE
from headstart.lab.suite import SuiteConfig, load_suite, run_suite, slug, suite_config
from helpers import write_split_folder


@pytest.mark.slow
def test_the_suite_benches_every_dataset_and_reports_them_together(tmp_path):
    folder = write_split_folder(tmp_path / "photos.v2", per_class=3, classes=("cat", "dog", "car"))
    config = SuiteConfig(datasets=["fashion-mnist", str(folder)], methods=["zero", "lin", "headstart"],
                         shots=[0, 1], seeds=1, resolution=32, test_size=30, epochs=3, device="cpu", backend="torch",
                         out=str(tmp_path / "S"))
    report = run_suite(config, progress=False)
    summary = (tmp_path / "S" / "summary.md").read_text()
    assert report.name == "report.html" and "on fashion-mnist" in summary and "photos.v2" in summary
    # how fast each method nears its final accuracy, pooled over both datasets' runs (issue 32 item 4)
    assert f"## {SPEED_TITLE}" in summary and "| 1 | zero | 2 |" in summary and "| 1 | headstart | 2 |" in summary
    for name in ("fashion-mnist", "photos.v2"):
        assert (tmp_path / "S" / name / "results.csv").is_file() and (tmp_path / "S" / name / "report.html").is_file()
    before = (tmp_path / "S" / "photos.v2" / "results.csv").read_text()
    run_suite(config, progress=False)  # resumes: nothing recomputed, nothing duplicated
    assert (tmp_path / "S" / "photos.v2" / "results.csv").read_text() == before


def test_suite_inputs_are_checked_before_any_work(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        run_suite(SuiteConfig(datasets=["fashion-mnist", str(tmp_path / "missing")], out=str(tmp_path / "S")))
    with pytest.raises(UserError, match="share a results folder"):
        run_suite(SuiteConfig(datasets=[str(tmp_path / "a" / "x"), str(tmp_path / "b" / "x")], out=str(tmp_path)))
    assert slug("../shared/datasets/caltech50/") == "caltech50"
    with pytest.raises(UserError, match="device"):
        run_suite(SuiteConfig(datasets=["fashion-mnist"], device="tpu", out=str(tmp_path / "S")))


@pytest.mark.slow
def test_the_suite_gives_each_bench_its_unlabelled_images_and_never_mixes_counts(tmp_path):
    config = SuiteConfig(datasets=["fashion-mnist"], methods=["headstart"], shots=[0], seeds=1, resolution=32,
                         test_size=30, epochs=3, unlabelled=20, device="cpu", backend="torch", out=str(tmp_path / "S"))
    run_suite(config, progress=False)
    settings = json.loads((tmp_path / "S" / "fashion-mnist" / "run.json").read_text())["settings"]
    assert settings["unlabelled"] == 20
    config.unlabelled = 0  # the same folder with another count: refused, not mixed into the old rows
    with pytest.raises(UserError, match="another configuration"):
        run_suite(config, progress=False)


@pytest.mark.slow
def test_a_suite_file_is_data_relative_to_itself_with_its_own_seeds(tmp_path, monkeypatch):
    write_split_folder(tmp_path / "data" / "Faces_easy-set", per_class=3, classes=("cougar_body", "0"))
    (tmp_path / "suites").mkdir()
    path = tmp_path / "suites" / "tiny.json"
    path.write_text(json.dumps({"shots": [0, 1], "seeds": 2, "methods": ["zero", "headstart"], "resolution": 32,
                                "epochs": 2, "datasets": [{"dataset": "../data/Faces_easy-set", "seeds": 1}]}))
    monkeypatch.chdir(tmp_path / "data")  # paths are read relative to the file, whatever the current folder
    suite = load_suite(path)
    assert suite["datasets"][0]["dataset"] == "Faces_easy-set" and suite["model"] == "efficientnet-lite0"
    run_suite(suite_config(suite, device="cpu", backend="torch", out=str(tmp_path / "S")), progress=False)
    rows = (tmp_path / "S" / "Faces_easy-set" / "results.csv").read_text().splitlines()
    assert {line.split(",")[4] for line in rows[1:]} == {"0"}  # the dataset's own seed count: one seed
    path.write_text('{"datasets": "nope"}')
    with pytest.raises(UserError, match="not a suite file"):
        load_suite(path)
    with pytest.raises(UserError, match="cannot read the suite file"):
        load_suite(tmp_path / "missing.json")


@pytest.mark.parametrize("suite, message", [
    ({"seeds": 0}, ': "seeds" must be an integer >= 1, got 0'),
    ({"shots": [1, -2]}, ': "shots" must be a non-empty list, each an integer >= 0, got [1, -2]'),
    ({"epochs": "100"}, ": \"epochs\" must be an integer >= 0, got '100'"),
    ({"resolution": 4}, ': "resolution" must be None or an integer >= 16 and <= 1024, got 4'),
    ({"test_size": 0}, ': "test_size" must be None or an integer >= 1, got 0'),
    ({"methods": []}, ': "methods" must be a non-empty list, each a method name'),
    ({"model": ["a"]}, ': "model" must be a model name, got'),
    ({"seed": 5}, ': the key "seed" is unknown: use "about", "datasets", "model"'),
    ({"datasets": [{"dataset": "fashion-mnist", "seeds": 0}]},
     ", dataset 'fashion-mnist': \"seeds\" must be an integer >= 1, got 0"),
    ({"datasets": [{"dataset": "fashion-mnist", "shots": [1]}]},
     ", dataset 'fashion-mnist': the key \"shots\" is unknown: use \"dataset\", \"seeds\""),
    ({"datasets": [{"dataset": 3}]}, ', dataset 3: "dataset" must be "fashion-mnist" or a folder relative to the'),
])
def test_a_suite_file_refuses_each_value_outside_its_table(tmp_path, suite, message):
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"datasets": [{"dataset": "fashion-mnist"}], **suite}))
    with pytest.raises(UserError) as refused:
        load_suite(path)
    assert str(refused.value).startswith(f"suite file {path}{message}")
