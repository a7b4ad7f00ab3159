# The two commands of the quickstart: `make demo` and `make test`. Both create .venv on demand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The demo keeps its store in this folder (ignored by git), so it never touches your own setup.
DEMO_CONFIG ?= $(CURDIR)/.kitaru-demo

.PHONY: demo test lint typecheck unit install install-dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml tests/ts_client/package-lock.json | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	@# The official TypeScript MCP client for tests/test_mcp_ts_client.py (skipped without node).
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/ts_client --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the TypeScript MCP client check will be skipped"; fi
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	KITARU_CONFIG_PATH=$${KITARU_CONFIG_PATH:-$(DEMO_CONFIG)} $(PY) examples/demo.py

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy

unit: $(VENV)/.installed-dev
	@# tests/test_server_mariadb.py runs a ZenML server on MariaDB when mariadbd is installed.
	@command -v mariadbd >/dev/null 2>&1 || echo "server tier on MariaDB skipped: mariadbd not on PATH (apt-get install mariadb-server to run it)"
	@command -v chromium >/dev/null 2>&1 || echo "MCP App browser check skipped: chromium not on PATH (apt-get install chromium to run it)"
	$(VENV)/bin/pytest -n auto -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) $(DEMO_CONFIG) .pytest_cache .mypy_cache .ruff_cache
