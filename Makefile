# Two commands for a newcomer: `make demo` and `make test`. Both bootstrap .venv from pyproject.toml.
# python3.11 if it is on PATH, else python3 (checked to be 3.11 below).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench dataflow-plan clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { echo "error: storywatch needs Python 3.11; '$(PYTHON)' is missing or another version. Install 3.11 or run 'make PYTHON=/path/to/python3.11'" >&2; exit 2; }
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
