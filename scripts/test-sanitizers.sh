#!/usr/bin/env bash
# The unit tests under AddressSanitizer and ThreadSanitizer (make test-sanitizers).
#
#   scripts/test-sanitizers.sh [address] [thread]      both by default
#
# Each sanitizer gets a release build of its own (.build-asan, .build-tsan: the whole package,
# executables included, since the process tests start them), and the unit tests run against it.
# Any sanitizer report fails the run: ASan stops the process at the first one (halt_on_error);
# TSan reports every race it sees and then exits non-zero (halting a process with many threads from
# inside TSan can hang it). scripts/tsan-suppressions.txt lists the runtime's false positives.
#
# Leak detection is off under ASan: the Swift runtime keeps metadata and globals for the life of the
# process, and TOMLKit (the TOML oracle of the tests) leaks on every parse, which drowns a real
# report. Leaks are looked for by the fuzz targets instead (scripts/fuzz.sh), which parse the same
# inputs millions of times.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sanitizers=("$@")
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address thread)

for sanitizer in "${sanitizers[@]}"; do
    case $sanitizer in address | thread) ;; *) echo "unknown sanitizer: $sanitizer (address or thread)" >&2; exit 2 ;; esac
    scratch=$root/.build-${sanitizer:0:1}san
    flags=(-c release -Xswiftc -enable-testing --sanitize="$sanitizer" --scratch-path "$scratch")
    echo "=== $sanitizer sanitizer: building in $scratch" >&2
    start=$(date +%s)
    swift build "${flags[@]}" --build-tests >&2
    echo "=== $sanitizer sanitizer: unit tests (built in $(( $(date +%s) - start )) s)" >&2
    start=$(date +%s)
    status=0
    # Instrumented code runs slower (ThreadSanitizer several times): tests wait longer for processes.
    scale=2
    [ "$sanitizer" = thread ] && scale=5
    ROSENPASS_BIN_DIR=$scratch/release ROSENPASS_TEST_TIME_SCALE=$scale \
        ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1 \
        TSAN_OPTIONS="halt_on_error=0:exitcode=66:suppressions=$root/scripts/tsan-suppressions.txt" \
        swift test "${flags[@]}" --skip-build || status=$?
    if [ $status -ne 0 ]; then
        echo "=== $sanitizer sanitizer: FAILED (status $status) after $(( $(date +%s) - start )) s" >&2
        exit 1
    fi
    echo "=== $sanitizer sanitizer: passed in $(( $(date +%s) - start )) s" >&2
done
