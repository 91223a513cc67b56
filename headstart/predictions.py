"""What `headstart predict` reads and writes, without torch: the images its arguments name, the top
classes of each, and the CSV of predictions."""

from __future__ import annotations

import csv
import glob
import io
from pathlib import Path
from typing import Sequence

import numpy as np

from headstart.cache import atomic_write
from headstart.data.folder import UnlabelledImages
from headstart.errors import UserError
from headstart.safe_text import spreadsheet_cell


def top_classes(estimator, probabilities: np.ndarray, top: int) -> list[list[tuple[str, float]]]:
    """Top-`top` (class name, probability) per row of probabilities [N, C], most probable first.
    estimator: a fitted `HeadStart` or `Predictor` (its `class_names_`)."""
    index = np.argsort(-probabilities, axis=1, kind="stable")[:, :min(top, len(estimator.class_names_))]
    values = np.take_along_axis(probabilities, index, axis=1)
    return [[(estimator.class_names_[i], p) for p, i in zip(vs, ix)] for vs, ix in zip(values.tolist(), index.tolist())]


def image_paths(arguments: Sequence[str]) -> list[Path]:
    """The images that `predict` arguments name: files, folders (every readable image under them,
    in any layout), glob patterns, and CSV files whose first column lists images or folders (relative
    to the CSV's folder, not the working directory; a first row naming a column is skipped)."""
    paths = []
    for argument in arguments:
        path = Path(argument).expanduser()
        if path.is_file() and path.suffix.lower() == ".csv":
            paths += _csv_images(path)
        elif path.is_file():
            paths.append(path)
        elif path.is_dir():
            paths += UnlabelledImages(path).paths
        elif any(c in argument for c in "*?["):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not matches:
                raise UserError(f"no file matches {argument}")
            paths += matches
        else:
            raise UserError(f"{argument} does not exist: pass image files, folders, glob patterns or a CSV of images")
    return paths


def _csv_images(path: Path) -> list[Path]:
    """The images a CSV's first column lists: files, or folders (every readable image under them),
    relative to the CSV's folder; UTF-8 with or without a byte-order mark, as `fit` reads CSVs."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if row and row[0].strip()]
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path} is not a UTF-8 CSV file ({error}): save it as UTF-8") from None
    if rows and not (path.parent / rows[0][0]).exists() and rows[0][0].strip().lower() in ("path", "image", "file"):
        rows = rows[1:]
    listed = [path.parent / row[0].strip() for row in rows]
    missing = [p for p in listed if not p.exists()]
    if missing:
        raise UserError(f"{path} lists {missing[0]}, which does not exist ({len(missing)} missing; paths are "
                        "relative to the CSV's folder)")
    if not listed:
        raise UserError(f"{path} lists no images: put one image path per row in its first column")
    return [image for p in listed for image in (UnlabelledImages(p).paths if p.is_dir() else [p])]


def write_predictions(out: Path, paths: Sequence[Path], estimator, probabilities: np.ndarray) -> Path:
    """A CSV with one row per image: image, prediction (class name), probability, then the
    probability of every class. Text cells that a spreadsheet would run as a formula (a class or
    file name starting with = + - @) start with a single quote (`safe_text.spreadsheet_cell`)."""
    best = probabilities.argmax(axis=1)
    names = [spreadsheet_cell(name) for name in estimator.class_names_]

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["image", "prediction", "probability", *names])
    for path, row, b in zip(paths, probabilities, best):
        writer.writerow([spreadsheet_cell(str(path)), names[b], f"{row[b]:.6f}", *(f"{p:.6f}" for p in row)])
    atomic_write(out, lambda f: f.write(text.getvalue().encode("utf-8")))
    return out
