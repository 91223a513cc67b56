"""The leave-one-dataset-out research of the default (benchmarks/lodo.py): its committed grids stay
runnable and reproduce their committed rows, whatever the default becomes since."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from conftest import shared_dataset

ROOT = Path(__file__).resolve().parents[1]
GRIDS = sorted((ROOT / "benchmarks" / "suites").glob("grid-*.json"))


def lodo():
    spec = importlib.util.spec_from_file_location("lodo", ROOT / "benchmarks" / "lodo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed_rows(folder: str) -> dict:
    with (ROOT / "docs" / "results" / "suite9-grids" / folder / "grid.csv").open() as f:
        return {(r["recipe"], r["dataset"], int(r["shots"]), int(r["seed"])): r["accuracy"] for r in csv.DictReader(f)}


@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.name)
def test_every_committed_grid_names_valid_recipes_once(grid):
    names = [entry["name"] for entry in json.loads(grid.read_text())]
    recipes = lodo().load_grid(str(grid))
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
    module = lodo()
    dataset = shared_dataset("intel-scenes")
    suite = {"model": "efficientnet-lite0", "resolution": 224, "epochs": 100, "seeds": 10, "shots": [2],
             "datasets": [{"dataset": str(dataset)}]}
    recipes = module.load_grid(str(ROOT / "benchmarks" / "suites" / grid))
    module.run_grid(suite, {recipe: recipes[recipe]}, [0], tmp_path)
    with (tmp_path / "grid.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert row["accuracy"] == committed_rows(folder)[(recipe, "intel-scenes", 2, 0)]
