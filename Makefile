# difflab — set-up and the commands the README opens with.
# Everything is installed into .venv from constraints.txt, so a fresh machine
# with only Python 3.11+ can run `make demo`, `make lint`, `make test` and `make bench`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff
STAMP := $(VENV)/.installed-stamp
# Everything ruff checks and formats (the same set in lint and format).
LINT_PATHS := src tests benchmarks experiments scripts
# Extra options for the benchmark runner, e.g. `make bench BENCH_ARGS="--quick --train-run"`.
BENCH_ARGS ?=

.PHONY: install demo lint format test bench clean shell
# Everything is installed into .venv, which a new shell does not know about.
ACTIVATE_HINT := difflab, torchrun and `import difflab` live in .venv: run `source .venv/bin/activate` (or `make shell`) first, or call .venv/bin/difflab

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,diffusers,datasets,tensorboard]'
	touch $(STAMP)
	@echo '$(ACTIVATE_HINT)'

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/difflab demo --out runs/demo
	@echo '$(ACTIVATE_HINT)'

# A shell with .venv activated (exit to leave).
shell: $(STAMP)
	@echo '$(ACTIVATE_HINT)'
	@. $(VENV)/bin/activate && exec $${SHELL:-/bin/sh} -i

# Fails on any lint violation or on any file `make format` would change.
lint: $(STAMP)
	$(RUFF) check $(LINT_PATHS)
	$(RUFF) format --check $(LINT_PATHS)

# Applies the safe lint fixes and the formatter.
format: $(STAMP)
	$(RUFF) check --fix $(LINT_PATHS)
	$(RUFF) format $(LINT_PATHS)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

# The CPU benchmarks (not part of `make test`); tables go to runs/bench/.
bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
