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

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
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
	$(VENV)/bin/pytest -n auto -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) $(DEMO_CONFIG) .pytest_cache .mypy_cache .ruff_cache
