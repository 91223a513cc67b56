"""How fast each method comes within 1 pp of its own final accuracy (issue 32 item 4), by hand."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from headstart.lab.report import convergence, read_results, write_report
from headstart.lab.report.tables import SPEED_TITLE, markdown_table, speed_grid
from helpers import ROOT

COLUMNS = ["model", "dataset", "method", "shots", "seed", "epoch", "accuracy", "final", "seconds"]


def run(method, dataset, seed, curve, seconds, shots=1, finished=True):
    """Bench-like rows of one run; its last epoch is its final row unless the run is unfinished."""
    last = max(curve)
    return [{"model": "m", "dataset": dataset, "method": method, "shots": shots, "seed": seed, "epoch": epoch,
             "accuracy": accuracy, "final": int(finished and epoch == last), "seconds": seconds}
            for epoch, accuracy in curve.items()]


ROWS = (
    # 'fast': seed 0 is exactly 1 pp below its final 0.66 at epoch 5 (within), seed 1 there after 1 epoch
    run("fast", "d1", 0, {0: 0.40, 1: 0.50, 5: 0.65, 10: 0.656, 20: 0.66}, 2.0)
    + run("fast", "d1", 1, {0: 0.50, 1: 0.70, 5: 0.69, 10: 0.70, 20: 0.70}, 4.0)
    + run("fast", "d1", 2, {0: 0.90}, 9.0, finished=False)  # unfinished: left out
    + run("fast", "d1", 0, {0: 0.30}, 0.1, shots=0)  # names only: no training to measure
    # 'slow' is within 1 pp only at its last epoch; on d2 the bench did not sample epoch 5
    + run("slow", "d1", 0, {0: 0.10, 1: 0.20, 5: 0.30, 10: 0.40, 20: 0.60}, 1.0)
    + run("slow", "d2", 0, {0: 0.20, 1: 0.30, 10: 0.50, 20: 0.52}, 1.0)
    # 'closed' is a closed-form head: its final row at epoch 0 and nothing else
    + run("closed", "d1", 0, {0: 0.55}, 0.5)
    + run("closed", "d2", 0, {0: 0.45}, 1.5)
)


def write_csv(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_convergence_by_hand(tmp_path):
    table = {r.method: r for r in convergence(read_results(write_csv(tmp_path / "results.csv", ROWS)))}
    assert list(table) == ["fast", "slow", "closed"] and {r.shots for r in table.values()} == {1}
    fast, slow, closed = table["fast"], table["slow"], table["closed"]
    assert fast.runs == 2 and fast.epochs == 3.0 and fast.median_epochs == 5  # epochs 5 and 1
    assert fast.at == pytest.approx((0.45, 0.60, 0.67, 0.678)) and fast.final == pytest.approx(0.68)
    assert fast.seconds == 3.0
    assert slow.runs == 2 and slow.epochs == 20.0 and slow.median_epochs == 20  # never within before epoch 20
    assert slow.at[:2] == pytest.approx((0.15, 0.25)) and slow.at[2] is None  # epoch 5 missing on d2
    assert slow.at[3] == pytest.approx(0.45) and slow.final == pytest.approx(0.56)
    assert closed.runs == 2 and closed.epochs is None and closed.median_epochs is None
    assert closed.at == (None, None, None, None) and closed.final == pytest.approx(0.50)
    assert closed.seconds == 1.0


def test_without_a_seconds_column_the_seconds_are_left_blank(tmp_path):
    path = tmp_path / "results.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS[:-1], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(ROWS)
    assert [r.seconds for r in convergence(read_results(path))] == [None, None, None]


EXPECTED = [
    ["shots", "method", "runs", "epoch 0", "epoch 1", "epoch 5", "epoch 10", "final", "epochs to within 1 pp",
     "seconds per fit"],
    ["1", "fast", "2", "45.0", "60.0", "67.0", "67.8", "68.0", "3.0 / 5", "3.00"],
    ["1", "slow", "2", "15.0", "25.0", "", "45.0", "56.0", "20.0 / 20", "1.00"],
    ["1", "closed", "2", "", "", "", "", "50.0", "final at epoch 0", "1.00"],
]


def speed_lines(markdown: str) -> list[list[str]]:
    """Cells of the convergence table in a summary.md (header and body, no alignment line)."""
    lines = markdown.splitlines()
    start = lines.index(f"## {SPEED_TITLE}")
    start += next(i for i, line in enumerate(lines[start:]) if line.startswith("|"))
    end = next(i for i, line in enumerate(lines[start:], start) if not line.startswith("|"))
    table = lines[start:end]
    cells = [[c.strip() for c in line.strip()[1:-1].split("|")] for line in table]
    return [cells[0]] + cells[2:]


def test_a_bench_folder_and_a_suite_report_show_the_table(tmp_path):
    write_csv(tmp_path / "bench" / "results.csv", ROWS)
    page = write_report(tmp_path / "bench").read_text()
    assert speed_lines((tmp_path / "bench" / "summary.md").read_text()) == EXPECTED
    assert SPEED_TITLE in page and "<td>3.0 / 5</td>" in page and "<td>final at epoch 0</td>" in page
    # a suite's top level pools its datasets' folders: two folders of the same rows, twice the runs
    csvs = [write_csv(tmp_path / "suite" / name / "results.csv",
                      [dict(r, dataset=f"{name}-{r['dataset']}") for r in ROWS]) for name in ("a", "b")]
    write_report(tmp_path / "suite", csvs)
    pooled = speed_lines((tmp_path / "suite" / "summary.md").read_text())
    assert pooled == [EXPECTED[0]] + [line[:2] + ["4"] + line[3:] for line in EXPECTED[1:]]


def test_the_convergence_benchmark_prints_the_report_table(tmp_path):
    write_csv(tmp_path / "a" / "results.csv", ROWS)
    done = subprocess.run([sys.executable, "benchmarks/convergence.py", "rows", str(tmp_path / "a")], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == markdown_table(*speed_grid(convergence(read_results(tmp_path / "a" / "results.csv"))))
    assert "| 1 | closed | 2 |  |  |  |  | 50.0 | final at epoch 0 | 1.00 |" in done.stdout
