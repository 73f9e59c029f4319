# swift-rosenpass: build, test, demo and benchmark.
#
#   make demo   build, make keys for two peers, run them on loopback, show both hold the same key
#   make test   every test: unit tests, then the process and WireGuard end-to-end suites
#   make bench  the benchmark executable (release build), see BENCHMARKS.md
#
# Everything is built in release mode: the post-quantum primitives are far too slow unoptimised
# for the tests to finish in reasonable time. `-enable-testing` lets the test targets see internals
# while sharing one build with the executables the end-to-end tests run.

SWIFT        ?= swift
BUILD_FLAGS  ?= -c release -Xswiftc -enable-testing
BIN_DIR       = $(shell $(SWIFT) build $(BUILD_FLAGS) --show-bin-path)
export ROSENPASS_BIN_DIR = $(BIN_DIR)

.PHONY: all build test unit-test integration-test demo bench deps clean

all: build

build:
	$(SWIFT) build $(BUILD_FLAGS)

unit-test: build
	$(SWIFT) test $(BUILD_FLAGS)

integration-test: build deps
	IntegrationTests/run-all.sh

test: unit-test integration-test

deps:
	@scripts/install-test-dependencies.sh

demo: build
	@scripts/demo.sh

bench:
	$(SWIFT) build -c release --product rosenpass-crypto
	$$($(SWIFT) build -c release --show-bin-path)/rosenpass-crypto bench

clean:
	rm -rf .build
