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
.PHONY: fuzz help venv build-dev wheel-test test test-python test-rust test-rust-aarch64 lint lint-rust lint-python stubtest bench bench-smoke bench-baseline bench-readme wheel wheel-aarch64 wheel-aarch64-test sdist-test demo docs clean

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

lint-rust:  ## rustfmt, clippy and rustdoc, warnings are errors
	cargo fmt --all --check
	PYO3_BUILD_EXTENSION_MODULE=1 cargo clippy --workspace --all-targets -- -D warnings
	PYO3_BUILD_EXTENSION_MODULE=1 RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace

lint-python: venv  ## ruff (lint and format) and mypy (strict on python/credo)
	$(PY) -m ruff check python tests benches
	$(PY) -m ruff format --check python tests benches
	$(PY) -m mypy

stubtest: build-dev  ## The hand-written stub matches the native module
	$(PY) -m mypy.stubtest credo._credo --allowlist .mypy-stubtest-allowlist --ignore-unused-allowlist

FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
fuzz: build-dev  ## Fuzz every text and file parser with atheris, FUZZ_SECONDS each (default 60)
	$(PY) -m pip install -q atheris
	$(PY) fuzz/run.py --seconds $(FUZZ_SECONDS) $(FUZZ_ARGS)

lint: lint-rust lint-python  ## Every linter

# A test that misses a gate is run again, twice at most (pytest-rerunfailures): on a shared
# 2-core VM one timing in a few runs lands in a slow stretch of the machine, while a regression
# misses the gate on every attempt. The summary keeps every attempt's failures.
BENCH_RERUNS = --reruns 2 --only-rerun "ratio below its gate"

bench: PROFILE = release
bench: build-dev  ## The full benchmark suite (release build), tables in bench-results/
	$(PY) -m pytest benches/python --benchmark-enable -p no:cacheprovider $(BENCH_RERUNS)

bench-smoke: PROFILE = release
bench-smoke: build-dev  ## Quick benchmark run that checks the ratio gates of benches/targets.toml (as in CI)
	CREDO_BENCH_QUICK=1 $(PY) -m pytest benches/python -p no:cacheprovider -q $(BENCH_RERUNS)

bench-baseline:  ## Commit-ready baseline from the last run: bench-results/summary.json -> benches/baseline.json, README table
	cp bench-results/summary.json benches/baseline.json
	$(PY) benches/python/readme_table.py

bench-readme:  ## Regenerate the README's performance table from benches/baseline.json
	$(PY) benches/python/readme_table.py

# Wheels are linked with zig against glibc 2.17 (manylinux2014: Ubuntu 18.04+, RHEL/CentOS 7+,
# Amazon Linux 2, Debian 9+), one abi3 wheel per architecture for every CPython >= 3.10.
# `auditwheel show` must confirm the tag; its report is kept beside the wheel.
WHEEL_FLAGS := --release --strip --zig --compatibility manylinux2014
WHEEL_TOOLS := $(VENV)/.wheel-tools
$(WHEEL_TOOLS): $(VENV)/.deps-installed
	$(PY) -m pip install -q 'ziglang>=0.11' 'auditwheel>=6'
	touch $@

define build_wheel  # $(1): Rust target triple (empty: this machine's), $(2): the tag auditwheel must report
	PATH=$(abspath $(VENV)/bin):$$PATH $(VENV)/bin/maturin build $(WHEEL_FLAGS) $(if $(1),--target $(1)) -o dist
	$(VENV)/bin/auditwheel show $$(ls -t dist/credo-*$(2)*.whl | head -1) | tee dist/auditwheel-$(2).txt
	grep -q '"$(2)"' dist/auditwheel-$(2).txt || { echo "wheel is not $(2)"; exit 1; }
endef

wheel: $(WHEEL_TOOLS)  ## Build the release abi3 manylinux2014 (glibc 2.17) x86-64 wheel into dist/
	$(call build_wheel,,manylinux_2_17_x86_64)

wheel-aarch64: $(WHEEL_TOOLS)  ## Cross-build the aarch64 wheel (needs the aarch64-unknown-linux-gnu Rust target)
	rustup target add aarch64-unknown-linux-gnu
	$(call build_wheel,aarch64-unknown-linux-gnu,manylinux_2_17_aarch64)

# Debian's arm64 Python 3.11 (unpacked from its .deb files, not installed) runs under qemu-user
# with NumPy's aarch64 wheel from PyPI; needs root for apt-get and qemu-user.
wheel-aarch64-test: wheel-aarch64  ## Smoke-test the aarch64 wheel under qemu-user emulation
	scripts/wheel_smoke_aarch64.sh $$(ls -t dist/credo-*aarch64.whl | head -1)

sdist-test: venv  ## Build the sdist and install it from scratch (a full Rust build) in a fresh venv
	rm -rf $(WHEEL_VENV) dist/credo-*.tar.gz && $(VENV)/bin/maturin sdist -o dist
	python3 -m venv $(WHEEL_VENV)
	env -u PYTHONPATH $(WHEEL_VENV)/bin/pip install -q $$(ls -t dist/credo-*.tar.gz | head -1)
	cd /tmp && env -u PYTHONPATH $(WHEEL_VENV)/bin/python $(abspath scripts/wheel_smoke.py)

demo: build-dev  ## Run `credo demo`
	$(PY) -m credo demo

docs: venv  ## Build the documentation site into site/ (MkDocs, warnings are errors)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:  ## Remove build outputs
	rm -rf target dist python/credo/*.so

WHEEL_VENV ?= /tmp/credo-wheel-venv
wheel-test: wheel  ## Install the built wheel into a fresh venv and run the smoke test there
	rm -rf $(WHEEL_VENV) && python3 -m venv $(WHEEL_VENV)
	env -u PYTHONPATH $(WHEEL_VENV)/bin/pip install -q $$(ls -t dist/credo-*x86_64.whl | head -1)
	cd /tmp && env -u PYTHONPATH $(WHEEL_VENV)/bin/python $(abspath scripts/wheel_smoke.py)
	@ls -l $$(ls -t dist/credo-*x86_64.whl | head -1)
