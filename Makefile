# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint clean bench bench-relevance

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# setuptools warns at length that an editable install may be shadowed by a same-named folder: it is this one
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## make run: set up, check the bundled configuration, and start the watch
run: $(STAMP)
	$(BIN)/watcher check
	$(BIN)/watcher run

## make test: set up, lint, type-check and run the test suite (not the tests marked slow)
test: $(STAMP)
	$(BIN)/ruff check watcher tests
	$(BIN)/mypy
	$(BIN)/pytest -q -m "not slow"

## make bench: build bench/.venv (watcher + the peer), run the benchmarks (see bench/README.md)
BENCH_VENV := bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_ARGS ?= --feeds 500 --entries 50 --latency 0.1
MICRO_ARGS ?= --items 25000 --queries 1000
COMPILE_ARGS ?= --queries 10000
BIGDB_ARGS ?= --items 1000000

$(BENCH_STAMP): pyproject.toml bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e . -r bench/requirements.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/run.py $(BENCH_ARGS)
	$(BENCH_VENV)/bin/python bench/micro.py $(MICRO_ARGS)
	$(BENCH_VENV)/bin/python bench/compile.py $(COMPILE_ARGS)
	$(BENCH_VENV)/bin/python bench/readers.py $(COMPILE_ARGS)
	$(BENCH_VENV)/bin/python bench/bigdb.py $(BIGDB_ARGS)
	$(BENCH_VENV)/bin/python bench/web.py $(BIGDB_ARGS)
	$(BENCH_VENV)/bin/python bench/relevance.py --json bench/out/relevance.json
	$(BENCH_VENV)/bin/python bench/feedback.py
	$(BENCH_VENV)/bin/python bench/language.py

## make bench-relevance: the relevance measures alone (bench/relevance.py, a few seconds)
bench-relevance: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/relevance.py --json bench/out/relevance.json

lint: $(STAMP)
	$(BIN)/ruff check watcher tests
	$(BIN)/ruff format --check watcher tests

clean:
	rm -rf $(VENV) bench/.venv bench/out .pytest_cache .mypy_cache .ruff_cache
