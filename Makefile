# The two quick-start commands: `make run` (server on embedded defaults) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test schema bench-api clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/cms serve

test: install
	$(BIN)/pytest

schema: install
	$(BIN)/cms export-schema

bench-api: install
	$(BIN)/python bench/api_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache
