# Two commands for a newcomer: `make demo` and `make test`. Both bootstrap .venv from pyproject.toml.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench dataflow-plan clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,gcp]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/storywatch replay --feeds seeds/feeds --alerts-out build/demo-alerts.jsonl

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/match_throughput.py
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/pipeline_throughput.py

# The streaming job as Dataflow would receive it, built offline (no credentials): build/dataflow-job.json.
dataflow-plan: $(STAMP)
	@$(MAKE) --no-print-directory -f deploy/Makefile plan PY=$(BIN)/python

clean:
	rm -rf $(VENV) build .pytest_cache
