"""The benchmarking side (the lab): bench grid, multi-dataset suite, reports.

It depends on the product, never the reverse (tests/test_architecture.py checks that). Its
statistics and plots need the 'lab' extra (scipy, matplotlib): without it, the first import of the
lab is one line naming the extra, before any work."""

from headstart.extras import require

__all__: list[str] = []  # no names of its own; its public modules are bench, suite and report (README)

for _module in ("scipy", "matplotlib"):
    require(_module, "the benchmarking side (bench, suite, report, lodo, demo)", "lab")
