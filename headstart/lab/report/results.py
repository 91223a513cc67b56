"""Reading the bench's tidy CSVs: typed, merged and deduplicated rows (the report's only input).

Input contract (``headstart bench`` writes it): one row per evaluated epoch with the columns
``model,dataset,method,shots,seed,epoch,accuracy`` (accuracy in [0, 1], epoch 0 = before training),
optionally ``final`` (1 on the row that is the method's result for that shots and seed) and any extra
columns, which are kept but not interpreted.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Iterable
from pathlib import Path

from headstart.errors import UserError

CONTRACT_COLUMNS = ("model", "dataset", "method", "shots", "seed", "epoch", "accuracy")
# Two rows with the same key are the same measurement (e.g. seed ranges run twice on two machines).
KEY_COLUMNS = ("model", "dataset", "method", "shots", "seed", "epoch")
_INT_COLUMNS = ("shots", "seed", "epoch")


def read_results(paths: str | Path | Iterable[str | Path]) -> list[dict]:
    """Read, type, merge and deduplicate one or more bench CSVs.

    Returns one dict per unique ``(model, dataset, method, shots, seed, epoch)``, in first-seen order:
    ``model, dataset, method`` str; ``shots, seed, epoch`` int; ``accuracy`` float in [0, 1];
    ``final`` bool, or None when that file has no ``final`` column; extra columns as int, float,
    str or None (empty). On duplicates the first file/row wins; differing accuracies are warned about.

    Raises UserError for a missing file, missing contract columns or an unparsable value.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    merged: dict[tuple, dict] = {}
    conflicts = 0
    for path in map(Path, paths):
        for row in _read_one(path):
            key = tuple(row[c] for c in KEY_COLUMNS)
            if key not in merged:
                merged[key] = row
            elif not math.isclose(merged[key]["accuracy"], row["accuracy"], abs_tol=1e-9):
                conflicts += 1
    if conflicts:
        warnings.warn(
            f"{conflicts} duplicate result row(s) disagree on accuracy; kept the first file's value "
            "(check that merged sweeps used the same settings)",
            stacklevel=2,
        )
    return list(merged.values())


def _read_one(path: Path) -> list[dict]:
    """Typed rows of one CSV file (no deduplication)."""
    if not path.is_file():
        raise UserError(
            f"results file not found: {path}. Run `headstart bench ... --out DIR` first, "
            "or pass the path of an existing results.csv."
        )
    try:
        return _parse_file(path)
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path} is not a text CSV file ({error}); point at the results.csv written by "
                        "`headstart bench --out DIR`.") from None


def _parse_file(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in CONTRACT_COLUMNS if c not in columns]
        if missing:
            raise UserError(
                f"{path} lacks column(s) {', '.join(missing)}; a bench results CSV needs "
                f"{','.join(CONTRACT_COLUMNS)}[,final,...]. Point at the results.csv written by "
                "`headstart bench --out DIR`."
            )
        reader.fieldnames = columns
        has_final = "final" in columns
        # Line 1 is the header, so data rows start at line 2 (as an editor shows them).
        return [_type_row(raw, has_final, f"{path}:{line}") for line, raw in enumerate(reader, 2)]


def _type_row(raw: dict, has_final: bool, where: str) -> dict:
    """Convert one raw CSV dict to typed values; ``where`` (file:line) goes into error messages."""
    row: dict = {}
    for column, text in raw.items():
        if column is None:  # more cells than header names: a broken line
            raise UserError(f"{where}: more values than columns; fix or remove that line.")
        text = (text or "").strip()
        if column in ("model", "dataset", "method"):
            row[column] = text
        elif column in _INT_COLUMNS:
            row[column] = _parse_int(text, column, where)
        elif column == "accuracy":
            row[column] = _parse_accuracy(text, where)
        elif column == "final":
            row[column] = _parse_flag(text, where)
        else:
            row[column] = _parse_scalar(text)
    if not has_final:
        row["final"] = None
    return row


def _parse_int(text: str, column: str, where: str) -> int:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not number.is_integer():
        raise UserError(
            f"{where}: column {column!r} must be an integer, got {text!r}; fix or remove that row."
        )
    return int(number)


def _parse_accuracy(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # also rejects nan
        raise UserError(
            f"{where}: accuracy must be a fraction in [0, 1], got {text!r} "
            "(percentages must be divided by 100); fix or remove that row."
        )
    return value


def _parse_flag(text: str, where: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "1.0", "true", "yes"):
        return True
    if lowered in ("", "0", "0.0", "false", "no"):
        return False
    raise UserError(f"{where}: column 'final' must be 1 or 0, got {text!r}; fix or remove that row.")


def _parse_scalar(text: str) -> int | float | str | None:
    """Best-effort typing of extra columns (resolution, test_size, seconds, ...)."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# ----------------------------------------------------------------------------------------------
