#!/usr/bin/env bash
# Runs every end-to-end suite in this folder (files named test-*.sh), in order.
#
# A suite exits 0 when it passed, 77 when it had to skip (for example: not root), anything else on
# failure. With CI=true a skip counts as a failure, so CI cannot pass without the end-to-end tests.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${ROSENPASS_BIN_DIR:?set ROSENPASS_BIN_DIR to the folder with the built binaries (make test does)}"
failed=() skipped=() passed=()
shopt -s nullglob
for suite in "$here"/test-*.sh; do
    name=$(basename "$suite" .sh)
    echo "=== $name"
    start=$(date +%s)
    "$suite"
    status=$?
    took=$(( $(date +%s) - start ))
    case $status in
        0) passed+=("$name"); echo "=== $name: passed (${took}s)" ;;
        77) skipped+=("$name"); echo "=== $name: SKIPPED (${took}s)" ;;
        *) failed+=("$name"); echo "=== $name: FAILED with status $status (${took}s)" ;;
    esac
done
echo
echo "end-to-end suites: ${#passed[@]} passed, ${#skipped[@]} skipped, ${#failed[@]} failed"
[ ${#skipped[@]} -gt 0 ] && echo "skipped: ${skipped[*]}"
[ ${#failed[@]} -gt 0 ] && { echo "failed: ${failed[*]}"; exit 1; }
if [ ${#skipped[@]} -gt 0 ] && [ "${CI:-}" = "true" ]; then
    echo "CI=true: skipped end-to-end suites count as failures"
    exit 1
fi
exit 0
