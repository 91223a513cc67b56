"""Summary statistics of the result rows: per-seed final accuracies, means with 95 % t intervals,
the paired difference to the best peer."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from headstart.lab.peers import PEERS


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
        final = final_row(run)
        if final is not None:
            finals[(model, dataset, method, shots)][seed] = final["accuracy"]
    return dict(finals)


def final_row(run: Sequence[dict]) -> dict | None:
    """The final row of one run's rows (one method, shots and seed), by the rule of
    :func:`final_accuracies`; None for an unfinished run."""
    flagged = [r for r in run if r["final"]]
    if not flagged and all(r["final"] is None for r in run):
        flagged = list(run)
    return max(flagged, key=lambda r: r["epoch"]) if flagged else None


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


def by_dataset(table: Sequence[SummaryRow]) -> dict[tuple[str, str], list[SummaryRow]]:
    groups: dict[tuple[str, str], list[SummaryRow]] = defaultdict(list)
    for row in table:
        groups[(row.model, row.dataset)].append(row)
    return dict(groups)
