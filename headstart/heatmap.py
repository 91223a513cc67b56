"""A heatmap of a target × source similarity matrix (``headstart similar --heatmap``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from headstart.extras import require


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

    require("matplotlib", "the similarity heatmap", "plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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
