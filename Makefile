# civicdesk — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
JURISDICTION ?= za
PG_URL ?= postgres://postgres@127.0.0.1:5432/civicdesk
REDIS_URL_TEST ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: run test test-pg bench lint format messages makemessages install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Compile the translation catalogues (the .mo files are committed; this refreshes them).
messages: $(STAMP)
	@if command -v msgfmt >/dev/null; then $(BIN)/python manage.py compilemessages --ignore=.venv -v 0; fi

makemessages: $(STAMP)
	cd civicdesk && ../$(BIN)/python ../manage.py makemessages -l af -l uk -l ru -l en --no-obsolete --ignore=tests

run: messages
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py demo --jurisdiction $(JURISDICTION)
	@echo ""
	@echo "civicdesk is at http://$(HOST):$(PORT)/ (back office /staff/, admin /admin/, API /api/docs/)"
	$(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

test: messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The same suite on PostgreSQL, with Redis as the Celery broker and a real worker where needed.
test-pg: messages
	DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(REDIS_URL_TEST) REDIS_URL=$(REDIS_URL_TEST) \
		CIVICDESK_WORKER_TESTS=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/bench_*.py; do [ -e "$$b" ] || continue; echo "== $$b"; $(BIN)/python "$$b" || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	CIVICDESK_ENV=production SECRET_KEY=lint-only-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
		ALLOWED_HOSTS=civicdesk.example.org $(BIN)/python manage.py check --deploy --fail-level WARNING

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var/static
