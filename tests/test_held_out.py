"""`evaluate` never scores the images a run trained on (issue 31 items 1 and 2): run.json records
the training and held-out files by content, evaluate on the fitting folder scores the held-out ones
(with fit's accuracy, from fit's feature cache), a renamed copy of a training image is left out, CSV
datasets too; and the evaluation a practitioner reads: per-class report, interval, most-confused
pairs, plots and the misclassified-images page — opened in a real headless Chromium."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import run_cli

CLASSES = ["cat", "dog", "bird"]
# the runs name a test model as code (own_models:...), which evaluate runs only with --allow-code
MODEL = ("--model", "own_models:tiny_imagenet_source", "--method", "logreg", "--epochs", "20")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def blue_images(folder: Path, per_class: int = 10, name=lambda c, i: f"{i}.png") -> None:
    """Mostly blue noise images (no other colour on the page is this blue): the classes hardly
    differ, so a classifier makes mistakes to show."""
    rng = np.random.default_rng(0)
    for c, cls in enumerate(CLASSES):
        (folder / cls).mkdir(parents=True)
        for i in range(per_class):
            image = np.zeros((48, 48, 3), np.uint8)
            image[..., :2] = rng.integers(0, 50, (48, 48, 2))
            image[..., 2] = rng.integers(190, 256, (48, 48))
            image[:8, :8, c % 2] += np.uint8(20 * c)
            Image.fromarray(image).save(folder / cls / name(cls, i))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A folder of class folders without a split, and a run fitted on it (fit holds out 20 %)."""
    root = tmp_path_factory.mktemp("heldout")
    blue_images(root / "data")
    run_cli("fit", *MODEL, "--data", root / "data", "--out", root / "run", "--quiet")
    return root


def evaluate(*args):
    result = run_cli("evaluate", "--allow-code", *map(str, args), "--json")
    return json.loads(result.stdout), result.stderr


@pytest.mark.slow
def test_run_json_records_training_and_held_out_files_by_content(fitted):
    files = json.loads((fitted / "run" / "run.json").read_text())["training"]["files"]
    assert len(files["train"]) == 24 and len(files["held_out"]) == 6
    for record in files["train"] + files["held_out"]:
        path = fitted / "data" / record["path"]  # relative to the data folder
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not {r["path"] for r in files["train"]} & {r["path"] for r in files["held_out"]}


@pytest.mark.slow
def test_evaluate_on_the_fitting_folder_scores_only_held_out_images_with_fits_accuracy(fitted):
    meta = json.loads((fitted / "run" / "run.json").read_text())
    result, stderr = evaluate(fitted / "run", "--data", fitted / "data")
    assert result["n"] == meta["metrics"]["test_images"] == 6 and result["left_out"] == 24
    assert result["accuracy"] == pytest.approx(meta["metrics"]["test_accuracy"], abs=1e-6)  # fit: float32
    assert "left out 24 images whose content matches an image the run trained on" in stderr
    # on the torch path the held-out features come from fit's cache: no bar, nothing computed
    cached, stderr = evaluate(fitted / "run", "--data", fitted / "data", "--backend", "torch")
    assert cached["confusion"] == result["confusion"] and "features" not in stderr
    everything, stderr = evaluate(fitted / "run", "--data", fitted / "data", "--include-training")
    assert everything["n"] == 30 and everything["left_out"] == 0 and "left out" not in stderr


@pytest.mark.slow
def test_a_renamed_copy_of_a_training_image_in_another_class_is_left_out(fitted, tmp_path):
    shutil.copytree(fitted / "data", tmp_path / "data")
    trained = json.loads((fitted / "run" / "run.json").read_text())["training"]["files"]["train"][0]["path"]
    shutil.copy(tmp_path / "data" / trained, tmp_path / "data" / "dog" / "renamed-copy.png")
    shutil.copy(tmp_path / "data" / trained, tmp_path / "data" / "bird" / "another.png")
    result, stderr = evaluate(fitted / "run", "--data", tmp_path / "data")
    assert result["n"] == 6 and result["left_out"] == 26 and "left out 26 images" in stderr
    assert "img/s" in stderr  # computed, under a progress bar
    shutil.copy(tmp_path / "data" / trained, tmp_path / "data" / "cat" / "third.png")
    quiet, stderr = evaluate(fitted / "run", "--data", tmp_path / "data", "--quiet")
    assert quiet["left_out"] == 27 and "img/s" not in stderr


@pytest.mark.slow
def test_a_csv_dataset_is_evaluated_on_its_held_out_rows(tmp_path):
    blue_images(tmp_path / "images", per_class=5)
    rows = [f"images/{p.parent.name}/{p.name},{p.parent.name}" for p in sorted((tmp_path / "images").rglob("*.png"))]
    (tmp_path / "list.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    run_cli("fit", *MODEL, "--data", tmp_path / "list.csv", "--out", tmp_path / "run", "--quiet")
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    files = meta["training"]["files"]
    assert len(files["train"]) + len(files["held_out"]) == 15 and files["held_out"][0]["path"].startswith("images/")
    result, _ = evaluate(tmp_path / "run", "--data", tmp_path / "list.csv")
    assert result["n"] == meta["metrics"]["test_images"] == len(files["held_out"])
    assert result["accuracy"] == pytest.approx(meta["metrics"]["test_accuracy"], abs=1e-6)  # fit: float32


@pytest.mark.slow
def test_a_run_that_does_not_record_its_files_warns_once(fitted, tmp_path):
    from headstart import HeadStart

    # saved as older headstart wrote runs: the data folder, no file list
    clf = HeadStart.load(fitted / "run", allow_code=True)
    clf.save(tmp_path / "old", data=str(fitted / "data"))
    result = run_cli("evaluate", "--allow-code", tmp_path / "old", "--data", fitted / "data", "--json")
    assert json.loads(result.stdout)["n"] == 30
    assert result.stderr.count("does not record which images it trained on") == 1


@pytest.mark.slow
def test_evaluation_report_plots_and_page(fitted, tmp_path):
    result, _ = evaluate(fitted / "run", "--data", fitted / "data", "--include-training", "--out", tmp_path / "ev")
    assert set(result["per_class"]) <= set(CLASSES)
    assert sum(r["support"] for r in result["per_class"].values()) == 30
    assert set(result["per_class"]["cat"]) == {"precision", "recall", "f1", "support"}
    low, high = result["accuracy_interval"]
    assert low < result["accuracy"] < high
    wrong = 30 - np.trace(result["confusion"])
    assert len(result["misclassified"]) == wrong > 0
    losses = [row["loss"] for row in result["misclassified"]]
    assert losses == sorted(losses, reverse=True)
    assert sum(pair["count"] for pair in result["most_confused"]) == wrong
    written = sorted(p.relative_to(tmp_path / "ev").as_posix() for p in (tmp_path / "ev").rglob("*"))
    assert {"confusion.png", "reliability.png", "evaluation.json", "misclassified.html"} <= set(written)
    thumbnails = sorted((tmp_path / "ev" / "thumbnails").iterdir())
    assert len(thumbnails) == wrong and all(Image.open(t).format == "JPEG" for t in thumbnails)
    page = (tmp_path / "ev" / "misclassified.html").read_text()
    assert str(fitted) not in page  # thumbnails of its own, never links to the originals
    text = run_cli("evaluate", "--allow-code", fitted / "run", "--data", fitted / "data").stdout
    assert "precision    recall  f1-score   support" in text and "weighted avg" in text and "95 % CI" in text


@pytest.mark.slow
def test_names_on_the_page_are_escaped(tmp_path):
    blue_images(tmp_path / "data", per_class=3, name=lambda c, i: f"<img src=x onerror=alert({i})>{c}.png")
    run_cli("init", "--model", "own_models:tiny_imagenet_source", "--classes", ",".join(CLASSES),
            "--out", tmp_path / "run", "--quiet")
    run_cli("evaluate", "--allow-code", tmp_path / "run", "--data", tmp_path / "data", "--out", tmp_path / "ev",
            "--quiet")
    page = (tmp_path / "ev" / "misclassified.html").read_text()
    assert "onerror=alert" in page and "<img src=x" not in page and "&lt;img src=x onerror=alert" in page


def screenshot(page: Path, png: Path) -> np.ndarray:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={png.parent / 'chromium-profile'}", f"--screenshot={png}",
                    "--window-size=1200,900", page.as_uri()], capture_output=True, timeout=120, check=True)
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh --test installs it)")
def test_thumbnails_render_in_a_real_browser(fitted, tmp_path):
    result, _ = evaluate(fitted / "run", "--data", fitted / "data", "--include-training", "--out", tmp_path / "ev")
    shown = min(len(result["misclassified"]), 10)  # 5 cards a row: two rows surely fit the window
    pixels = screenshot(tmp_path / "ev" / "misclassified.html", tmp_path / "page.png")
    blue = (pixels[..., 2] > 170) & (pixels[..., 0] < 90) & (pixels[..., 1] < 90)
    # each thumbnail is a 160 x 160 box of blue noise: most of its pixels are blue, and noisy
    assert blue.sum() > shown * 160 * 160 * 0.5, (blue.sum(), shown)
    assert pixels[blue].std(axis=0)[2] > 5  # the images' noise, not a flat blue fill
    page = tmp_path / "ev" / "misclassified.html"
    page.write_text(page.read_text().replace('src="thumbnails/', 'src="missing/'))
    broken = screenshot(page, tmp_path / "broken.png")  # the same page with its image paths broken
    assert ((broken[..., 2] > 170) & (broken[..., 0] < 90) & (broken[..., 1] < 90)).sum() < 1000


def test_the_confusion_plot_shows_counts_and_a_colour_bar(tmp_path, monkeypatch):
    import matplotlib.figure

    from headstart.evaluate import metrics, write_evaluation

    probabilities = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.4, 0.1]])
    result = {"data": "d", "misclassified": [], **metrics(probabilities, np.array([0, 1, 1, 2, 1]), CLASSES)}
    figures = []
    original = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda self, *a, **k: (figures.append(self), original(self, *a, **k))[1])
    write_evaluation(result, tmp_path)
    confusion = figures[0]
    assert len(confusion.axes) == 2  # the matrix and its colour bar
    assert sorted(t.get_text() for t in confusion.axes[0].texts) == ["1", "1", "1", "2"]  # [[1,0,0],[2,1,0],[0,0,1]]
    assert (tmp_path / "misclassified.html").is_file()


@pytest.mark.slow
def test_a_broken_csv_is_reported_as_fit_reports_it(tmp_path):
    (tmp_path / "list.csv").write_text("path,label\nnope.png,cat\ngone.png,dog\n")
    run_cli("init", "--model", "own_models:tiny_imagenet_source", "--classes", "cat,dog", "--out", tmp_path / "run",
            "--quiet")
    bad = run_cli("evaluate", "--allow-code", tmp_path / "run", "--data", tmp_path / "list.csv", check=False)
    assert bad.returncode == 2 and "lists 2 missing files" in bad.stderr and "Traceback" not in bad.stderr
