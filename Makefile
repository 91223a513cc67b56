# The two commands of the README. Each runs its own set-up first (idempotent, fast when done).
PYTHON ?= python3
.PHONY: demo test setup

demo:
	PYTHON=$(PYTHON) bash scripts/setup.sh
	$(PYTHON) -m headstart demo

test:
	PYTHON=$(PYTHON) bash scripts/setup.sh --test
	$(PYTHON) -m ruff check headstart benchmarks tests
	$(PYTHON) -m pytest -q
