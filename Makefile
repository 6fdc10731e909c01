# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## make run: set up, check the bundled configuration, and start the watch
run: $(STAMP)
	$(BIN)/watcher check
	$(BIN)/watcher run

## make test: set up, lint, type-check and run the whole test suite
test: $(STAMP)
	$(BIN)/ruff check watcher tests
	$(BIN)/mypy
	$(BIN)/pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check watcher tests
	$(BIN)/ruff format --check watcher tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
