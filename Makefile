# The two commands a newcomer needs: `make demo` and `make test`. Everything else is for them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA := data
DEMO_CHILDREN ?= 1500
DEMO_SEED ?= 20261129
# The assurance report's period in the demo: the synthetic population's last twelve months.
ASSURANCE_FROM ?= 2025-12-01
ASSURANCE_TO ?= 2026-11-30
export AIRFLOW_HOME := $(CURDIR)/$(DATA)/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export EHE_INBOX := $(CURDIR)/$(DATA)/inbox
export GX_ANALYTICS_ENABLED := False

.PHONY: demo test lint typecheck pytest bench install clean docs

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "uv==0.13.8"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c requirements.lock -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Run the main job end to end on the embedded default (SQLite, no servers).
demo: $(STAMP)
	$(BIN)/ehe-gateway synth --children $(DEMO_CHILDREN) --seed $(DEMO_SEED) --out $(EHE_INBOX)
	$(BIN)/ehe-gateway db upgrade
	$(BIN)/ehe-gateway run-dags --all
	$(BIN)/ehe-gateway linkage train --if-missing
	$(BIN)/ehe-gateway run-dags --dag link__children
	$(BIN)/ehe-gateway run-dags --dag notify__teams
	$(BIN)/ehe-gateway summary
	$(BIN)/ehe-gateway report validation --out $(DATA)/reports/validation
	$(BIN)/ehe-gateway report assurance --from $(ASSURANCE_FROM) --to $(ASSURANCE_TO) --out $(DATA)/reports/assurance

## ruff, mypy and the whole pytest suite, on SQLite and PostgreSQL.
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

## docs/configuration.md: every setting, from gateway/settings.py (a test checks it is current).
docs: $(STAMP)
	$(BIN)/ehe-gateway settings --markdown > docs/configuration.md

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(DATA) .mypy_cache .ruff_cache .pytest_cache
