# Each target creates .venv when missing and installs what it needs.
# torch is pinned through constraints.txt (a CPU build; a looser range pulls CUDA wheels).
VENV    ?= .venv
PY      := $(VENV)/bin/python
MLPLAB  := $(VENV)/bin/mlplab
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test bench lint format clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[all,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(MLPLAB) reproduce --profile quick

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(MLPLAB) bench --out runs/bench

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
