"""The leave-one-dataset-out research of the default (headstart.lab.lodo): its committed grids stay
runnable and reproduce their committed rows, whatever the default becomes since."""

from __future__ import annotations

import csv
import json
import sys

import pytest

from headstart.lab import lodo
from helpers import ROOT, shared_dataset

GRIDS = sorted((ROOT / "benchmarks" / "suites").glob("grid-*.json"))


def committed_rows(folder: str) -> dict:
    with (ROOT / "docs" / "results" / "suite9-grids" / folder / "grid.csv").open() as f:
        return {(r["recipe"], r["dataset"], int(r["shots"]), int(r["seed"])): r["accuracy"] for r in csv.DictReader(f)}


@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.name)
def test_every_committed_grid_names_valid_recipes_once(grid):
    names = [entry["name"] for entry in json.loads(grid.read_text())]
    recipes = lodo.load_grid(str(grid))
    assert len(set(names)) == len(names) and list(recipes) == names


@pytest.mark.slow
@pytest.mark.parametrize("grid, folder, recipe", [
    ("grid-nine.json", "recipes", "N03-tp05"),  # the third round's default, before the images' class means
    ("grid-nine-images.json", "images", "J3-shots10"),  # today's default
    ("grid-nine-images.json", "images", "I3-imprint-faded"),
])
def test_a_committed_grid_row_is_reproduced_to_the_bit(grid, folder, recipe, tmp_path):
    # a grid entry overrides today's default: were a constant of the default changed without the
    # committed grids saying what they ran with, their rows would no longer be what the entry runs
    dataset = shared_dataset("intel-scenes")
    suite = {"model": "efficientnet-lite0", "resolution": 224, "epochs": 100, "seeds": 10, "shots": [2],
             "datasets": [{"dataset": str(dataset)}]}
    recipes = lodo.load_grid(str(ROOT / "benchmarks" / "suites" / grid))
    lodo.run_grid(suite, {recipe: recipes[recipe]}, [0], tmp_path)
    with (tmp_path / "grid.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert row["accuracy"] == committed_rows(folder)[(recipe, "intel-scenes", 2, 0)]


def test_the_held_out_rows_are_the_chosen_recipes_in_the_defaults_place(tmp_path):
    # robust_check.py reads `headstart` rows: were the suite's own default rows kept beside (or instead
    # of) the chosen recipe's, the held-out table's check would score the recipe chosen on all nine
    columns = ["model", "dataset", "method", "shots", "seed", "epoch", "accuracy", "final", "resolution",
               "test_size", "seconds", "config"]
    suite = tmp_path / "suite.csv"
    rows = [{"model": "m", "dataset": "d", "method": method, "shots": shots, "seed": seed, "epoch": epoch,
             "accuracy": "0.500000", "final": final, "resolution": 224, "test_size": 20, "seconds": "0.1",
             "config": "c"}
            for method in ("lin", "headstart") for shots in (1, 2) for seed in (0, 1, 2)
            for epoch, final in ((0, 0), (100, 1))]
    with suite.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    grid = {("d", 1, 0): 0.25, ("d", 1, 1): 0.75, ("d", 2, 0): 0.125}  # no row for 2 shots, seed 1
    out = tmp_path / "held" / "d" / "results.csv"
    lodo.write_held_out(suite, grid, "R1", "d", [1, 2], [0, 1], out)
    with out.open() as f:
        written = list(csv.DictReader(f))
    assert {(r["method"], r["shots"], r["seed"], r["accuracy"], r["config"])
            for r in written if r["method"] == "headstart"} \
        == {("headstart", "1", "0", "0.250000", "R1"), ("headstart", "1", "1", "0.750000", "R1"),
            ("headstart", "2", "0", "0.125000", "R1")}
    assert {(r["shots"], r["seed"]) for r in written if r["method"] == "lin"} == {("1", "0"), ("1", "1"), ("2", "0")}
    assert all(r["final"] == "1" for r in written)


def test_the_documented_command_prints_the_table(tmp_path, monkeypatch, capsys):
    # docs/results/suite9.md runs `python -m headstart.lab.lodo table ...`: the module is the command
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps({"shots": [1], "datasets": [{"dataset": "fashion-mnist"}]}))
    results = tmp_path / "out" / "fashion-mnist" / "results.csv"
    results.parent.mkdir(parents=True)
    results.write_text("method,shots,seed,final,accuracy\n" + "".join(
        f"{method},1,{seed},1,{accuracy}\n"
        for method, accuracies in (("headstart", (0.6, 0.7)), ("logreg", (0.5, 0.6)))
        for seed, accuracy in enumerate(accuracies)))
    monkeypatch.setattr(sys, "argv", ["lodo", "table", str(suite), "--suite-out", str(tmp_path / "out")])
    lodo.main()
    printed = capsys.readouterr().out
    assert "| fashion-mnist | headstart | 65.0 |" in printed
    assert "|  | best fixed peer | 55.0 (logreg) |" in printed and "|  | Δ (pp, 95 % CI) | +10.0 |" in printed


def test_names_only_choice_is_judged_by_the_chosen_peers_and_tolerance():
    # names only (issue 32): judged against text, lin, path and jcn with the rule's 3 pp; were the zero
    # head's chance row or the few-shot 1 pp tolerance used, a recipe 2 pp behind text would count as a loss
    peers = {("d", "zero", 0, 0): 0.60, ("d", "text", 0, 0): 0.42}  # zero ahead: as if chance scored well
    acc = {("d", 0, 0): 0.40}
    assert lodo.cell_margins(acc, peers, "d", 0, [0])[0] == pytest.approx(-20.0)
    names = ("text", "lin", "path", "jcn")
    low, by_peer = lodo.cell_margins(acc, peers, "d", 0, [0], names)
    assert low == pytest.approx(-2.0) and set(by_peer) == {"text"}
    assert lodo.score(acc, peers, ["d"], [0], [0], 3.0, 1.0, names) == pytest.approx(-2.0 - 3.0 * 1.0)
    assert lodo.score(acc, peers, ["d"], [0], [0], 3.0, 3.0, names) == pytest.approx(-2.0)
