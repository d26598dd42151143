# messaging_web: every set-up step lives here, so that a fresh clone needs only `make run` / `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PORT ?= 5000
# `make run` has no Celery beat: the periodic jobs run in the web process (services/scheduler.py), and links
# in emails point at the port it serves on.
DEV_ENV := MESSAGING_ENV=development FLASK_APP=wsgi.py
RUN_ENV := $(DEV_ENV) EMBEDDED_SCHEDULER=1 PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://127.0.0.1:$(PORT)}
PYTEST_WORKERS ?= 2

.PHONY: install run test test-pg test-e2e lint bench clean

$(STAMP): pyproject.toml
	@echo "install: creating the virtualenv $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@echo "install: upgrading pip"
	@$(VENV)/bin/pip install --quiet --upgrade pip
	@echo "install: installing messaging_web and its dependencies (a minute or two the first time)"
	@$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $(STAMP)
	@echo "install: done"

install: $(STAMP)

run: install
	@echo "run: migrating the database"
	@$(DEV_ENV) $(VENV)/bin/flask db upgrade
	@echo "run: seeding the demo data"
	@$(DEV_ENV) $(VENV)/bin/flask messaging seed-demo
	@echo "run: serving on http://127.0.0.1:$(PORT) (the scheduler runs notifications, retries and sweeps)"
	@$(RUN_ENV) $(VENV)/bin/flask run --host 127.0.0.1 --port $(PORT)

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
