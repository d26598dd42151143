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

.PHONY: install run stack test test-pg test-e2e lint bench soak soak-short clean translations

# The portals' translations (messaging_web/i18n.py): sources in messages.po, compiled at install.
TRANSLATIONS := messaging_web/translations
CATALOGS := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED_CATALOGS := $(CATALOGS:.po=.mo)
BABEL_KEYWORDS := -k _ -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k ngettext:1,2

$(STAMP): pyproject.toml
	@echo "install: creating the virtualenv $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@echo "install: upgrading pip"
	@$(VENV)/bin/pip install --quiet --upgrade pip
	@echo "install: installing messaging_web and its dependencies (a minute or two the first time)"
	@$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $(STAMP)
	@echo "install: done"

install: $(STAMP) $(COMPILED_CATALOGS)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(STAMP)
	@$(VENV)/bin/pybabel compile --statistics -i $< -o $@

# After changing texts in the code or pages: collect them, add the new ones to each catalog (to translate
# there), compile. tests/unit/test_translations.py fails while a catalog is behind or a text untranslated.
translations: install
	$(VENV)/bin/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --no-location --sort-output --omit-header \
	  -o $(TRANSLATIONS)/messages.pot messaging_web
	$(VENV)/bin/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(TRANSLATIONS) --statistics

run: install
	@echo "run: migrating the database"
	@$(DEV_ENV) $(VENV)/bin/flask db upgrade
	@echo "run: seeding the demo data"
	@$(DEV_ENV) $(VENV)/bin/flask messaging seed-demo
	@echo "run: serving on http://127.0.0.1:$(PORT) (the scheduler runs notifications, retries and sweeps)"
	@$(RUN_ENV) $(VENV)/bin/flask run --host 127.0.0.1 --port $(PORT)

# The production shape on this machine: gunicorn, a Celery worker and beat, the SMTP receiver for replies,
# against PostgreSQL and Redis (Procfile, run by honcho). Secrets are made once into $(STACK_ENV_FILE).
STACK_DB_NAME ?= messaging_stack
STACK_PORT ?= 8000
STACK_ENV_FILE := instance/stack.env
HONCHO := $(VENV)/bin/honcho -e $(STACK_ENV_FILE)

$(STACK_ENV_FILE): | install
	@mkdir -p instance
	@echo "stack: writing $(STACK_ENV_FILE) with fresh secrets (keep it private)"
	@$(PY) -c "import secrets; from cryptography.fernet import Fernet; \
	print('SECRET_KEY=' + secrets.token_urlsafe(48)); print('MESSAGING_ENCRYPTION_KEYS=' + Fernet.generate_key().decode())" > $@
	@printf '%s\n' MESSAGING_ENV=production FLASK_APP=wsgi.py \
	  DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/$(STACK_DB_NAME) \
	  EMAIL_DISPATCHER=celery CELERY_BROKER_URL=redis://127.0.0.1:6379/1 RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/2 \
	  LIVE_BUS_URL=redis://127.0.0.1:6379/3 \
	  PUBLIC_BASE_URL=http://127.0.0.1:$(STACK_PORT) SESSION_COOKIE_SECURE=0 INBOUND_EMAIL_DOMAIN=reply.localhost \
	  WEB_PORT=$(STACK_PORT) >> $@

stack: install $(STACK_ENV_FILE)
	@echo "stack: creating the PostgreSQL database $(STACK_DB_NAME) if it does not exist"
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$(STACK_DB_NAME)'" | grep -q 1 \
	  || createdb -h 127.0.0.1 -U postgres $(STACK_DB_NAME)
	@echo "stack: migrating and seeding the demo data"
	@$(HONCHO) run $(VENV)/bin/flask db upgrade
	@$(HONCHO) run $(VENV)/bin/flask messaging seed-demo
	@echo "stack: starting web (gunicorn on :$(STACK_PORT)), worker, beat and replies (Procfile); Ctrl-C stops all"
	@rm -rf instance/prometheus && mkdir -p instance/prometheus
	@PATH=$(CURDIR)/$(VENV)/bin:$$PATH PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/instance/prometheus $(HONCHO) start

# The production processes under simulated users for 3 minutes while a worker, Redis, PostgreSQL, the SMTP
# server and a web worker fail in turn, then a reconciliation of every email and message (bench/soak.py).
# It restarts this machine's Redis and PostgreSQL: run it alone.
soak: install
	$(PY) bench/soak.py

soak-short: install
	SOAK_SECONDS=30 SOAK_USERS=40 $(PY) bench/soak.py

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
