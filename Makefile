# Two commands set up a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

export EXTRACTS_DIR ?= $(CURDIR)/sample_data/extracts
export WAREHOUSE_PATH ?= $(CURDIR)/data/warehouse.duckdb
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_CACHE_DIR ?= $(CURDIR)/.tools/cache
export UV_LINK_MODE := copy
# Installed packages are compiled once at sync time (every run and test process would otherwise
# recompile dagster, duckdb and matplotlib on import: PYTHONDONTWRITEBYTECODE keeps the tree clean).
export UV_COMPILE_BYTECODE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test ui bench quality sample lock setup clean import-reviews rejected

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools uv==$(UV_VERSION)

# The venv is (re)synced from uv.lock whenever the lock changes; --frozen never re-resolves.
$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	@touch $@

# Dagster's storage and the warehouse folder hold personal data: owner-only (0700 / 0600).
setup: $(VENV)/.synced
	@umask 077; mkdir -p $(DAGSTER_HOME) $(dir $(WAREHOUSE_PATH))
	@chmod -R go-rwx $(DAGSTER_HOME); chmod go-rwx $(dir $(WAREHOUSE_PATH))
	@umask 077; cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true

## make run: the quarterly comparison job on EXTRACTS_DIR (QUARTER defaults to the latest folder;
## V=1 shows Dagster's own log on the console)
## QUARTER reaches Python in the environment (unexpanded, never in a shell command).
override QUARTER := $(value QUARTER)
run rejected: export QUARTER := $(QUARTER)
run: setup
	$(PY) -m pipelines.run_quarter $(if $(V),-v,)

## make rejected QUARTER=2026Q3: the rows a run refused, with file, row and reason
rejected: setup
	$(PY) -m pipelines.rejected

## make test: the whole test suite
test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

## make ui: Dagster UI and daemon (schedules, sensors) with the project's DAGSTER_HOME
ui: setup
	umask 077; $(VENV)/bin/dagster dev -m pipelines.definitions -h 127.0.0.1 -p $${DAGSTER_PORT:-3000}

## make import-reviews FILE=核查名单_2026Q3_江夏区.xlsx [REVIEWER=张三]: record a district's decisions
# FILE and REVIEWER are what a district chose (a file name, a person's name): make keeps them
# unexpanded ($(value …)) and hands them to Python in the environment, never in a shell command.
# A partial import (exit 1) has printed which rows were not imported: make itself reports no error.
override FILE := $(value FILE)
override REVIEWER := $(value REVIEWER)
import-reviews: export FILE := $(FILE)
import-reviews: export REVIEWER := $(REVIEWER)
import-reviews: setup
	@$(PY) -m pipelines.import_reviews --from-env || { status=$$?; [ $$status -eq 1 ] || exit $$status; }

bench: setup
	$(UV) sync --frozen --extra dev --extra bench --python $(PYTHON)
	$(PY) -m bench.run $(BENCH_ARGS)

quality: setup
	$(PY) -m bench.quality $(QUALITY_ARGS)

## make sample: regenerate the committed sample extracts and ground truth (seeded, reproducible)
sample: setup
	$(PY) -m sample_data.generate --households 300 --seed 20260930 --out sample_data

lock: $(UV)
	$(UV) lock

clean:
	rm -rf $(VENV) .tools data .dagster_home

.PHONY: review add-officer

## make review: the review workbench (核查工作台) at http://127.0.0.1:8080 (WEB_PORT, WEB_HOST, WEB_WORKERS)
review: setup
	$(PY) -m web

## make add-officer USERNAME=zhangsan ROLE=district DISTRICT=江夏区 [STREET=纸坊街道] [NAME=张三]: a workbench account
# What an officer typed is kept unexpanded and reaches Python in the environment, as for import-reviews.
override USERNAME := $(value USERNAME)
override ROLE := $(value ROLE)
override DISTRICT := $(value DISTRICT)
override STREET := $(value STREET)
override NAME := $(value NAME)
add-officer: export USERNAME := $(USERNAME)
add-officer: export ROLE := $(ROLE)
add-officer: export DISTRICT := $(DISTRICT)
add-officer: export STREET := $(STREET)
add-officer: export NAME := $(NAME)
add-officer: setup
	@$(PY) -m web.add_officer --from-env
