# The two set-up commands are `make demo` and `make test`; both work as root on a fresh
# Debian machine: they install Mosquitto and Python's venv support with apt when missing,
# create .venv, install the project into it, and run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test system-deps lint clean

system-deps:
	./scripts/install-system-deps.sh

$(BIN)/.installed: pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

demo: system-deps $(BIN)/.installed
	$(BIN)/python scripts/demo.py

test: system-deps $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
