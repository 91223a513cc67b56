# The two commands of the README. Each runs its own set-up first (idempotent, fast when done).
.PHONY: demo test setup

demo:
	bash scripts/setup.sh
	headstart demo

test:
	bash scripts/setup.sh --test
	python3 -m pytest -q
