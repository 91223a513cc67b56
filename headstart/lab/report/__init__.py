"""Tables, plots and a self-contained HTML report, made from the bench's tidy CSV alone.

One job per module: ``results`` reads the CSVs, ``statistics`` summarises them, ``convergence``
measures how fast each method nears its final accuracy, ``tables`` and
``plots`` draw the summary, ``page`` writes the HTML report. Pipeline::

    rows = read_results(["a/results.csv", "b/results.csv"])   # merged, deduplicated, typed
    table = summarise(rows)                                    # list[SummaryRow]
    speed = convergence(rows)                                  # list[ConvergenceRow]: epochs to near final
    write_summary_md(table, "summary.md", speed)
    write_report("results_dir")                                # all of the above + plots + report.html

Only numpy, scipy (the t quantile), matplotlib (Agg, no pyplot state) and the standard library are
used, so a report can be rebuilt anywhere the CSV can be copied to.
"""

from headstart.lab.report.convergence import ConvergenceRow, convergence, epochs_to_within
from headstart.lab.report.page import write_report
from headstart.lab.report.plots import default_epoch_shots, plot_accuracy_vs_epoch, plot_accuracy_vs_shots
from headstart.lab.report.results import CONTRACT_COLUMNS, read_results
from headstart.lab.report.statistics import (PEERS, Estimate, SummaryRow, final_accuracies, mean_ci, summarise,
                                             t_critical_95)
from headstart.lab.report.tables import summary_markdown, write_summary_md

__all__ = [
    "CONTRACT_COLUMNS",
    "ConvergenceRow",
    "PEERS",
    "Estimate",
    "SummaryRow",
    "convergence",
    "default_epoch_shots",
    "epochs_to_within",
    "final_accuracies",
    "mean_ci",
    "plot_accuracy_vs_epoch",
    "plot_accuracy_vs_shots",
    "read_results",
    "summarise",
    "summary_markdown",
    "t_critical_95",
    "write_report",
    "write_summary_md",
]
