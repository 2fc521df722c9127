# One command per habit, the same locally and in CI (README "Quick start").
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint bench demo services

install:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'

test:
	$(BIN)/python -m pytest -q -n 2

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench:
	$(BIN)/python bench/run_all.py

demo:
	$(BIN)/b24claude demo

services:
	bash .ci/services
