#!/usr/bin/env bash
# `make demo` end to end: two rosenpass daemons on loopback agree on a key (scripts/demo.sh), and the
# demo cleans up after itself (no daemon left running, no temporary folder left behind).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${ROSENPASS_BIN_DIR:?set ROSENPASS_BIN_DIR to the folder with the built binaries (make test does)}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! TMPDIR="$tmp" "$here/../scripts/demo.sh" > "$tmp/demo.log" 2>&1; then
    echo "FAIL: scripts/demo.sh failed:"
    cat "$tmp/demo.log"
    exit 1
fi
grep -q "Both peers hold the same post-quantum key." "$tmp/demo.log" || { echo "FAIL: no success line"; cat "$tmp/demo.log"; exit 1; }
lines=$(grep -c "output-key peer [A-Za-z0-9+/]\{43\}= key-file \".*\" exchanged" "$tmp/demo.log")
[ "$lines" -eq 2 ] || { echo "FAIL: expected both daemons' output-key lines, found $lines"; cat "$tmp/demo.log"; exit 1; }
if [ -n "$(ls -A "$tmp")" ] && [ "$(ls -A "$tmp")" != "demo.log" ]; then
    echo "FAIL: the demo left files behind: $(ls -A "$tmp")"
    exit 1
fi
if pgrep -f "$tmp/rosenpass-demo" > /dev/null; then
    echo "FAIL: a demo daemon is still running"
    exit 1
fi
echo "demo: passed"
