"""The summary tables: one cell grid per (model, dataset), rendered as markdown or HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from headstart.lab.report.convergence import AT_EPOCHS, TOLERANCE_PP, ConvergenceRow
from headstart.lab.report.statistics import Estimate, SummaryRow, by_dataset, method_order

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

SPEED_TITLE = "How fast each method comes within 1 pp of its own final accuracy"
SPEED_INTRO = ("Accuracy (%) after 0, 1, 5 and 10 epochs and final, mean over every dataset and seed (shots ≥ 1); "
               "epochs each run takes to come within 1 pp of its own final accuracy, mean / median over runs; "
               "seconds of the whole fit, mean over runs:")
SPEED_LEGEND = (
    ("runs", "(dataset, seed) runs with a final result at that shots."),
    ("epoch k", "mean accuracy after k training epochs (0 = the initial head); blank when not every run "
                "sampled epoch k (the bench's --eval-epochs) or when the method has no per-epoch rows."),
    ("epochs to within 1 pp", "per run, the first sampled epoch whose accuracy is at least the run's own final "
                              "accuracy minus 1 percentage point (the final epoch when no earlier sample is); "
                              "mean and median (the higher middle value) over runs. 'final at epoch 0': "
                              "the method has only its final row, at epoch 0 — a closed-form head, or a "
                              "literature peer that runs its own loop inside its plan, which the bench does not "
                              "sample — so it has no per-epoch curve."),
    ("seconds per fit", "mean over runs of the bench's seconds column: the wall-clock time of the run's whole "
                        "fit (the method's plan — its start, a closed-form fit or a peer's own loop — then every "
                        "training epoch, with the test split scored at each sampled epoch), on the machine that "
                        "ran the bench. No single epoch is timed, so the seconds to come within 1 pp are at most "
                        "this, not measured apart."),
)


Cell = tuple[str, bool]  # (text, bold)
_TEXT_COLUMNS = ("shots", "method", "best peer")  # left-aligned; numbers align right


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


def markdown_table(header: list[str], body: list[list[Cell]]) -> str:
    def cell(text: str, bold: bool) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if bold and text else text

    lines = ["| " + " | ".join(cell(h, False) for h in header) + " |",
             "|" + "|".join("---" if h in _TEXT_COLUMNS else "---:" for h in header) + "|"]
    lines += ["| " + " | ".join(cell(t, b) for t, b in line) + " |" for line in body]
    return "\n".join(lines)


def html_table(header: list[str], body: list[list[Cell]]) -> str:
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


def speed_grid(rows: Sequence[ConvergenceRow]) -> tuple[list[str], list[list[Cell]]]:
    """How fast each method nears its own final accuracy: one line per shots × method."""
    header = ["shots", "method", "runs"] + [f"epoch {e}" for e in AT_EPOCHS] + [
        "final", f"epochs to within {TOLERANCE_PP:g} pp", "seconds per fit"]
    body = []
    for r in rows:
        epochs = "final at epoch 0" if r.epochs is None else f"{r.epochs:.1f} / {r.median_epochs}"
        seconds = "" if r.seconds is None else f"{r.seconds:.2f}"
        body.append([(str(r.shots), False), (r.method, False), (str(r.runs), False)]
                    + [(_pct(a), False) for a in r.at] + [(_pct(r.final), False), (epochs, False), (seconds, False)])
    return header, body


def by_model(rows: Sequence[ConvergenceRow]) -> dict[str, list[ConvergenceRow]]:
    groups: dict[str, list[ConvergenceRow]] = {}
    for row in rows:
        groups.setdefault(row.model, []).append(row)
    return groups


def summary_markdown(table: Sequence[SummaryRow], speed: Sequence[ConvergenceRow] = ()) -> str:
    """The summary as markdown: per (model, dataset) an overview table and a detail table, then (when
    ``speed`` has rows) how fast each method nears its final accuracy, then a legend."""
    parts = ["# Results summary", ""]
    for (model, dataset), rows in by_dataset(table).items():
        parts += [f"## {model} on {dataset}", "", "Final accuracy (%), mean ± 95 % CI over seeds:", "",
                  markdown_table(*overview_grid(rows)), "", "Details:", "", markdown_table(*detail_grid(rows)), ""]
    legend = LEGEND
    if speed:
        parts += [f"## {SPEED_TITLE}", "", SPEED_INTRO, ""]
        models = by_model(speed)
        for model, rows in models.items():
            parts += [f"{model}:", ""] if len(models) > 1 else []
            parts += [markdown_table(*speed_grid(rows)), ""]
        legend += SPEED_LEGEND
    parts += ["### Legend", ""] + [f"- **{name}**: {text}" for name, text in legend]
    return "\n".join(parts) + "\n"


def write_summary_md(table: Sequence[SummaryRow], path: str | Path, speed: Sequence[ConvergenceRow] = ()) -> Path:
    """Write :func:`summary_markdown` to ``path`` and return it."""
    path = Path(path)
    path.write_text(summary_markdown(table, speed), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------
