# Every target sets up what it needs: a virtual environment in .venv with the
# project and its extras installed from pyproject.toml (redone when it changes), and
# the browser assets the service serves itself (GraphiQL), installed from npm into
# frontend/node_modules from frontend/package-lock.json (redone when it changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ASSETS := frontend/node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test test-sqlite test-postgres fuzz lint schema bench assets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(ASSETS): frontend/package.json frontend/package-lock.json
	npm ci --prefix frontend --no-audit --no-fund --loglevel=error
	touch $(ASSETS)

assets: $(ASSETS)

serve: $(STAMP) $(ASSETS)
	$(BIN)/corridor migrate
	$(BIN)/corridor demo
	$(BIN)/corridor apikey --role OPERATOR --label "make serve"
	$(BIN)/corridor serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(ASSETS)
	$(BIN)/python -m pytest

test-sqlite: $(STAMP) $(ASSETS)
	$(BIN)/python -m pytest -m "not postgres"

test-postgres: $(STAMP) $(ASSETS)
	$(BIN)/python -m pytest -m postgres

# The fuzz test alone, long: 2,500 examples per engine of about 4 requests each (some
# 20,000 requests); it records every fault instead of stopping at the first, and prints
# the requests sent and each kind of fault found (with its shortest request) at the end.
FUZZ_EXAMPLES ?= 2500
fuzz: $(STAMP)
	CORRIDOR_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) CORRIDOR_FUZZ_SURVEY=1 $(BIN)/python -m pytest tests/test_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

schema: $(STAMP)
	$(BIN)/corridor export-schema --output schema/schema.graphql

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) frontend/node_modules .pytest_cache .hypothesis corridor.db corridor.db-wal corridor.db-shm
