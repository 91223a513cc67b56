"""Tests for headstart.lab.report and headstart.heatmap: statistics by hand, merging, markdown, plots, HTML."""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from headstart.errors import UserError
from headstart.heatmap import plot_similarity_heatmap
from headstart.lab.report import (
    mean_ci,
    read_results,
    summarise,
    t_critical_95,
    write_report,
    write_summary_md,
)
from helpers import ROOT

T2 = 4.302652729749462  # t_{0.975, 2}: 3 seeds
T1 = 12.706204736174694  # t_{0.975, 1}: 2 seeds

# Final accuracy per (method, shots) and seed 0, 1, 2. Seeds differ a lot (as few-shot subsets do)
# while headstart beats logreg by a steady 2-4 points: only a paired comparison shows that.
FINALS = {
    ("random", 0): [0.10, 0.10, 0.10],
    ("zero", 0): [0.11, 0.11, 0.11],
    ("wup", 0): [0.30, 0.34, 0.32],
    ("headstart", 0): [0.40, 0.42, 0.44],
    ("random", 1): [0.30, 0.40, 0.50],
    ("zero", 1): [0.32, 0.42, 0.52],
    ("logreg", 1): [0.40, 0.50, 0.60],
    ("imprint", 1): [0.45, 0.55, 0.65],
    ("wup", 1): [0.44, 0.56, 0.64],
    ("headstart", 1): [0.50, 0.58, 0.69],
    ("random", 5): [0.50, 0.60, 0.70],
    ("zero", 5): [0.52, 0.62, 0.72],
    ("logreg", 5): [0.60, 0.70, 0.80],
    ("imprint", 5): [0.55, 0.65, 0.75],
    ("wup", 5): [0.58, None, 0.80],  # seed 1 never ran: pairing must use seeds 0 and 2 only
    ("headstart", 5): [0.62, 0.74, 0.83],
}
EPOCHS = (0, 1, 5)
# How far below its final accuracy a method is before training / after one epoch.
GAP = {"headstart": {0: 0.05, 1: 0.02}, "wup": {0: 0.08, 1: 0.03}}
DEFAULT_GAP = {0: 0.20, 1: 0.10}
COLUMNS = ["model", "dataset", "method", "shots", "seed", "epoch", "accuracy", "final",
           "resolution", "test_size", "seconds"]


def make_rows() -> list[dict]:
    """Bench-like rows: shots 0 and logreg evaluate once (epoch 0, final); others train 5 epochs."""
    rows = []
    for (method, shots), finals in FINALS.items():
        for seed, final in enumerate(finals):
            if final is None:
                continue
            epochs = (0,) if shots == 0 or method == "logreg" else EPOCHS
            for epoch in epochs:
                gap = 0.0 if epoch == epochs[-1] else GAP.get(method, DEFAULT_GAP)[epoch]
                rows.append({
                    "model": "efficientnet-lite0", "dataset": "fashion-mnist", "method": method,
                    "shots": shots, "seed": seed, "epoch": epoch, "accuracy": round(final - gap, 6),
                    "final": int(epoch == epochs[-1]), "resolution": 112, "test_size": 500,
                    "seconds": 1.5,
                })
    return rows


def write_csv(path: Path, rows: list[dict], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def results_csv(tmp_path: Path) -> Path:
    rows = make_rows()
    random.Random(0).shuffle(rows)  # the bench may write in any order; nothing may depend on it
    return write_csv(tmp_path / "results.csv", rows)


def row_of(table, method: str, shots: int):
    (row,) = [r for r in table if r.method == method and r.shots == shots]
    return row


# ---------------------------------------------------------------- statistics


def test_t_critical_values_by_hand():
    assert t_critical_95(1) == pytest.approx(12.706204736, abs=1e-8)
    assert t_critical_95(9) == pytest.approx(2.262157163, abs=1e-8)
    assert t_critical_95(1000) == pytest.approx(1.962339, abs=1e-6)
    with pytest.raises(ValueError):
        t_critical_95(0)


def test_mean_ci_by_hand():
    est = mean_ci([0.5, 0.6, 0.7])
    assert est.mean == pytest.approx(0.6)
    # s = 0.1, n = 3: half-width = t_{0.975,2} * 0.1 / sqrt(3)
    assert est.half_width == pytest.approx(T2 * 0.1 / math.sqrt(3))
    assert mean_ci([0.4]).half_width is None


def test_summary_final_ci_by_hand(results_csv):
    table = summarise(read_results(results_csv))
    logreg = row_of(table, "logreg", 5)
    assert logreg.n_seeds == 3
    assert logreg.final.mean == pytest.approx(0.70)
    assert logreg.final.half_width == pytest.approx(T2 * 0.1 / math.sqrt(3))


def test_epoch_means_and_blanks(results_csv):
    table = summarise(read_results(results_csv))
    headstart = row_of(table, "headstart", 1)
    assert headstart.epoch0 == pytest.approx(np.mean(FINALS[("headstart", 1)]) - 0.05)
    assert headstart.epoch1 == pytest.approx(np.mean(FINALS[("headstart", 1)]) - 0.02)
    logreg = row_of(table, "logreg", 1)  # evaluated once: its epoch 0 is its final, no epoch 1
    assert logreg.epoch0 == pytest.approx(0.50) and logreg.epoch1 is None
    assert row_of(table, "zero", 0).epoch1 is None
    assert {r.shots for r in table if r.method == "logreg"} == {1, 5}  # no rows at 0 shots


def test_paired_difference_uses_best_peer_paired_by_seed(results_csv):
    table = summarise(read_results(results_csv))

    headstart = row_of(table, "headstart", 5)
    assert headstart.best_peer == "logreg"  # logreg 70 > wup 69 > imprint 65 > zero 62 > random 60
    diffs = [0.02, 0.04, 0.03]  # seed by seed
    assert headstart.vs_peer.n == 3
    assert headstart.vs_peer.mean == pytest.approx(0.03)
    assert headstart.vs_peer.half_width == pytest.approx(T2 * np.std(diffs, ddof=1) / math.sqrt(3))
    # Unpaired, the seed spread would swamp the gain; paired it is clearly above zero.
    assert headstart.vs_peer.mean - headstart.vs_peer.half_width > 0
    assert headstart.final.mean - headstart.final.half_width < 0.70

    wup = row_of(table, "wup", 5)  # seeds 0 and 2 only, against the best other method: headstart
    assert (wup.n_seeds, wup.vs_peer.n, wup.best_peer) == (2, 2, "headstart")
    assert wup.vs_peer.mean == pytest.approx(((0.58 - 0.62) + (0.80 - 0.83)) / 2)
    assert wup.vs_peer.half_width == pytest.approx(T1 * np.std([-0.04, -0.03], ddof=1) / math.sqrt(2))

    # Every method is compared with the best *other* method (the seed's transfer-init ones included).
    assert row_of(table, "logreg", 5).best_peer == "headstart"
    assert row_of(table, "logreg", 5).vs_peer.mean == pytest.approx(-0.03)
    assert row_of(table, "imprint", 1).best_peer == "headstart"
    assert row_of(table, "headstart", 1).best_peer == "imprint"  # imprint 55.0 > wup 54.7 > logreg 50
    # At 0 shots: random, zero and wup exist; wup is the best other method for headstart.
    assert row_of(table, "headstart", 0).best_peer == "wup"
    assert row_of(table, "zero", 0).best_peer == "headstart"


# ---------------------------------------------------------------- reading


def test_merged_csvs_are_deduplicated(tmp_path, results_csv):
    rows = make_rows()
    # Two machines with overlapping seed ranges and different column orders.
    first = write_csv(tmp_path / "a.csv", [r for r in rows if r["seed"] in (0, 1)])
    second = write_csv(tmp_path / "b.csv", [r for r in rows if r["seed"] in (1, 2)], COLUMNS[::-1])
    merged = read_results([first, second])
    assert len(merged) == len(rows)
    keys = {(r["method"], r["shots"], r["seed"], r["epoch"]) for r in merged}
    assert len(keys) == len(merged)
    assert summarise(merged) == summarise(read_results(results_csv))
    # Values are typed, extra columns kept.
    assert isinstance(merged[0]["shots"], int) and isinstance(merged[0]["accuracy"], float)
    assert merged[0]["final"] in (True, False) and merged[0]["resolution"] == 112


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(UserError, match="headstart bench"):
        read_results(tmp_path / "nope.csv")
    with pytest.raises(UserError, match="headstart bench"):
        write_report(tmp_path / "empty_dir")


def test_missing_columns_are_named(tmp_path):
    path = write_csv(tmp_path / "bad.csv", make_rows(), ["model", "dataset", "method", "shots", "epoch"])
    with pytest.raises(UserError, match="seed, accuracy"):
        read_results(path)


def test_bad_accuracy_names_the_line(tmp_path):
    rows = make_rows()
    rows[3]["accuracy"] = 73.0  # a percentage
    with pytest.raises(UserError, match=r"bad\.csv:5: .*divided by 100"):
        read_results(write_csv(tmp_path / "bad.csv", rows))


def test_final_flag_rules(tmp_path):
    base = {"model": "m", "dataset": "d", "method": "wup", "shots": 1}
    flagged = [dict(base, seed=0, epoch=e, accuracy=a, final=f)
               for e, a, f in [(0, .2, 0), (1, .5, 1), (2, .4, 0)]]
    unfinished = [dict(base, seed=1, epoch=0, accuracy=.9, final=0)]
    no_column = [dict(base, seed=2, epoch=e, accuracy=a) for e, a in [(0, .1), (3, .6)]]
    rows = read_results([write_csv(tmp_path / "a.csv", flagged + unfinished, COLUMNS[:8]),
                         write_csv(tmp_path / "b.csv", no_column, COLUMNS[:7])])
    (row,) = summarise(rows)
    # seed 0: the flagged epoch 1 (not the last epoch); seed 1: unfinished, left out;
    # seed 2: no final column, so its last epoch.
    assert row.n_seeds == 2
    assert row.final.mean == pytest.approx((0.5 + 0.6) / 2)
    assert row.best_peer is None and row.vs_peer is None


# ---------------------------------------------------------------- markdown


def table_lines(markdown: str, first_header: str) -> list[list[str]]:
    """Cells of the first markdown table whose header starts with ``first_header``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    cells = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells.append([c.strip() for c in line.strip("|").split(" | ")])
    return [cells[0]] + cells[2:]  # drop the alignment line


def test_summary_md_bolds_the_best_cell(tmp_path, results_csv):
    table = summarise(read_results(results_csv))
    text = write_summary_md(table, tmp_path / "summary.md").read_text()
    header, *body = table_lines(text, "shots")
    assert header == ["shots", "random", "zero", "logreg", "imprint", "wup", "headstart"]
    by_shots = {line[0]: dict(zip(header, line)) for line in body}
    half = 100 * T2 * np.std(FINALS[("headstart", 5)], ddof=1) / math.sqrt(3)
    assert by_shots["5"]["headstart"] == f"**73.0 ± {half:.1f}**" == "**73.0 ± 26.2**"
    assert by_shots["5"]["logreg"] == "70.0 ± 24.8"
    assert by_shots["0"]["logreg"] == ""
    for shots, line in by_shots.items():
        bold = [m for m, cell in line.items() if cell.startswith("**")]
        assert bold == ["headstart"], shots
    # The detail table bolds the same cell and shows the paired difference in points.
    detail_header, *detail = table_lines(text, "shots | method")
    headstart5 = dict(zip(detail_header, next(d for d in detail if d[:2] == ["5", "headstart"])))
    assert headstart5["Δ vs best peer (pp)"] == "+3.0 ± 2.5"
    assert headstart5["best peer"] == "logreg"
    assert headstart5["final (%)"].startswith("**73.0")
    wup5 = dict(zip(detail_header, next(d for d in detail if d[:2] == ["5", "wup"])))
    assert wup5["n"] == "2" and wup5["epoch 1 (%)"] == "66.0"
    assert "Legend" in text and "paired" in text


# ---------------------------------------------------------------- plots and report


def assert_png(path: Path, min_size: int = 200) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert min(image.size) >= min_size
        assert len(image.convert("RGB").getcolors(1 << 20)) > 20  # something was drawn


@pytest.fixture
def report_dir(tmp_path, results_csv) -> Path:
    names = ["T-shirt/top", "trouser", "pullover", "ankle boot"]
    sources = [f"n{i:08d} class number {i} with a rather long name" for i in range(60)]
    matrix = np.random.default_rng(0).random((len(names), len(sources)))
    plot_similarity_heatmap(matrix, names, sources, tmp_path / "similarity.png", max_columns=12)
    (tmp_path / "run.json").write_text(json.dumps({
        "command": "headstart bench --model efficientnet-lite0 --dataset fashion-mnist --shots 0,1,5 --seeds 3",
        "model": "efficientnet-lite0", "dataset": "fashion-mnist", "resolution": 112, "test_size": 500,
        "seeds": [0, 1, 2], "machine": "2-core CPU <test>",
    }))
    write_report(tmp_path)
    return tmp_path


def test_report_writes_valid_pngs(report_dir):
    expected = ["accuracy_vs_shots.png", "accuracy_vs_epoch_shots1.png", "accuracy_vs_epoch_shots5.png",
                "similarity.png"]
    for name in expected:
        assert_png(report_dir / name)
    # Shots 0 has a single epoch, so no epoch plot for it.
    assert not (report_dir / "accuracy_vs_epoch_shots0.png").exists()
    assert (report_dir / "summary.md").is_file()


def test_similarity_heatmap_accepts_tensors_and_checks_shape(tmp_path):
    torch = pytest.importorskip("torch")
    path = plot_similarity_heatmap(torch.rand(3, 5, requires_grad=True), ["a", "b", "c"],
                                   list("vwxyz"), tmp_path / "s.png")
    assert_png(path)
    with pytest.raises(ValueError, match="does not match"):
        plot_similarity_heatmap(np.zeros((3, 4)), ["a", "b", "c"], list("vwxyz"), tmp_path / "t.png")


def test_report_html_is_self_contained(report_dir):
    page = (report_dir / "report.html").read_text()
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page)  # only data URIs are loaded
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 4  # shots plot, two epoch plots, similarity
    embedded = {base64.b64decode(u) for u in uris}
    assert (report_dir / "similarity.png").read_bytes() in embedded
    assert (report_dir / "accuracy_vs_shots.png").read_bytes() in embedded
    # Run header, tables with the bold best cell, escaped text.
    assert "headstart bench --model efficientnet-lite0" in page
    assert "2-core CPU &lt;test&gt;" in page
    assert "<strong>73.0 ± 26.2</strong>" in page and "<table>" in page


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report_dir, tmp_path_factory):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; CI installs it)")
    work = tmp_path_factory.mktemp("chromium")
    shot = work / "shot.png"
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={work / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
        (report_dir / "report.html").resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), f"no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    with Image.open(shot) as image:
        assert image.size == (1200, 2000)
        pixels = image.convert("RGB")
        colours = pixels.getcolors(1 << 22)
        # Text, tables and plots give thousands of colours; a blank or error page a handful.
        assert len(colours) > 500
        non_white = np.asarray(pixels).min(axis=2) < 240
        assert non_white.mean() > 0.05


def test_plot_titles_name_datasets_not_paths():
    from headstart.lab.report.plots import dataset_name

    assert dataset_name("../shared/datasets/caltech50") == "caltech50"
    assert dataset_name("../shared/datasets/caltech50/") == "caltech50"
    assert dataset_name("fashion-mnist") == "fashion-mnist" and dataset_name("data/l.csv") == "l.csv"


def test_the_report_needs_no_torch_and_no_product_module():
    # the report is rebuilt anywhere its CSV is copied to, with numpy, scipy and matplotlib only: a lab
    # list or helper that reached the method registry would load torch and most of the product (the
    # report's modules import nothing inside their functions but scipy.stats and matplotlib's colormaps)
    code = ("import sys, headstart.lab.report; "
            "print(' '.join(sorted(m for m in sys.modules if m == 'torch' or m.startswith('headstart'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    loaded = set(done.stdout.split())
    assert "headstart.lab.report.page" in loaded and "torch" not in loaded
    assert {m for m in loaded if not m.startswith("headstart.lab")} \
        == {"headstart", "headstart.errors", "headstart.extras", "headstart.defaults"}
