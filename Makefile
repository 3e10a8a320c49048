# credo: one entry point for building, linting, testing and benchmarking.
# `make help` lists the targets. Everything runs inside $(VENV), created on first use.

VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= dev
# Where cargo puts the profile's output ("dev" builds land in target/debug).
PROFILE_DIR = $(if $(filter dev,$(PROFILE)),debug,$(PROFILE))
CARGO_TARGET_DIR ?= target
export PYO3_PYTHON := $(abspath $(PY))
# The in-place build is imported from python/ (pytest sets the same path from pyproject.toml).
export PYTHONPATH := $(abspath python)$(if $(PYTHONPATH),:$(PYTHONPATH))

.DEFAULT_GOAL := help
.PHONY: help venv build-dev wheel-test test test-python test-rust test-rust-aarch64 lint lint-rust lint-python stubtest bench bench-smoke wheel demo clean

help:  ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.deps-installed: requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.deps-installed  ## Create the virtual environment with the test and bench dependencies

build-dev: venv  ## Build the native module in place (PROFILE=dev|release)
	rm -f python/credo/*.so
	PYO3_BUILD_EXTENSION_MODULE=1 cargo build -p credo-py --profile $(PROFILE)
	cp $(CARGO_TARGET_DIR)/$(PROFILE_DIR)/lib_credo.so python/credo/_credo.abi3.so
	$(PY) -c "import credo._credo as m; print('built', m.__file__)"

test-rust:  ## Rust unit and property tests of credo-core
	cargo test -p credo-core

# The aarch64 build of credo-core (the NEON kernels included) run under qemu user emulation:
# needs the aarch64 Rust target, a cross linker and qemu-aarch64 (Debian: gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross, qemu-user).
test-rust-aarch64:  ## credo-core's tests built for aarch64 and run under qemu (NEON paths)
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
	cargo test -p credo-core --release --target aarch64-unknown-linux-gnu

test-python: build-dev  ## pytest over tests/
	$(PY) -m pytest tests

test: test-rust test-python  ## All tests (Rust core, then pytest)

lint-rust:  ## rustfmt and clippy, warnings are errors
	cargo fmt --all --check
	PYO3_BUILD_EXTENSION_MODULE=1 cargo clippy --workspace --all-targets -- -D warnings

lint-python: venv  ## ruff
	$(PY) -m ruff check python tests benches

stubtest: build-dev  ## The hand-written stub matches the native module
	$(PY) -m mypy.stubtest credo._credo --allowlist .mypy-stubtest-allowlist --ignore-unused-allowlist

lint: lint-rust lint-python  ## Every linter

bench: PROFILE = release
bench: build-dev  ## The full benchmark suite (release build), tables in bench-results/
	$(PY) -m pytest benches/python --benchmark-enable --benchmark-only -p no:cacheprovider

bench-smoke: PROFILE = release
bench-smoke: build-dev  ## Quick benchmark run that checks the ratio targets (as in CI)
	CREDO_BENCH_QUICK=1 $(PY) -m pytest benches/python -p no:cacheprovider -q

wheel:  ## Build the release abi3 wheel into dist/
	$(VENV)/bin/maturin build --release --strip -o dist

demo: build-dev  ## Run `credo demo`
	$(PY) -m credo demo

clean:  ## Remove build outputs
	rm -rf target dist python/credo/*.so

WHEEL_VENV ?= /tmp/credo-wheel-venv
wheel-test: wheel  ## Install the built wheel into a fresh venv and run the smoke test there
	rm -rf $(WHEEL_VENV) && python3 -m venv $(WHEEL_VENV)
	env -u PYTHONPATH $(WHEEL_VENV)/bin/pip install -q $$(ls -t dist/credo-*.whl | head -1)
	cd /tmp && env -u PYTHONPATH $(WHEEL_VENV)/bin/python $(abspath scripts/wheel_smoke.py)
	@ls -l $$(ls -t dist/credo-*.whl | head -1)
