# Two commands work on a fresh machine: `make plan` and `make test`.
# Both create .venv when it is missing and reinstall only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sgarch-installed

.PHONY: help setup test lint typecheck unit plan golden docs bench clean

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

unit: $(STAMP)  ## pytest only, one worker per core (a test module stays on one worker)
	$(BIN)/pytest -q -n auto --dist loadfile

test: lint typecheck unit  ## Everything CI runs: ruff, mypy and pytest

plan: $(STAMP)  ## Plan the default architecture offline
	$(BIN)/sgarch plan stacks/single-node

golden: $(STAMP)  ## Regenerate golden files under tests/golden after an intended change
	SGARCH_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/golden

docs: $(STAMP)  ## Regenerate reference-architectures/ and stacks/*/Pulumi.yaml config docs (a test fails on stale ones)
	$(BIN)/python -m sgarch.docs

bench: $(STAMP)  ## Run every benchmark under benchmarks/ and print the numbers
	$(BIN)/python benchmarks/plan_speed.py
	$(BIN)/python benchmarks/eks_packing.py
	$(BIN)/python benchmarks/ami_build.py
	$(BIN)/python benchmarks/loadtest_selftest.py

clean:  ## Remove .venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
