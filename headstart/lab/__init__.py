"""The benchmarking side (the lab): bench grid, multi-dataset suite, reports.

It depends on the product, never the reverse (tests/test_architecture.py checks that)."""
