"""`headstart evaluate`, `predict` on folders / globs / CSVs with a CSV of predictions, `--json` on
fit and init, and `--quiet` after the subcommand — on a few real caltech50 photos."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from helpers import run_cli, shared_dataset
from headstart.evaluate import calibration, confusion_matrix, top_k_accuracy

CLASSES = ["ant", "butterfly", "strawberry"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """3 classes x 3 test photos of caltech50, and a names-only run for them."""
    root = tmp_path_factory.mktemp("eval")
    for name in CLASSES:
        (root / "data" / name).mkdir(parents=True)
        for image in sorted((shared_dataset("caltech50") / "test" / name).glob("*.jpg"))[:3]:
            shutil.copy(image, root / "data" / name / image.name)
    meta = json.loads(run_cli("init", "--classes", ",".join(CLASSES), "--out", root / "run", "--json",
                              "--quiet").stdout)
    assert meta["class_names"] == CLASSES and meta["versions"]["headstart"]
    return root


def test_metrics_on_a_golden_example():
    p = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.05, 0.15, 0.8]])
    y = np.array([0, 1, 1, 0])
    assert confusion_matrix(y, p.argmax(1), 3).tolist() == [[1, 0, 1], [1, 1, 0], [0, 0, 0]]
    assert top_k_accuracy(p, y, 1) == 0.5 and top_k_accuracy(p, y, 2) == 0.75
    # bins of width 0.25: {0.6 wrong, 0.7 right} and {0.8 wrong, 0.9 right}
    assert calibration(p, y, n_bins=4)["ece"] == pytest.approx(0.5 * abs(0.5 - 0.65) + 0.5 * abs(0.5 - 0.85))


@pytest.mark.slow
def test_evaluate_json_and_plots(folder):
    result = json.loads(run_cli("evaluate", folder / "run", "--data", folder / "data", "--json",
                                "--out", folder / "ev").stdout)
    assert set(result["per_class"]) == set(CLASSES) and result["images"] == 9
    assert np.array(result["confusion"]).sum() == 9 and 0 <= result["ece"] <= 1
    assert result["accuracy"] == pytest.approx(np.trace(result["confusion"]) / 9)
    assert {p.name for p in (folder / "ev").iterdir()} - {"thumbnails"} == {
        "confusion.json", "confusion.png", "evaluation.json", "reliability.png", "misclassified.html"}
    assert all(0 <= row["precision"] <= 1 and row["support"] == 3 for row in result["per_class"].values())
    (folder / "other" / "cat").mkdir(parents=True)
    (folder / "other" / "ant").mkdir()
    shutil.copy(next((folder / "data" / "ant").iterdir()), folder / "other" / "cat" / "x.jpg")
    shutil.copy(next((folder / "data" / "ant").iterdir()), folder / "other" / "ant" / "x.jpg")
    bad = run_cli("evaluate", folder / "run", "--data", folder / "other", check=False)
    assert bad.returncode == 2 and "['cat'] are not classes of this run" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_predict_takes_a_folder_and_writes_a_csv(folder):
    by_folder = run_cli("predict", folder / "run", folder / "data", "--quiet", "--csv", folder / "p.csv")
    assert len(by_folder.stdout.splitlines()) == 9 and "/s]" not in by_folder.stderr
    rows = list(csv.DictReader((folder / "p.csv").open()))
    assert len(rows) == 9 and set(rows[0]) == {"image", "prediction", "probability", *CLASSES}
    assert all(r["prediction"] in CLASSES and float(r["probability"]) == max(float(r[c]) for c in CLASSES)
               for r in rows)
    missing = run_cli("predict", folder / "run", folder / "nope.jpg", check=False)
    assert missing.returncode == 2 and "does not exist: pass image files, folders" in missing.stderr


@pytest.mark.slow
def test_predict_arguments_may_be_files_folders_globs_or_csvs(folder):
    from headstart.errors import UserError
    from headstart.predictions import image_paths

    ants = sorted((folder / "data" / "ant").iterdir())
    listing = folder / "list.csv"
    listing.write_text("path\n" + "\n".join(f"data/ant/{p.name}" for p in ants))
    assert image_paths([str(folder / "data" / "ant" / "*.jpg")]) == ants
    assert image_paths([str(listing)]) == [folder / "data" / "ant" / p.name for p in ants]
    assert image_paths([str(ants[0]), str(folder / "data" / "ant")]) == [ants[0], *ants]
    assert len(image_paths([str(folder / "data")])) == 9
    for bad, message in [("nope.jpg", "does not exist"), (str(folder / "*.gif"), "no file matches")]:
        with pytest.raises(UserError, match=message):
            image_paths([bad])


@pytest.mark.slow
def test_quiet_after_the_subcommand_silences_progress(tmp_path):
    from PIL import Image

    def init(*flags):  # new images each time: their features are computed, with a bar unless quiet
        images = tmp_path / f"images{len(flags)}"
        images.mkdir()
        for i in range(3):
            Image.fromarray(np.full((40, 40, 3), 60 * i + len(flags), np.uint8)).save(images / f"{i}.png")
        return run_cli("init", "--classes", "cat,dog", "--unlabelled", images, "--out", tmp_path / f"run{len(flags)}",
                       *flags)

    assert "/s]" in init().stderr and "/s]" not in init("--quiet").stderr


def test_wilson_interval_of_the_model_card():
    from headstart.card import wilson_interval

    low, high = wilson_interval(8, 10)  # 80 % of 10: the textbook 95 % Wilson interval
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
