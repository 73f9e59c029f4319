#!/usr/bin/env bash
# Every fuzz target (Fuzzing/, libFuzzer with AddressSanitizer) runs for a short while from its seed
# corpus, so that a change that breaks a harness, or a crash a few seconds of fuzzing find, fails
# `make test`. The long runs are documented in FUZZING.md (`make fuzz FUZZ_SECONDS=...`).
#
# Exit 0 = passed, anything else = failed (a crash leaves its input under .build-fuzz/artifacts/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec "$root/scripts/fuzz.sh" "${RP_FUZZ_SMOKE_SECONDS:-30}"
