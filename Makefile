# lambda-lab: two commands to know, `make lab` and `make test`.
#
# `python3` may be a pyenv (or asdf) shim; resolve the real interpreter once so that
# .venv/bin/python links to a real binary, not to a shim that changes with the cwd.
PYTHON ?= $(shell python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')

VENV      := .venv
VPY       := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
KERNEL    := lambda-lab
KERNELDIR := $(VENV)/share/jupyter/kernels/$(KERNEL)

LAB_ARGS    ?=
# Jupyter refuses to start as root unless told; developers and CI here run as root.
ROOT_FLAG   := $(if $(filter 0,$(shell id -u)),--allow-root)
PYTEST_ARGS ?=
BENCH_ARGS  ?=

.DEFAULT_GOAL := help
.PHONY: help venv kernel lab lint test bench clean distclean

help:
	@echo "make lab     set up .venv and the '$(KERNEL)' kernel, start JupyterLab on notebooks/ (LAB_ARGS=...)"
	@echo "make test    set up, then ruff, then pytest (notebooks run headless) (PYTEST_ARGS=...)"
	@echo "make venv | kernel | lint | bench | clean | distclean"

$(VPY):
	@test -n "$(PYTHON)" || { echo "error: no python3 found on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Re-install when the dependencies change, or when a top-level package first appears.
$(STAMP): pyproject.toml $(wildcard kernel_runtime/__init__.py lab/__init__.py) | $(VPY)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet --progress-bar off -e '.[dev]'
	@touch $@

venv: $(STAMP)

$(KERNELDIR)/kernel.json: $(STAMP)
	$(VPY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "lambda-lab (Python 3)"
	@touch $@

kernel: $(KERNELDIR)/kernel.json

lab: venv kernel
	$(VENV)/bin/jupyter lab notebooks/ $(ROOT_FLAG) $(LAB_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

test: venv kernel
	$(VENV)/bin/ruff check .
	$(VPY) -m pytest $(PYTEST_ARGS)

bench: venv
	$(VPY) benchmarks/run.py $(BENCH_ARGS)
	$(VPY) benchmarks/bench_simulate.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) \
		-type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
