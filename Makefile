# swift-rosenpass: build, test, demo and benchmark.
#
#   make demo   build, make keys for two peers, run them on loopback, show both hold the same key
#   make test   every test: unit tests, then the process and WireGuard end-to-end suites
#   make bench  rosenpass-crypto bench against the reference implementations (scripts/bench), see BENCHMARKS.md
#   make bench-scale  one daemon with 100, 1,000 and 10,000 peers (scripts/bench/scale.py), see BENCHMARKS.md
#   make fuzz   every libFuzzer target for FUZZ_SECONDS (default 300) each, see FUZZING.md
#   make test-sanitizers   the unit tests under AddressSanitizer and ThreadSanitizer
#   make deb    a Debian package (packaging/deb/build-deb.sh, docs/packaging.md) in .build-deb/packages
#
# Everything is built in release mode: the post-quantum primitives are far too slow unoptimised
# for the tests to finish in reasonable time. `-enable-testing` lets the test targets see internals
# while sharing one build with the executables the end-to-end tests run.

SWIFT        ?= swift
BUILD_FLAGS  ?= -c release -Xswiftc -enable-testing
BIN_DIR       = $(shell $(SWIFT) build $(BUILD_FLAGS) --show-bin-path)
export ROSENPASS_BIN_DIR = $(BIN_DIR)

.PHONY: all build test unit-test integration-test test-sanitizers demo bench bench-scale fuzz deb deps clean

all: build

build:
	$(SWIFT) build $(BUILD_FLAGS)

unit-test: build
	$(SWIFT) test $(BUILD_FLAGS)

integration-test: build deps
	IntegrationTests/run-all.sh

# deps first: the build picks up valgrind's headers for `rosenpass-crypto ct-check` when they are there.
test: deps unit-test integration-test

deps:
	@scripts/install-test-dependencies.sh

demo: build
	@scripts/demo.sh

# BENCH_ARGS is passed to scripts/bench/compare.py, e.g. make bench BENCH_ARGS="--filter shake256 --passes 5".
bench:
	$(SWIFT) build $(BUILD_FLAGS) --product rosenpass-crypto
	python3 scripts/bench/compare.py --bin "$(BIN_DIR)/rosenpass-crypto" $(BENCH_ARGS)

# One daemon with 100, 1,000 and 10,000 peers (docs/scaling.md); SCALE_ARGS go to scripts/bench/scale.py,
# e.g. make bench-scale SCALE_ARGS="--peers 100,1000". Caches 5.2 GB of keys in .build/bench-scale.
bench-scale:
	$(SWIFT) build $(BUILD_FLAGS) --product rosenpass
	$(SWIFT) build $(BUILD_FLAGS) --product rosenpass-crypto
	python3 scripts/bench/scale.py --bin "$(BIN_DIR)" $(SCALE_ARGS)

# SANITIZERS: address, thread or both (default).
test-sanitizers:
	scripts/test-sanitizers.sh $(SANITIZERS)

FUZZ_SECONDS ?= 300
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The binaries are built again in .build-deb, with the Swift runtime linked statically.
deb:
	packaging/deb/build-deb.sh

clean:
	rm -rf .build .build-fuzz .build-fuzz-plain .build-asan .build-tsan .build-deb
