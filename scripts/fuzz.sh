#!/usr/bin/env bash
# Builds the fuzz targets of Fuzzing/ (libFuzzer, AddressSanitizer) and runs each for a while.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     30 s per target by default, every target
#
# Environment:
#   FUZZ_SANITIZE  fuzzer,address (default) or fuzzer (faster, for long runs; see FUZZING.md)
#   FUZZ_JOBS      parallel fuzzing processes per target (default 1)
#   FUZZ_RUNS      stop each target after this many executions instead of after SECONDS
#
# The committed seed corpus is Fuzzing/Corpus/TARGET/ and is only read; what a run adds goes to
# .build-fuzz*/corpus/TARGET/. A crash, a leak or a timeout leaves its input in
# .build-fuzz*/artifacts/TARGET/ and makes the script exit non-zero, naming it; replay it with
#   .build-fuzz/release/TARGET ARTIFACT
# and turn it into a regression test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzDatagrams FuzzBrokerFrames FuzzPrivilegedBroker FuzzConfig FuzzKeyFiles FuzzRPCommandLine FuzzNetlink FuzzHashes FuzzControl)
sanitize=${FUZZ_SANITIZE:-fuzzer,address}
scratch=$root/.build-fuzz
[ "$sanitize" = fuzzer ] && scratch=$root/.build-fuzz-plain

echo "building the fuzz targets (-sanitize=$sanitize) in $scratch" >&2
(cd "$root/Fuzzing" && swift build -c release --scratch-path "$scratch" \
    -Xswiftc "-sanitize=$sanitize" -Xswiftc -parse-as-library -Xswiftc -enable-testing -Xswiftc -use-ld=lld) >&2

failed=()
for target in "${targets[@]}"; do
    corpus=$scratch/corpus/$target
    artifacts=$scratch/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    options=(-max_len=4096 -timeout=10 -print_final_stats=1 "-artifact_prefix=$artifacts/")
    if [ -n "${FUZZ_RUNS:-}" ]; then options+=("-runs=$FUZZ_RUNS"); else options+=("-max_total_time=$seconds"); fi
    # TOMLKit leaks a few hundred bytes per parse (its init never frees its error buffer), which
    # FuzzConfig reaches through its differential oracle; our own leaks are looked for everywhere
    # else. The leak grows a process by about 0.5 GB per million executions, so that target always
    # runs in libFuzzer's fork mode: the work is done by child processes that live a few minutes
    # each, and a long run is not ended by memory. Every other target runs in one process unless
    # FUZZ_JOBS asks for several.
    leaks=1 jobs=${FUZZ_JOBS:-}
    case $target in FuzzConfig) leaks=0 jobs=${jobs:-1} ;; esac
    if [ -n "$jobs" ]; then
        # Fork mode would carry on past a child's out-of-memory or timeout; we want those to stop the run.
        options+=("-fork=$jobs" -ignore_crashes=0 -ignore_ooms=0 -ignore_timeouts=0)
    fi
    log=$scratch/$target.log
    if [ -n "${FUZZ_RUNS:-}" ]; then budget="$FUZZ_RUNS runs"; else budget="$seconds s"; fi
    echo "=== $target ($budget)" >&2
    # SWIFT_BACKTRACE=enable=no: the Swift runtime's crash handler would otherwise take the signal of a
    # fatalError before libFuzzer's, and the input that caused it would not be written out.
    if SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=$leaks:allocator_may_return_null=1" "$scratch/release/$target" "${options[@]}" -rss_limit_mb=4096 \
        "$corpus" "$root/Fuzzing/Corpus/$target" > "$log" 2>&1; then
        # One process ends with "Done N runs"; fork mode's last status line holds the total.
        { grep -E "^stat::number_of_executed_units|^Done" "$log" || grep -E "^#[0-9]+: cov" "$log" | tail -1 || true; } | tr '\n' ' ' >&2
        echo >&2
    else
        echo "FAILED: $target (log: $log)" >&2
        { grep -E "ERROR|Fatal error|SUMMARY|Test unit written" "$log" || true; } | head -5 >&2
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz targets that failed: ${failed[*]}" >&2
    exit 1
fi
echo "every fuzz target ran without a crash" >&2
