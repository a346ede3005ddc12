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

.PHONY: bootstrap build demo test test-rust test-cpython test-cpython-strict test-pypy bench lint clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	@$(VENV_PY) scripts/build_runtime.py

demo: build
	@$(VENV_PY) examples/demo.py
	@PYTHONPATH=$(PYTHONPATH):$(PYPY_SITE) $(PYPY) examples/demo.py

test: test-rust test-cpython test-cpython-strict test-pypy

test-rust: bootstrap
	cargo test --workspace

# CPython runs first: it builds the test extensions and records their hashes, which the PyPy run
# checks, so both interpreters provably load the same binaries.
test-cpython: build
	$(VENV_PY) -m pytest -q tests

# The CPython suite again, in development mode and with the debug allocator, which fills freed
# memory with a pattern: a read of freed memory then crashes every time instead of by luck, and
# warnings (unclosed files, say) are errors. Subprocesses the tests start inherit both variables.
# The pip tests are left out: they test packaging, not memory.
test-cpython-strict: build test-cpython
	PYTHONMALLOC=debug PYTHONDEVMODE=1 $(VENV_PY) -X dev -W error -m pytest -q -p no:cacheprovider \
		--ignore=tests/test_packaging.py tests

test-pypy: build test-cpython
	PYTHONPATH=$(PYTHONPATH):$(PYPY_SITE) $(PYPY) -m pytest -q -p no:cacheprovider tests

bench: build
	@$(VENV_PY) benchmarks/run.py --pypy

# Rust: formatting (rustfmt.toml) and clippy with the workspace lints ([workspace.lints] in
# Cargo.toml), warnings as errors. Python: ruff, configured in pyproject.toml.
# The PyO3 crates (examples/geometry/rust, tests/ext/calcrs) are outside the workspace: checked
# one by one, after `build`, because their build scripts run hpybridge's generator.
PYO3_CRATES := examples/geometry/rust tests/ext/calcrs benchmarks/benchrs
lint: build
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	for crate in $(PYO3_CRATES); do \
		cargo fmt --check --manifest-path $$crate/Cargo.toml && \
		PYO3_PYTHON=$(VENV_PY) CARGO_TARGET_DIR=$(HPYBRIDGE_BUILD_DIR)/cargo-clippy \
			cargo clippy --locked --quiet --manifest-path $$crate/Cargo.toml -- -D warnings || exit 1; \
	done
	$(CURDIR)/.venv/bin/ruff check python tests benchmarks examples scripts

clean:
	cargo clean
	rm -rf build python/hpybridge/_runtime.hpy0.so python/hpybridge/include
