# messaging_web: every set-up step lives here, so that a fresh clone needs only `make run` / `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
DEV_ENV := MESSAGING_ENV=development FLASK_APP=wsgi.py
PYTEST_WORKERS ?= 2

.PHONY: install run test test-pg test-e2e lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(DEV_ENV) $(VENV)/bin/flask db upgrade
	$(DEV_ENV) $(VENV)/bin/flask messaging seed-demo
	$(DEV_ENV) $(VENV)/bin/flask run --host 127.0.0.1 --port 5000

test: install
	$(PY) -m pytest -n $(PYTEST_WORKERS)

test-pg: install
	TEST_DATABASE_URL=$(PG_URL) $(PY) -m pytest -n $(PYTEST_WORKERS)

test-e2e: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests/e2e

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
