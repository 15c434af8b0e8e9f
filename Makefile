# Verbatim: `make run` serves the seeds at http://127.0.0.1:8000, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= data

.PHONY: install install-test browser postgres run lint test test-fast bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --upgrade pip

# torch is pinned to the CPU build in pyproject.toml; installing it first keeps pip from
# resolving a CUDA build for sentence-transformers.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "installing Verbatim into $(VENV) (a few minutes the first time)"
	$(BIN)/pip install --quiet --quiet torch==2.13.0
	$(BIN)/pip install --quiet --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Browser tests drive Debian's Chromium (Playwright cannot download one here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The replica tests start their own PostgreSQL servers from Debian's package.
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the replica tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

run: install
	$(BIN)/qa serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check qa api embeddings training bench tests

test: install-test browser postgres lint
	$(BIN)/python -m pytest

# The unit tier: no browser, no server processes, nothing of more than a few seconds.
test-fast: install-test postgres lint
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: install-test
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
