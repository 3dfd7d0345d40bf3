# CTO Assistant — everything a fresh machine needs goes through these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: install install-dev demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres,dev]'
	touch $(STAMP) $@

install: $(STAMP)          ## create .venv and install the product (idempotent)

install-dev: $(DEVSTAMP)   ## install the product with the dev extras

demo: install              ## build the demo company, sync it, open the command center
	$(BIN)/cto demo $(DEMO_ARGS)

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest  ## lint, type-check and run the whole suite

bench: install-dev         ## benchmarks on the large demo world
	$(BIN)/pytest benchmarks $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .cto .pytest_cache .mypy_cache .ruff_cache
