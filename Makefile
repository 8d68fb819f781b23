# Two entry points (see README): `make run` installs and starts the server on the embedded
# defaults; `make test` installs what the tests need and runs the whole suite.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install install-test run test lint bench

install:
	bash scripts/install.sh $(VENV)

install-test:
	bash scripts/install.sh $(VENV) test

run: install
	$(PY) -m easel serve

test: install-test
	$(PY) -m ruff check easel tests bench
	$(PY) -m pytest -q

lint:
	$(PY) -m ruff check easel tests bench
