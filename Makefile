# Everyday commands. `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

# The suite runs in this many processes (pytest-xdist): much of it waits on real clocks and child
# processes, so two of them keep a 2-core machine busy. TEST_PROCESSES=0 runs it in one.
TEST_PROCESSES ?= 2

.PHONY: run test test-postgres bench lint format install system-deps clean

$(STAMP): pyproject.toml
	@bash scripts/system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/reminder-gateway run

test: $(STAMP)
	$(BIN)/pytest -q -n $(TEST_PROCESSES)

test-postgres: $(STAMP)
	$(BIN)/pytest -q -m postgres --postgres

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check gateway channels scheduler templates tests bench
	$(BIN)/ruff format --check gateway channels scheduler templates tests bench
	$(BIN)/mypy gateway channels scheduler
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format gateway channels scheduler templates tests bench
	$(BIN)/ruff check --fix gateway channels scheduler templates tests bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
