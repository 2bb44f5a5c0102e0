# Two commands for a newcomer: `make demo` and `make test`. Both bootstrap .venv from the one
# lock, requirements.lock (hashed, generated from pyproject.toml by `make lock`).
# python3.11 if it is on PATH, else python3 (checked to be 3.11 below).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
LOCKTOOL := deploy/freeze_requirements.py
# uv, at the version and hashes the lock pins, installed beside the venv (not in it, so that
# syncing the venv to the lock never removes the installer).
UV := $(VENV)/uv/bin/uv
UV_PIP = $(UV) pip
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
PYTEST ?= $(BIN)/python -m pytest

.PHONY: install system-deps demo test test-fast lint typecheck lock bench dataflow-plan clean

install: $(STAMP)

$(UV): $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { echo "error: storywatch needs Python 3.11; '$(PYTHON)' is missing or another version. Install 3.11 or run 'make PYTHON=/path/to/python3.11'" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PYTHON) $(LOCKTOOL) --subset uv > $(VENV)/uv.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes --upgrade --target $(VENV)/uv -r $(VENV)/uv.txt
	@touch $(UV)

# Everything (.[dev,gcp] and the build backend), exactly the lock: uv removes what it does not list.
$(STAMP): $(LOCK) pyproject.toml $(UV)
	$(UV_PIP) sync --quiet --python $(BIN)/python --require-hashes $(LOCK)
	$(UV_PIP) install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@rm -f $(DEMO_STAMP) && touch $(STAMP)

# The demo's part of the lock: runtime dependencies and the build backend; no gcp extra, no dev tools.
$(DEMO_STAMP): $(LOCK) pyproject.toml $(UV)
	$(PYTHON) $(LOCKTOOL) --subset demo > $(VENV)/demo.txt
	$(UV_PIP) sync --quiet --python $(BIN)/python --require-hashes $(VENV)/demo.txt
	$(UV_PIP) install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@rm -f $(STAMP) && touch $(DEMO_STAMP)

# The demo runs on a full install if there is one, else installs only its own part.
# Its ledger is kept for the status page (the command it ends with); a fresh one each time, as
# a replay on an old ledger would find every alert already sent.
demo: $(if $(wildcard $(STAMP)),$(STAMP),$(DEMO_STAMP))
	@rm -f build/demo-ledger.sqlite build/demo-ledger.sqlite-wal build/demo-ledger.sqlite-shm
	$(BIN)/storywatch replay --feeds seeds/feeds --alerts-out build/demo-alerts.jsonl --ledger build/demo-ledger.sqlite

# The PostgreSQL server and headless Chromium that the tests run for real, if missing.
system-deps:
	@tools/install_test_system.sh

# pytest exits 5 when it collected no test: say so instead of a bare "Error 5".
test: $(STAMP) system-deps
	@$(PYTEST) -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests (exit 5): check testpaths in pyproject.toml and the test file names" >&2; fi; \
	exit $$rc

test-fast: $(STAMP) system-deps
	$(PYTEST) -q -m "not slow"

# Both checks run, so one report shows everything; either failing fails the target.
lint: $(STAMP)
	@$(BIN)/ruff format --check .; format=$$?; $(BIN)/ruff check .; check=$$?; \
	[ $$format -eq 0 ] && [ $$check -eq 0 ]

# Files and strictness: [tool.mypy] in pyproject.toml.
typecheck: $(STAMP)
	$(BIN)/mypy

# Re-resolve requirements.lock from pyproject.toml (keeping current pins where they still fit;
# `make lock UPGRADE=1` takes the newest) and regenerate deploy/requirements.txt from it.
lock: $(UV)
	$(PYTHON) $(LOCKTOOL) --lock --uv $(UV) $(if $(UPGRADE),--upgrade)

bench: $(STAMP)
	$(BIN)/python bench/match_throughput.py
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/pipeline_throughput.py

# The streaming job as Dataflow would receive it, built offline (no credentials): build/dataflow-job.json.
dataflow-plan: $(STAMP)
	@$(MAKE) --no-print-directory -f deploy/Makefile plan PY=$(BIN)/python

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
