"""The self-contained HTML report and `write_report`, which makes every output from the CSVs alone."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path

from headstart.errors import UserError
from headstart.lab.report.plots import default_epoch_shots, plot_accuracy_vs_epoch, plot_accuracy_vs_shots
from headstart.lab.report.convergence import ConvergenceRow, convergence
from headstart.lab.report.results import read_results
from headstart.lab.report.statistics import SummaryRow, by_dataset, summarise
from headstart.lab.report.tables import (LEGEND, SPEED_INTRO, SPEED_LEGEND, SPEED_TITLE, by_model, detail_grid,
                                         html_table, overview_grid, speed_grid, write_summary_md)

_RUN_INFO_ORDER = ("command", "model", "dataset", "resolution", "test_size", "seeds", "machine")

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
                run_info: dict | None, sources: Sequence[Path], speed: Sequence[ConvergenceRow] = ()) -> str:
    """A self-contained HTML page: inline CSS, images as base64 data URIs, no external resources."""
    groups = by_dataset(table)
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
        parts.append(html_table(*overview_grid(rows)))
    parts.append("<h2>Plots</h2>")
    parts += [_figure_html(png, caption) for png, caption in figures]
    parts.append("<h2>Details</h2>")
    for (model, dataset), rows in groups.items():
        if len(groups) > 1:
            parts.append(f"<h3>{html.escape(model)} on {html.escape(dataset)}</h3>")
        parts.append(html_table(*detail_grid(rows)))
    legend = LEGEND
    if speed:
        parts += [f"<h2>{html.escape(SPEED_TITLE)}</h2>", f"<p>{html.escape(SPEED_INTRO)}</p>"]
        models = by_model(speed)
        for model, rows in models.items():
            parts += [f"<h3>{html.escape(model)}</h3>"] if len(models) > 1 else []
            parts.append(html_table(*speed_grid(rows)))
        legend += SPEED_LEGEND
    parts.append('<h3>Legend</h3><ul class="legend">'
                 + "".join(f"<li><strong>{html.escape(n)}</strong>: {html.escape(t)}</li>" for n, t in legend)
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
    table, speed = summarise(rows), convergence(rows)
    write_summary_md(table, results_dir / "summary.md", speed)

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

    page = render_html(table, figures, run_info, sources, speed)
    out = results_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
