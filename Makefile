# Every target bootstraps what it needs; `make run` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= $(CURDIR)/.data

.PHONY: setup system servers web venv models run test test-fast lint format clean

setup: system servers web venv models

system:
	@scripts/setup-system.sh

# Real servers built once from the Go module proxy into .tools/bin: livekit-server (the LiveKit
# transport) and versitygw (the S3 server the tests store blobs in). `make run` needs neither
# unless TRANSPORT=livekit, so it does not wait for them.
servers:
	@scripts/setup-livekit.sh
	@scripts/setup-s3.sh

# LiveKit's browser client (npm, pinned), served at /sdk/livekit-client.js for the JS client's
# calls over LiveKit; its node_modules is git-ignored.
web:
	@scripts/setup-web.sh

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

models: venv
	$(BIN)/opencharacters models prepare --quiet

# TRANSPORT=livekit: calls meet their callers in rooms of a local livekit-server (docs/livekit.md).
run: system venv models
	$(if $(filter livekit,$(TRANSPORT)),@scripts/setup-livekit.sh)
	$(if $(filter livekit,$(TRANSPORT)),@scripts/setup-web.sh)
	$(if $(filter livekit,$(TRANSPORT)),scripts/with-livekit.sh) $(BIN)/opencharacters serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR) --dev-key-file

# The suite in two runs. Tests without a live call spend their time starting servers and
# waiting on them, so two run at once (one test file per process); calls and browsers, whose
# media keep real time, then run one at a time, as on a machine that serves calls. Both runs
# always run; the exit status is the first failing run's.
test: setup
	@without_calls=0; with_calls=0; \
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not (e2e or browser)" --durations=15 \
		|| without_calls=$$?; \
	$(BIN)/pytest -q -m "e2e or browser" --durations=15 || with_calls=$$?; \
	if [ $$without_calls -ne 0 ]; then exit $$without_calls; fi; exit $$with_calls

test-fast: venv
	$(BIN)/pytest -q -n 2 --dist loadfile -m "(unit or integration) and not slow"

lint: venv
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	PYTHONPATH=$(CURDIR)/src $(BIN)/lint-imports

format: venv
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
