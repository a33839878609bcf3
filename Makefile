# The README's two commands: `make demo` and `make test` (plus `make bench`).
# Each installs what is missing (scripts/setup, as root), builds, then runs.

BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
WERROR     ?= $(if $(TANDEM_WERROR),$(TANDEM_WERROR),OFF)
FUZZ_SECONDS ?= 20

.PHONY: all setup build unit integration fuzz test sanitize-build test-sanitize demo bench bench-heartbeat clean

all: build

setup:
	@if [ "$$(id -u)" = 0 ]; then scripts/setup; \
	 else echo "make: not root: skipping scripts/setup (dependencies must already be installed)"; fi

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTANDEM_WERROR=$(WERROR)
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure -j $(JOBS)

integration: build
	ctest --test-dir $(BUILD) -L integration --output-on-failure

# libFuzzer targets need clang; they run for FUZZ_SECONDS each.
fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DTANDEM_FUZZ=ON -DTANDEM_WERROR=$(WERROR)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all
	FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --test-dir $(FUZZ_BUILD) -L fuzz --output-on-failure -j $(JOBS)

# ASan + UBSan (TANDEM_SANITIZE) in its own build directory: everything the unit and
# integration tests need, no benchmarks; -O1 with assertions on (Debug: NDEBUG unset;
# _GLIBCXX_ASSERTIONS: bounds checks in the standard library).
# -g1 (line tables, enough for the reports' stack traces), not -g: GCC's variable
# tracking on ASan+UBSan code took 803 s instead of 72 s for one file (metrics.cpp).
# The libraries and daemons are a unity build (8 sources per compilation): the shared
# templates (Asio, gRPC) are compiled once per batch instead of once per file. The tests
# are not (tests/CMakeLists.txt: their helpers' names would meet).
# tests/sanitizers/run fails on any sanitizer report, also one from a daemon that a test
# did not look at (docs/security.md, "Sanitizers").
sanitize-build: setup
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_FLAGS_DEBUG="-g1 -O1" -DCMAKE_CXX_FLAGS_DEBUG="-g1 -O1 -D_GLIBCXX_ASSERTIONS" \
	  -DCMAKE_UNITY_BUILD=ON -DTANDEM_SANITIZE=ON -DTANDEM_BENCH=OFF -DTANDEM_WERROR=$(WERROR)
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-sanitize: sanitize-build
	tests/sanitizers/run $(ASAN_BUILD) -j $(JOBS)

# Everything: the unit and integration tests, the fuzzers for FUZZ_SECONDS each, then
# the unit and integration tests again on the ASan + UBSan build. SANITIZE=off skips
# that last part (it doubles the time) for a quicker run by hand; CI never sets it.
SANITIZE ?= on
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory fuzz
	@if [ "$(SANITIZE)" = off ]; then echo "make test: SANITIZE=off: the ASan + UBSan run is skipped"; \
	 else $(MAKE) --no-print-directory test-sanitize; fi

demo: build
	python3 scripts/demo.py --build $(BUILD)

bench: build
	python3 bench/ingest/run.py --build $(BUILD)

bench-heartbeat: build
	python3 bench/heartbeat/run.py --build $(BUILD)

# Failovers of random kind at random moments while the peers churn routes
# (docs/bench/chaos.md); CHAOS_ARGS e.g. "--failovers 30 --prefixes 100000 --seed 7".
.PHONY: bench-chaos
bench-chaos: build
	python3 bench/chaos/run.py --build $(BUILD) $(CHAOS_ARGS)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(ASAN_BUILD)
