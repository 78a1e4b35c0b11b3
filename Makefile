# The newcomer's two commands: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install run test lint format bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

# Web, Celery worker and Celery beat in one foreground process tree (Ctrl-C stops all).
# PORT picks the web port (default 8000); honcho would otherwise hand the web process 5000.
PORT ?= 8000
RUN_ENV = DEBUG=$${DEBUG:-true} PORT=$(PORT) SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)}
run: install
	mkdir -p var
	$(RUN_ENV) $(PY) manage.py migrate --no-input
	$(RUN_ENV) $(PY) manage.py seed_demo
	$(RUN_ENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

# Lint, then the whole suite on DATABASE_URL/REDIS_URL, or on a throwaway PostgreSQL cluster
# and redis-server that tests/throwaway.py starts where they are installed and deletes after.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=$${DEBUG:-true} $(PY) -m tests.throwaway $(PYTEST_ARGS)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var staticfiles .pytest_cache
