# The front-door commands: `make run` (the DAG end to end on SQLite + sandbox), `make airflow`
# (a local Airflow with the console) and `make test` (the whole suite). All install what they need first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export PYTHONPATH := $(CURDIR)/plugins
export GX_ANALYTICS_ENABLED := false

.PHONY: install airflow-db airflow airflow-env run test test-fast soak lint sandbox config-check bench bench-fleet lock clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-runtime.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt  # the dev pins; it includes requirements-runtime.txt
	$(PY) -m pip install -q --no-deps -e .  # the package, editable: python -m trident1_aiq and airflow find it from any shell
	touch $@

airflow-db: install
	$(BIN)/airflow db migrate >/dev/null

## run: install, migrate Airflow's metadata DB, start the sandbox, run the DAG for yesterday, print a summary
run: airflow-db
	$(PY) -m trident1_aiq demo $(ARGS)

## airflow: api-server, scheduler, dag-processor and triggerer on $(AIRFLOW_HOME) with the sandbox Connections;
## prints the URL and logins; Ctrl-C stops them all
airflow: install
	$(PY) -m trident1_aiq airflow $(ARGS)

## airflow-env: the environment for the `airflow` CLI on the same home: eval "$$(make -s airflow-env)"
airflow-env:
	@$(PY) -m trident1_aiq airflow --print-env $(ARGS)

## test: the whole suite (PostgreSQL tests need 127.0.0.1:5432; required when CI=true)
test: install
	$(PY) -m pytest $(ARGS)

test-fast: install
	$(PY) -m pytest -m "unit" $(ARGS)

## soak: the model-based test (tests/model) with many more, longer, random histories; failures replay from .hypothesis/
soak: install
	MODEL_PROFILE=soak $(PY) -m pytest -m model tests/model/test_model_based.py -s --timeout=0 $(ARGS)

lint: install
	$(BIN)/ruff check .

sandbox: install
	$(PY) -m trident1_aiq sandbox $(ARGS)

## bench: the pipeline on a 100,000-sale day on PostgreSQL and SQLite, with references and dlt (benchmarks/results/)
bench: install
	$(PY) benchmarks/bench.py $(ARGS)

## bench-fleet: one daily run of N sandbox accounts (20, 200, 2000) through a real Airflow on CeleryExecutor
## (2 workers, Redis, PostgreSQL); per-credential CPU and wall, scheduler CPU, grid latency, lock waits
## (benchmarks/results/fleet.md); ARGS="--sizes 20,200 --account-sales 100:2000"
bench-fleet: install
	$(PY) benchmarks/fleet.py $(ARGS)

config-check: install
	$(PY) -m trident1_aiq config check $(or $(ARGS),--dir config)

## lock: freeze the venv for review; dev-only packages go to requirements.txt, the rest to requirements-runtime.txt
lock: install
	$(PY) -m pip freeze | grep -v -E '^(-e|trident1)' > requirements.lock.tmp && echo "review requirements.lock.tmp"

clean:
	rm -rf .airflow var .pytest_cache .ruff_cache
