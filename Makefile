# Every target sets up what it needs: a virtual environment in .venv with the
# project and its extras installed from pyproject.toml (redone when it changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test test-sqlite test-postgres lint schema bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/corridor migrate
	$(BIN)/corridor demo
	$(BIN)/corridor apikey --role OPERATOR --label "make serve"
	$(BIN)/corridor serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -m "not postgres"

test-postgres: $(STAMP)
	$(BIN)/python -m pytest -m postgres

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

schema: $(STAMP)
	$(BIN)/corridor export-schema --output schema/schema.graphql

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis corridor.db corridor.db-wal corridor.db-shm
