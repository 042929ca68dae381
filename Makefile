# Two commands matter: `make run` (serve the product locally) and `make test` (the whole suite).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test venv migrate lint bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt scripts/find-python.sh
	@PYTHON=$$(bash scripts/find-python.sh) || exit 1; \
	  echo "Using $$PYTHON ($$($$PYTHON --version))"; \
	  [ -x $(PY) ] || $$PYTHON -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# Embedded default: SQLite, in-memory channel layer, console push; DEBUG gives safe dev-only secrets.
run: venv
	@mkdir -p var
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py bootstrap_demo
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py serve --host $${HOST:-127.0.0.1} --port $(PORT)

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: venv
	$(PY) bench/approvals.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
