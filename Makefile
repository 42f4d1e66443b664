# segspark: two commands do everything.
#   make demo   set up (.venv) and run the pipeline on the bundled Online Retail II data
#   make test   set up (.venv with dev extras), ruff (lint and format check), mypy and the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=
# pytest-xdist workers, each with its own Spark session (TEST_WORKERS=0: one process, as plain pytest).
TEST_WORKERS ?= 2

.PHONY: demo test pytest lint typecheck java browser wheel report-check clean help

help:
	@echo "make demo   - install and run the whole pipeline on bundled real data"
	@echo "make test   - install dev extras, run ruff and the test suite"
	@echo "make report-check - open the newest report in headless chromium, screenshot it"
	@echo "make wheel  - build dist/segspark-*.whl for spark-submit and Databricks"

java:
	@scripts/check_java.sh

browser:
	@scripts/ensure_chromium.sh

# Open the newest report in headless chromium; fails on console errors or images that do not show.
report-check: browser $(VENV)/.installed-dev
	$(BIN)/python scripts/check_report.py "$$(ls -t warehouse/reports/*/index.html | head -1)"

wheel: $(BIN)/python
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/*.whl

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "segspark needs Python 3.11+ (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# --no-compile: pip would byte-compile every installed module (17 of 45 s on 2 cores); Python compiles the
# ones a run imports, once, on first import.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --no-compile -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --no-compile -e '.[dev]'
	@touch $@ $(VENV)/.installed

demo: java $(VENV)/.installed
	$(BIN)/segspark run --config conf/local.yaml $(ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check segspark jobs tests bench scripts
	$(BIN)/ruff format --check segspark jobs tests bench scripts

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy segspark

# Steps that do not need each other run side by side: on a fresh machine chromium's install (apt, about
# 30 s) beside pip's, then mypy (one core for ~10 s) beside the suite. Either failing fails `make test`.
test: java
	@$(MAKE) --no-print-directory -j2 browser $(VENV)/.installed-dev
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory -j2 typecheck pytest

pytest: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope $(ARGS)

clean:
	rm -rf warehouse generated dist build .pytest_cache .mypy_cache .ruff_cache
