# The README's two commands. Both create (or reuse) the venv via scripts/venv.sh.

DEMO_ROOT ?= demo-out

.PHONY: demo test lint
demo:
	@v=$$(bash scripts/venv.sh) && $$v/bin/uirbench demo --out $(DEMO_ROOT)

test:
	@v=$$(bash scripts/venv.sh) && \
	  $$v/bin/ruff check . && $$v/bin/ruff format --check . && \
	  $$v/bin/python -m pytest -q

lint:
	@v=$$(bash scripts/venv.sh) && $$v/bin/ruff check --fix . && $$v/bin/ruff format .
