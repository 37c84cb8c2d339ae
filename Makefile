# Fishpond. `make help` lists the targets. Every target does its own setup.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fishpond-installed
KERNEL := fishpond
SAMPLE_ARGS := --customers 10000 --months 24 --end-month 2026-10 --seed 20261031
COURSE_LANG ?= zh
LAB_IP ?= 127.0.0.1

.DEFAULT_GOAL := help
.PHONY: help setup sysdeps test test-fast lint reports lab bench mutations sample course clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Fishpond needs $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (fishpond)" >/dev/null
	touch $(STAMP)

setup: $(STAMP) ## Create .venv, install Fishpond with test tools, register the Jupyter kernel "fishpond"

sysdeps: ## Install Debian packages for the browser tests (chromium, fonts-noto-cjk); needs root
	@if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  echo "chromium and fonts-noto-cjk present"; \
	else \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

test: setup ## Run the whole test suite (unit, ground truth, notebooks, browser, nbval)
	$(PY) -m pytest -n 2 --dist loadgroup tests
	@# nbval runs the notebooks in order, as a learner would: 05 reads what 00-04 wrote.
	$(PY) -m pytest --nbval-lax notebooks

test-fast: setup ## Unit tests only, under a minute (skips notebook runs, browser checks, model recovery)
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow and not browser" tests

lint: setup ## Ruff lint and format check (Python and notebooks), import layers, notebooks stripped
	$(VENV)/bin/ruff check src tests notebooks benchmarks
	$(VENV)/bin/ruff format --check src tests notebooks benchmarks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/nbstripout --verify --keep-id --extra-keys "metadata.papermill cell.metadata.papermill cell.metadata.execution" notebooks/*.ipynb

reports: setup ## Produce the monthly report pack from the bundled sample into reports/YYYY-MM/ (MONTH=, JOBS=)
	$(VENV)/bin/fishpond run --jobs $(or $(JOBS),1) $(if $(MONTH),--month $(MONTH))

lab: setup ## Open JupyterLab at the project root (notebooks/ and course/ reachable), print the URL and the first notebook; works as root (COURSE_LANG=, LAB_IP=)
	$(VENV)/bin/fishpond lab --lang $(COURSE_LANG) --ip $(LAB_IP)

bench: setup ## Run the benchmarks; figures go to benchmarks/results/
	$(PY) benchmarks/run_all.py

mutations: setup ## Break each estimator in memory and show its ground-truth test fails (slow, one test at a time; CASES= to pick; not part of make test); docs/test-evidence.md
	OMP_NUM_THREADS=1 $(PY) benchmarks/break_estimators.py $(CASES)

sample: setup ## Regenerate the committed sample data in data/sample/
	$(VENV)/bin/fishpond synth $(SAMPLE_ARGS) --out data/sample

course: setup ## Build the course (learner and solution notebooks, README, glossary) into course/zh and course/en, then open JupyterLab on it (NO_LAB=1 to only build)
	$(VENV)/bin/fishpond course build --lang zh --out course/zh
	$(VENV)/bin/fishpond course build --lang en --out course/en
	$(if $(NO_LAB),,$(VENV)/bin/fishpond lab --lang $(COURSE_LANG) --ip $(LAB_IP))

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
