#!/usr/bin/env bash
# Constant time, checked by machine: `rosenpass-crypto ct-check` runs Kyber-512 encapsulation and
# decapsulation and Classic McEliece decapsulation (both variants, valid and tampered ciphertexts)
# under valgrind's memcheck with the secrets marked undefined, so any branch or memory address that
# depends on a secret is reported (the "ctgrind" technique). A deliberately leaky control must be
# caught, which shows the check itself works. Guards against the compiler turning masked,
# constant-time code back into branches (it did so during development).
set -uo pipefail
: "${ROSENPASS_BIN_DIR:?}"
tool="$ROSENPASS_BIN_DIR/rosenpass-crypto"

if ! command -v valgrind >/dev/null; then
    echo "SKIP: valgrind is not installed (make test installs it as root)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# valgrind 3.19 cannot read the DWARF 5 debug information Swift emits: check a stripped copy.
cp "$tool" "$work/rosenpass-crypto"
strip --strip-debug "$work/rosenpass-crypto"

echo "--- secret-key operations under memcheck"
if ! valgrind -q --error-exitcode=3 "$work/rosenpass-crypto" ct-check --rounds 2; then
    echo "FAIL: memcheck found secret-dependent branches or addresses (reports above)"
    exit 1
fi

echo "--- leaky control (must be caught)"
valgrind -q --error-exitcode=3 "$work/rosenpass-crypto" ct-check --leaky-control > "$work/control.log" 2>&1
status=$?
if [ "$status" -ne 3 ] || ! grep -q "depends on uninitialised value" "$work/control.log"; then
    cat "$work/control.log"
    echo "FAIL: the deliberately leaky comparison was not reported (exit $status): the check is blind"
    exit 1
fi
echo "leaky control reported, as it must be"
