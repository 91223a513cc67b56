"""The report's plots (matplotlib's object API with an Agg canvas: no pyplot global state, no display
needed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from headstart.lab.report.statistics import PEERS, Estimate, SummaryRow, by_dataset, mean_ci, method_order


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


def dataset_name(dataset: str) -> str:
    """A dataset as a plot names it: a folder or CSV path by its last part (`caltech50`, not
    `../shared/datasets/caltech50`), a built-in dataset by its name."""
    return Path(dataset.rstrip("/\\")).name or dataset


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
    groups = by_dataset(table)
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
        _label_axes(ax, "shots (training images per class)", "final accuracy (%)",
                    f"{model} on {dataset_name(dataset)}")
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
        _label_axes(ax, "epoch (0 = before training)", "accuracy (%)",
                    f"{model} on {dataset_name(dataset)}, shots = {shots}")
    return _save(fig, axes, path)
