# deflect: `make run` sets everything up and serves on embedded defaults; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run ingest test test-unit test-integration test-web lint eval eval-suite calibrate clean

setup: $(VENV)/.installed

# torch first, from the CPU wheel: letting pip pick it as a dependency would pull gigabytes of CUDA.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,multilingual]'
	touch $@

ingest: setup
	$(BIN)/deflect ingest

# The sample kb documents Quiverly, a product we made up: the demo page (/demo) names it from this setting, as it
# names any project's product from its own. DEFLECT_PRODUCT_NAME in the environment names another.
SAMPLE_PRODUCT := Quiverly

run: ingest
	DEFLECT_PRODUCT_NAME="$${DEFLECT_PRODUCT_NAME:-$(SAMPLE_PRODUCT)}" $(BIN)/deflect serve

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy src

test-unit: setup
	$(BIN)/python -m pytest

test-integration: setup
	$(BIN)/python -m pytest -m integration

eval: setup
	$(BIN)/deflect eval --golden eval/golden/kb.jsonl --baseline eval/baseline.json --out eval/reports/kb

# Every set side by side (kb golden, StackFAQ, each installed real manual), ~15 minutes; not part of `make test`.
eval-suite: setup
	$(BIN)/deflect eval-suite --out eval/reports/suite --work .data/eval-work

calibrate: setup
	$(BIN)/deflect calibrate

# The panel and the widget in Debian's headless Chromium (/usr/bin/chromium: .ci/run installs it; never a browser
# download), with axe-core from npm for the accessibility checks (test-time only, never served).
test-web: setup
	npm ci --prefix tests/web --no-audit --no-fund --silent
	$(BIN)/python -m pytest -m browser tests/web

test: lint test-unit test-integration test-web eval

clean:
	rm -rf $(VENV) .data eval/reports
