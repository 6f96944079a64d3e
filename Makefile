# Two commands work on a fresh machine: `make plan` and `make test`.
# Both create .venv when it is missing and reinstall only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sgarch-installed

.PHONY: help setup test lint typecheck unit plan golden docs clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)  ## Create .venv and install sgarch with its dev tools (skipped when up to date)

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy, strict on sgarch/
	$(BIN)/mypy

unit: $(STAMP)  ## pytest only
	$(BIN)/pytest -q

test: lint typecheck unit  ## Everything CI runs: ruff, mypy and pytest

plan: $(STAMP)  ## Plan the default architecture offline
	$(BIN)/sgarch plan stacks/single-node

golden: $(STAMP)  ## Regenerate golden files under tests/golden after an intended change
	SGARCH_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/golden

clean:  ## Remove .venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
