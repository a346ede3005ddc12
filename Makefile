# Entry points (see README.md). Each one bootstraps what it needs first, so a fresh clone on a fresh
# Debian bookworm machine needs nothing but `make <target>`.
SHELL := /bin/bash
VENV_PY := $(CURDIR)/.venv/bin/python
PYPY := $(CURDIR)/.cache/pypy/bin/pypy3
PYPY_SITE := $(CURDIR)/.cache/pypy/site-packages
export HPY_PYTHON := $(VENV_PY)
export HPYBRIDGE_BUILD_DIR := $(CURDIR)/build/hpybridge
# The package straight from the source tree, on both interpreters (python/ holds the built runtime).
export PYTHONPATH := $(CURDIR)/python

.PHONY: bootstrap build demo test test-rust test-cpython test-pypy bench clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	@$(VENV_PY) scripts/build_runtime.py

demo: build
	@$(VENV_PY) examples/demo.py
	@PYTHONPATH=$(PYTHONPATH):$(PYPY_SITE) $(PYPY) examples/demo.py

test: test-rust test-cpython test-pypy

test-rust: bootstrap
	cargo test --workspace

# CPython runs first: it builds the test extensions and records their hashes, which the PyPy run
# checks, so both interpreters provably load the same binaries.
test-cpython: build
	$(VENV_PY) -m pytest -q tests

test-pypy: build test-cpython
	PYTHONPATH=$(PYTHONPATH):$(PYPY_SITE) $(PYPY) -m pytest -q -p no:cacheprovider tests

bench: build
	@$(VENV_PY) benchmarks/run.py --pypy

clean:
	cargo clean
	rm -rf build python/hpybridge/_runtime.hpy0.so python/hpybridge/include
