# The two commands: `make demo` runs the main job end to end, `make test` runs the tests.
# Each creates or updates the virtual environment in .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test venv venv-dev system-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

system-deps:
	bash scripts/system-deps.sh

demo: venv
	$(BIN)/statcoder demo

test: venv-dev system-deps
	bash scripts/run-tests.sh

bench: venv-dev
	$(BIN)/python benchmarks/run_all.py $(AREAS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
