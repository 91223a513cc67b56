"""Tables, plots and a self-contained HTML report, made from the bench's tidy CSV alone.

Input contract (``headstart bench`` writes it): one row per evaluated epoch with the columns
``model,dataset,method,shots,seed,epoch,accuracy`` (accuracy in [0, 1], epoch 0 = before training),
optionally ``final`` (1 on the row that is the method's result for that shots and seed) and any extra
columns, which are kept but not interpreted.

Pipeline::

    rows = read_results(["a/results.csv", "b/results.csv"])   # merged, deduplicated, typed
    table = summarise(rows)                                    # list[SummaryRow]
    write_summary_md(table, "summary.md")
    write_report("results_dir")                                # all of the above + plots + report.html

Only numpy, matplotlib (Agg, no pyplot state) and the standard library are used, so a report can be
rebuilt anywhere the CSV can be copied to.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import statistics
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from headstart.errors import UserError

__all__ = [
    "CONTRACT_COLUMNS",
    "PEERS",
    "Estimate",
    "SummaryRow",
    "default_epoch_shots",
    "final_accuracies",
    "mean_ci",
    "plot_accuracy_vs_epoch",
    "plot_accuracy_vs_shots",
    "plot_similarity_heatmap",
    "read_results",
    "summarise",
    "summary_markdown",
    "t_critical_95",
    "write_report",
    "write_summary_md",
]

CONTRACT_COLUMNS = ("model", "dataset", "method", "shots", "seed", "epoch", "accuracy")
# Two rows with the same key are the same measurement (e.g. seed ranges run twice on two machines).
KEY_COLUMNS = ("model", "dataset", "method", "shots", "seed", "epoch")
# Every method the default is measured against: the basic heads, then the seed paper's transfer-init
# families (top-k source rows by one similarity, trained without a prior).
PEERS = ("random", "zero", "logreg", "imprint", "path", "wup", "lch", "res", "jcn", "lin", "text",
         "visual", "visual-cosine", "hybrid")
_INT_COLUMNS = ("shots", "seed", "epoch")
_RUN_INFO_ORDER = ("command", "model", "dataset", "resolution", "test_size", "seeds", "machine")

LEGEND = (
    ("final", "mean over seeds of the accuracy on each seed's final row (usually the last epoch), "
              "± half-width of the 95 % confidence interval (Student t, n − 1 degrees of freedom); "
              "the ± part is omitted when n = 1."),
    ("n", "seeds that have a final result."),
    ("epoch 0 / epoch 1", "mean accuracy before any training (the initial head) and after one epoch; "
                          "blank when that epoch was not evaluated."),
    ("Δ vs best peer", "per-seed difference method − peer in percentage points, paired on the seeds "
                       "both have, mean ± 95 % CI. The best peer is whichever other method in the "
                       "results has the highest mean final accuracy at that shots."),
    ("bold", "the highest mean final accuracy at that shots (ties at the shown precision all bold)."),
)


# ----------------------------------------------------------------------------------------------
# Reading


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
# Statistics


def t_critical_95(df: int) -> float:
    """Two-sided 95 % Student t critical value t_{0.975, df} for ``df >= 1`` degrees of freedom."""
    from scipy import stats

    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return float(stats.t.ppf(0.975, df))


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` values with the half-width of its 95 % CI (None when n < 2)."""

    mean: float
    half_width: float | None
    n: int


def mean_ci(values: Sequence[float]) -> Estimate:
    """Mean and 95 % t confidence half-width ``t_{0.975,n-1} * s / sqrt(n)`` (s with n − 1)."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = statistics.fmean(values)
    if n < 2:
        return Estimate(mean, None, n)
    return Estimate(mean, t_critical_95(n - 1) * statistics.stdev(values) / math.sqrt(n), n)


@dataclass(frozen=True)
class SummaryRow:
    """One method at one shots value of one (model, dataset): the summary table's unit.

    ``final`` is over seeds; ``epoch0``/``epoch1`` are mean accuracies (None when never evaluated);
    ``vs_peer`` is the seed-paired difference to ``best_peer`` (both None when no peer qualifies).
    """

    model: str
    dataset: str
    shots: int
    method: str
    final: Estimate
    epoch0: float | None
    epoch1: float | None
    best_peer: str | None
    vs_peer: Estimate | None

    @property
    def n_seeds(self) -> int:
        return self.final.n


def final_accuracies(rows: Iterable[dict]) -> dict[tuple[str, str, str, int], dict[int, float]]:
    """Final accuracy per seed, keyed by ``(model, dataset, method, shots)`` -> ``{seed: accuracy}``.

    The final row is the one flagged ``final`` (the largest epoch if several are). Rows from a file
    without a ``final`` column fall back to the largest epoch; a seed whose file has the column but
    no flagged row is an unfinished run and is left out rather than reported as a result.
    """
    runs: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        runs[(row["model"], row["dataset"], row["method"], row["shots"], row["seed"])].append(row)
    finals: dict[tuple, dict[int, float]] = defaultdict(dict)
    for (model, dataset, method, shots, seed), run in runs.items():
        flagged = [r for r in run if r["final"]]
        if not flagged and all(r["final"] is None for r in run):
            flagged = run
        if flagged:
            finals[(model, dataset, method, shots)][seed] = max(flagged, key=lambda r: r["epoch"])["accuracy"]
    return dict(finals)


def method_order(methods: Iterable[str]) -> list[str]:
    """Peers first in their fixed order, then the other methods in first-seen order."""
    seen = list(dict.fromkeys(methods))
    return [p for p in PEERS if p in seen] + [m for m in seen if m not in PEERS]


def summarise(rows: Sequence[dict]) -> list[SummaryRow]:
    """Summary statistics per (model, dataset) × shots × method, sorted in that order.

    Methods with no final result at a shots value (e.g. an unfinished run) are absent there.
    """
    finals = final_accuracies(rows)
    epoch_means = _epoch_means(rows, epochs=(0, 1))
    order = {m: i for i, m in enumerate(method_order(r["method"] for r in rows))}
    table = []
    for (model, dataset, method, shots), by_seed in finals.items():
        peer = _best_peer(finals, model, dataset, shots, exclude=method)
        vs_peer = None
        if peer is not None:
            peer_seeds = finals[(model, dataset, peer, shots)]
            paired = [by_seed[s] - peer_seeds[s] for s in sorted(by_seed.keys() & peer_seeds.keys())]
            vs_peer = mean_ci(paired) if paired else None
        table.append(SummaryRow(
            model=model, dataset=dataset, shots=shots, method=method,
            final=mean_ci([by_seed[s] for s in sorted(by_seed)]),
            epoch0=epoch_means.get((model, dataset, method, shots, 0)),
            epoch1=epoch_means.get((model, dataset, method, shots, 1)),
            best_peer=peer if vs_peer is not None else None,
            vs_peer=vs_peer,
        ))
    table.sort(key=lambda r: (r.model, r.dataset, r.shots, order[r.method]))
    return table


def _epoch_means(rows: Iterable[dict], epochs: Sequence[int]) -> dict[tuple, float]:
    """Mean accuracy over seeds at the given epochs, keyed by (model, dataset, method, shots, epoch)."""
    values: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        if row["epoch"] in epochs:
            key = (row["model"], row["dataset"], row["method"], row["shots"], row["epoch"])
            values[key].append(row["accuracy"])
    return {key: statistics.fmean(v) for key, v in values.items()}


def _best_peer(finals: dict, model: str, dataset: str, shots: int, exclude: str) -> str | None:
    """The other method with the highest mean final accuracy at these shots; ties go to the
    method_order (peers first)."""
    best, best_mean = None, -math.inf
    methods = method_order(m for (mo, ds, m, sh) in finals if (mo, ds, sh) == (model, dataset, shots))
    for peer in methods:
        by_seed = finals[(model, dataset, peer, shots)]
        if peer == exclude or not by_seed:
            continue
        mean = statistics.fmean(by_seed.values())
        if mean > best_mean:
            best, best_mean = peer, mean
    return best


# ----------------------------------------------------------------------------------------------
# Tables (one cell grid, rendered as markdown or HTML)

Cell = tuple[str, bool]  # (text, bold)
_TEXT_COLUMNS = ("shots", "method", "best peer")  # left-aligned; numbers align right


def _groups(table: Sequence[SummaryRow]) -> dict[tuple[str, str], list[SummaryRow]]:
    groups: dict[tuple[str, str], list[SummaryRow]] = defaultdict(list)
    for row in table:
        groups[(row.model, row.dataset)].append(row)
    return dict(groups)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _pct_ci(est: Estimate | None, signed: bool = False) -> str:
    if est is None:
        return ""
    text = f"{100 * est.mean:+.1f}" if signed else f"{100 * est.mean:.1f}"
    return text if est.half_width is None else f"{text} ± {100 * est.half_width:.1f}"


def _best_methods(rows: Sequence[SummaryRow]) -> set[str]:
    """Methods whose mean final accuracy equals the best one at the shown precision (one decimal %)."""
    best = max(round(100 * r.final.mean, 1) for r in rows)
    return {r.method for r in rows if round(100 * r.final.mean, 1) == best}


def overview_grid(rows: Sequence[SummaryRow]) -> tuple[list[str], list[list[Cell]]]:
    """Final accuracy: one line per shots, one column per method, best cell of each line bold."""
    methods = method_order(r.method for r in rows)
    header = ["shots"] + methods
    body = []
    for shots in sorted({r.shots for r in rows}):
        at_shots = {r.method: r for r in rows if r.shots == shots}
        best = _best_methods(list(at_shots.values()))
        line: list[Cell] = [(str(shots), False)]
        line += [(_pct_ci(at_shots[m].final), m in best) if m in at_shots else ("", False) for m in methods]
        body.append(line)
    return header, body


def detail_grid(rows: Sequence[SummaryRow]) -> tuple[list[str], list[list[Cell]]]:
    """Every statistic: one line per shots × method, best final accuracy per shots bold."""
    header = ["shots", "method", "n", "final (%)", "epoch 0 (%)", "epoch 1 (%)",
              "Δ vs best peer (pp)", "best peer"]
    body = []
    for shots in sorted({r.shots for r in rows}):
        at_shots = [r for r in rows if r.shots == shots]
        best = _best_methods(at_shots)
        for r in at_shots:
            peer = r.best_peer or ""
            if r.vs_peer is not None and r.vs_peer.n != r.n_seeds:
                peer += f" ({r.vs_peer.n} paired seeds)"
            body.append([
                (str(shots), False), (r.method, False), (str(r.n_seeds), False),
                (_pct_ci(r.final), r.method in best), (_pct(r.epoch0), False), (_pct(r.epoch1), False),
                (_pct_ci(r.vs_peer, signed=True), False), (peer, False),
            ])
    return header, body


def _md_table(header: list[str], body: list[list[Cell]]) -> str:
    def cell(text: str, bold: bool) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if bold and text else text

    lines = ["| " + " | ".join(cell(h, False) for h in header) + " |",
             "|" + "|".join("---" if h in _TEXT_COLUMNS else "---:" for h in header) + "|"]
    lines += ["| " + " | ".join(cell(t, b) for t, b in line) + " |" for line in body]
    return "\n".join(lines)


def _html_table(header: list[str], body: list[list[Cell]]) -> str:
    left = [h in _TEXT_COLUMNS for h in header]

    def cell(text: str, bold: bool, is_text: bool) -> str:
        text = html.escape(text)
        opening = '<td class="text">' if is_text else "<td>"
        return f"{opening}<strong>{text}</strong></td>" if bold and text else f"{opening}{text}</td>"

    head = "".join(f'<th class="text">{html.escape(h)}</th>' if is_text else f"<th>{html.escape(h)}</th>"
                   for h, is_text in zip(header, left))
    lines = "\n".join("<tr>" + "".join(cell(t, b, x) for (t, b), x in zip(line, left)) + "</tr>"
                      for line in body)
    return f'<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{lines}\n</tbody>\n</table>'


def summary_markdown(table: Sequence[SummaryRow]) -> str:
    """The summary as markdown: per (model, dataset) an overview table and a detail table, then a legend."""
    parts = ["# Results summary", ""]
    for (model, dataset), rows in _groups(table).items():
        parts += [f"## {model} on {dataset}", "", "Final accuracy (%), mean ± 95 % CI over seeds:", "",
                  _md_table(*overview_grid(rows)), "", "Details:", "", _md_table(*detail_grid(rows)), ""]
    parts += ["### Legend", ""] + [f"- **{name}**: {text}" for name, text in LEGEND]
    return "\n".join(parts) + "\n"


def write_summary_md(table: Sequence[SummaryRow], path: str | Path) -> Path:
    """Write :func:`summary_markdown` to ``path`` and return it."""
    path = Path(path)
    path.write_text(summary_markdown(table), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------
# Plots (matplotlib's object API with an Agg canvas: no pyplot global state, no display needed)


def _new_figure(n_panels: int, width: float = 6.0, height: float = 4.2) -> tuple[Figure, list]:
    fig = Figure(figsize=(width * n_panels + 1.6, height), layout="constrained")  # + legend
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, list(axes)


def _method_styles(methods: Sequence[str]) -> dict[str, dict]:
    """A stable colour per method, the same in every plot; peers dashed so our methods stand out.

    Our methods take the first (most saturated) colours of the palette, peers the rest.
    """
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(methods) <= 10 else "tab20"]
    ordered = [m for m in methods if m not in PEERS] + [m for m in methods if m in PEERS]
    return {m: {"color": cmap(i % cmap.N), "linestyle": "--" if m in PEERS else "-"}
            for i, m in enumerate(ordered)}


def _figure_legend(fig: Figure, axes: Sequence) -> None:
    """One legend for all panels, outside the plotting area so it never hides a line."""
    handles: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="outside right upper", fontsize="small")


def _ci_band(est: Estimate) -> tuple[float, float]:
    """The CI in percent, clipped to [0, 100]: with 2-3 seeds a t interval can leave the possible
    range, and drawing that would only squash the lines."""
    half = est.half_width or 0.0
    return max(0.0, 100 * (est.mean - half)), min(100.0, 100 * (est.mean + half))


def _line_with_band(ax, xs: Sequence, estimates: Sequence[Estimate], method: str, style: dict, marker: str) -> None:
    """Mean accuracy (%) at xs with its 95 % CI as a shaded band."""
    ax.plot(xs, [100 * e.mean for e in estimates], marker=marker, label=method, **style)
    low, high = zip(*(_ci_band(e) for e in estimates))
    ax.fill_between(xs, low, high, color=style["color"], alpha=0.12, linewidth=0)


def _label_axes(ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)


def _save(fig: Figure, axes: Sequence, path: str | Path) -> Path:
    _figure_legend(fig, axes)
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_accuracy_vs_shots(table: Sequence[SummaryRow], path: str | Path) -> Path:
    """Mean final accuracy vs shots, one line per method with its 95 % CI band.

    Shots are placed at equal spacing (categorical axis) because 0 is included and the values are
    roughly geometric (0, 1, 2, 5, 10, ...). One panel per (model, dataset).
    """
    groups = _groups(table)
    fig, axes = _new_figure(len(groups))
    styles = _method_styles(method_order(r.method for r in table))
    for ax, ((model, dataset), rows) in zip(axes, groups.items()):
        shots_values = sorted({r.shots for r in rows})
        position = {s: i for i, s in enumerate(shots_values)}
        for method in method_order(r.method for r in rows):
            line = sorted((r for r in rows if r.method == method), key=lambda r: r.shots)
            _line_with_band(ax, [position[r.shots] for r in line], [r.final for r in line], method,
                            styles[method], marker="o")
        ax.set_xticks(range(len(shots_values)), [str(s) for s in shots_values])
        _label_axes(ax, "shots (training images per class)", "final accuracy (%)", f"{model} on {dataset}")
    return _save(fig, axes, path)


def default_epoch_shots(rows: Iterable[dict], limit: int = 3) -> list[int]:
    """Shots values worth an accuracy-vs-epoch plot: those with more than one epoch evaluated.

    When more than ``limit`` qualify, keep an even spread (smallest, largest and between) since the
    extremes show the few-shot and the many-shot regimes.
    """
    epochs: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        epochs[row["shots"]].add(row["epoch"])
    eligible = sorted(s for s, e in epochs.items() if len(e) > 1)
    if len(eligible) <= limit:
        return eligible
    if limit == 1:
        return [eligible[0]]
    picks = np.linspace(0, len(eligible) - 1, limit).round().astype(int)
    return [eligible[i] for i in sorted(set(picks))]


def plot_accuracy_vs_epoch(rows: Sequence[dict], shots: int, path: str | Path) -> Path:
    """Mean accuracy vs training epoch at one shots value, one line per method with a 95 % CI band.

    A method evaluated at a single epoch only (e.g. a closed-form logistic regression) is drawn as a
    dotted horizontal reference line. One panel per (model, dataset).
    """
    at_shots = [r for r in rows if r["shots"] == shots]
    if not at_shots:
        raise ValueError(f"no result rows at shots={shots}")
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in at_shots:
        groups[(row["model"], row["dataset"])].append(row)
    fig, axes = _new_figure(len(groups))
    styles = _method_styles(method_order(r["method"] for r in rows))
    for ax, ((model, dataset), group) in zip(axes, groups.items()):
        max_epoch = max(r["epoch"] for r in group)
        for method in method_order(r["method"] for r in group):
            by_epoch: dict[int, list[float]] = defaultdict(list)
            for r in group:
                if r["method"] == method:
                    by_epoch[r["epoch"]].append(r["accuracy"])
            epochs = sorted(by_epoch)
            estimates = [mean_ci(by_epoch[e]) for e in epochs]
            if len(epochs) == 1:
                ax.axhline(100 * estimates[0].mean, color=styles[method]["color"], linestyle=":",
                           label=f"{method} (no epochs)")
                continue
            _line_with_band(ax, epochs, estimates, method, styles[method], marker=".")
        ax.set_xlim(0, max(max_epoch, 1))
        _label_axes(ax, "epoch (0 = before training)", "accuracy (%)", f"{model} on {dataset}, shots = {shots}")
    return _save(fig, axes, path)


def _shorten(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def plot_similarity_heatmap(matrix, target_names: Sequence[str], source_names: Sequence[str],
                            path: str | Path, *, max_columns: int = 40) -> Path:
    """Heatmap of a target × source similarity matrix.

    matrix: shape (n_targets, n_sources), numpy array or CPU torch tensor. When there are more than
    ``max_columns`` sources, only the ones most similar to some target are kept (by column maximum),
    ordered by the target they match best so the picture reads as a rough diagonal.
    """
    if hasattr(matrix, "detach"):
        matrix = matrix.detach().cpu().numpy()
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2 or values.shape != (len(target_names), len(source_names)):
        raise ValueError(f"matrix shape {values.shape} does not match "
                         f"{len(target_names)} target and {len(source_names)} source names")
    columns = np.arange(values.shape[1])
    if values.shape[1] > max_columns:
        columns = np.argsort(-values.max(axis=0), kind="stable")[:max_columns]
    columns = sorted(columns, key=lambda c: (values[:, c].argmax(), -values[:, c].max()))
    values = values[:, columns]
    sources = [_shorten(source_names[c]) for c in columns]
    targets = [_shorten(t) for t in target_names]

    n_t, n_s = values.shape
    fig = Figure(figsize=(max(6.0, 0.32 * n_s + 3.0), max(3.0, 0.32 * n_t + 2.2)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(values, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(n_s), sources, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    ax.set_yticks(range(n_t), targets, fontsize=8)
    ax.set_xlabel("source class")
    ax.set_ylabel("target class")
    if n_t * n_s <= 150:  # numbers only where they stay legible
        middle = (np.nanmin(values) + np.nanmax(values)) / 2
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if v > middle else "white")
    fig.colorbar(image, ax=ax, label="similarity")
    fig.savefig(path, dpi=110)
    return Path(path)


# ----------------------------------------------------------------------------------------------
# Report

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; background: #fff; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f0f3f7; } td.text, th.text { text-align: left; }
tbody tr:nth-child(even) { background: #fafafa; }
dl.run { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.run dt { font-weight: 600; } dl.run dd { margin: 0; }
code { background: #f4f4f4; padding: 0.1em 0.3em; border-radius: 3px; word-break: break-all; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; } .legend li { margin: 0.2em 0; }
"""


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _figure_html(png: Path, caption: str) -> str:
    return (f'<figure><img src="{_data_uri(png)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _read_run_info(results_dir: Path) -> dict | None:
    path = results_dir / "run.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); fix or delete it.") from exc
    if not isinstance(info, dict):
        raise UserError(f"{path} must hold a JSON object (command, model, dataset, ...); fix or delete it.")
    return info


def _run_info_html(info: dict) -> str:
    keys = [k for k in _RUN_INFO_ORDER if k in info] + [k for k in info if k not in _RUN_INFO_ORDER]
    items = []
    for key in keys:
        value = info[key]
        if isinstance(value, list):
            text = ", ".join(map(str, value))
        elif isinstance(value, dict):
            text = json.dumps(value, sort_keys=True)
        else:
            text = str(value)
        body = f"<code>{html.escape(text)}</code>" if key == "command" else html.escape(text)
        items.append(f"<dt>{html.escape(str(key))}</dt><dd>{body}</dd>")
    return '<dl class="run">' + "".join(items) + "</dl>"


def render_html(table: Sequence[SummaryRow], figures: Sequence[tuple[Path, str]],
                run_info: dict | None, sources: Sequence[Path]) -> str:
    """A self-contained HTML page: inline CSS, images as base64 data URIs, no external resources."""
    groups = _groups(table)
    title = "headstart report"
    if len(groups) == 1:
        model, dataset = next(iter(groups))
        title += f": {model} on {dataset}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if run_info:
        parts.append(_run_info_html(run_info))
    parts.append("<p>Made from " + ", ".join(f"<code>{html.escape(str(p))}</code>" for p in sources)
                 + f" ({sum(r.n_seeds for r in table)} final results).</p>")
    for (model, dataset), rows in groups.items():
        parts.append(f"<h2>{html.escape(model)} on {html.escape(dataset)}</h2>")
        parts.append("<p>Final accuracy (%), mean ± 95 % CI over seeds; best per shots in bold.</p>")
        parts.append(_html_table(*overview_grid(rows)))
    parts.append("<h2>Plots</h2>")
    parts += [_figure_html(png, caption) for png, caption in figures]
    parts.append("<h2>Details</h2>")
    for (model, dataset), rows in groups.items():
        if len(groups) > 1:
            parts.append(f"<h3>{html.escape(model)} on {html.escape(dataset)}</h3>")
        parts.append(_html_table(*detail_grid(rows)))
    parts.append('<h3>Legend</h3><ul class="legend">'
                 + "".join(f"<li><strong>{html.escape(n)}</strong>: {html.escape(t)}</li>" for n, t in LEGEND)
                 + "</ul>")
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


def write_report(results_dir: str | Path, csv_paths: Sequence[str | Path] | None = None) -> Path:
    """Write summary.md, the plots and a self-contained report.html into ``results_dir``.

    Reads ``results_dir/results.csv`` unless ``csv_paths`` are given (merged and deduplicated).
    Adds the run's command and settings from ``results_dir/run.json`` and ``similarity.png`` when
    present. Returns the path of report.html.
    """
    results_dir = Path(results_dir)
    sources = [Path(p) for p in csv_paths] if csv_paths else [results_dir / "results.csv"]
    rows = read_results(sources)
    if not rows:
        raise UserError(f"no result rows in {', '.join(map(str, sources))}; run `headstart bench` "
                        "until it has written some, or pass other CSVs.")
    run_info = _read_run_info(results_dir)  # before writing anything, so a bad run.json leaves no half report
    results_dir.mkdir(parents=True, exist_ok=True)
    table = summarise(rows)
    write_summary_md(table, results_dir / "summary.md")

    figures = [(plot_accuracy_vs_shots(table, results_dir / "accuracy_vs_shots.png"),
                "Final accuracy vs shots (mean and 95 % CI band over seeds, clipped to 0-100 %; "
                "peers dashed).")]
    for shots in default_epoch_shots(rows):
        png = plot_accuracy_vs_epoch(rows, shots, results_dir / f"accuracy_vs_epoch_shots{shots}.png")
        figures.append((png, f"Accuracy vs epoch at shots = {shots} training images per class "
                              "(mean and 95 % CI band; peers dashed)."))
    similarity = results_dir / "similarity.png"
    if similarity.is_file():
        figures.append((similarity, "Similarity of target classes to their most similar source classes."))

    page = render_html(table, figures, run_info, sources)
    out = results_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
