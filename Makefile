# The project's one entry point. Two commands do everything on a fresh machine:
#   make demo    install, then run the main job
#   make check   every check CI runs (.ci/run calls exactly this)
# Optional: make bench, make soak (the 30-minute chaos soak), make fuzz (the wire fuzz test with 200,000 cases a property, ~5 min)

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export CARGO_TERM_COLOR ?= never

.PHONY: demo check install develop lint test rust-test wheel smoke bench fuzz soak clean

$(BIN)/python:
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs tradewire (building the Rust extension) and the test tools into .venv.
$(INSTALLED): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

# Rebuilds the extension after Rust changes (incremental; same profile as cargo test).
develop: $(INSTALLED)
	$(BIN)/maturin develop --release --quiet

demo: develop
	$(BIN)/tradewire demo

lint: develop
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --release -- -D warnings
	$(BIN)/ruff check python tests benches .ci
	$(BIN)/ruff format --check python tests benches .ci
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest tradewire._native

# The extension enables the core's `fault-injection` (panics on demand for the supervision
# tests), so one workspace build runs them all.
rust-test:
	cargo test --workspace --release

test: develop
	$(BIN)/python -m pytest

check: lint rust-test test smoke

# The release wheel: one abi3 wheel for CPython 3.11+, linked by zig against glibc 2.17
# (manylinux2014), built with the `dist` profile (fat LTO, one codegen unit) and stripped, in its
# own profile dir so the development build is left as it is; and the sdist.
wheel: $(INSTALLED)
	rm -f target/wheels/tradewire-*
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/maturin build --profile dist --strip --zig \
		--compatibility manylinux2014 --interpreter python3.11 --out target/wheels
	$(BIN)/maturin sdist --out target/wheels
	$(BIN)/auditwheel show target/wheels/tradewire-*.whl

# Installs the wheel into a fresh venv outside the source tree and runs it (.ci/smoke).
smoke: wheel
	bash .ci/smoke

bench: develop
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	cargo bench -p tradewire-benches
	cargo build --release --bin raw_reader
	$(BIN)/python benches/bridge.py
	$(BIN)/python benches/bridge.py --loop uvloop
	$(BIN)/python benches/book_updates.py
	$(BIN)/python benches/book_updates.py --venue bybit --market linear
	$(BIN)/python -m benches.peers
	$(BIN)/python -m benches.peers --loop uvloop
	$(BIN)/python benches/replay.py

# The fuzz test (rust/core/tests/fuzz) runs in rust-test with its default cases; this runs it
# long, with integer overflow checked (an overflow the release build would wrap panics and
# fails the case), in its own target dir so the shared build stays as it is. A failing case is
# saved under rust/core/proptest-regressions/fuzz/: commit it.
FUZZ_CASES ?= 200000
fuzz:
	CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true CARGO_TARGET_DIR=target/overflow-checked \
		TRADEWIRE_FUZZ_CASES=$(FUZZ_CASES) cargo test -p tradewire-core --release --test fuzz

# Every fault at random on 4 markets, 50 books and an order flow for 30 minutes; ends with
# books, orders, fills, funds and positions checked against the simulator's truth, limit
# violations and RSS growth (benches/results/soak-*.json). Not in CI.
soak: develop
	$(BIN)/python -m benches.soak --minutes 30

clean:
	rm -rf $(VENV) target
