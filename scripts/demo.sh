#!/usr/bin/env bash
# make demo: two rosenpass daemons exchange a post-quantum key on this machine.
#
# Makes a key pair for "alice" and one for "bob" in a temporary folder, writes a configuration for
# each (alice listens on 127.0.0.1, bob knows where alice is), starts both daemons, waits for the
# first key exchange, shows that both key files hold the same key, then stops the daemons and
# removes the folder. Needs the release build (make demo runs it first).
set -euo pipefail

bin_dir=${ROSENPASS_BIN_DIR:-$(cd "$(dirname "$0")/.." && swift build -c release --show-bin-path)}
rosenpass="$bin_dir/rosenpass"
if [ ! -x "$rosenpass" ]; then
    echo "demo: $rosenpass is missing; run 'make build' first" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rosenpass-demo.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A UDP port nobody on this machine is bound to (from /proc/net/udp*, where ports are hex).
free_port() {
    local port hex
    while :; do
        port=$(( 20000 + RANDOM % 40000 ))
        hex=$(printf ':%04X ' "$port")
        if ! cat /proc/net/udp /proc/net/udp6 2>/dev/null | grep -q "$hex"; then
            echo "$port"
            return
        fi
    done
}

if [ -t 1 ]; then bold=$'\033[1m' green=$'\033[32m' plain=$'\033[0m'; else bold='' green='' plain=''; fi
step() { printf '\n%s%s%s\n' "$bold" "$*" "$plain"; }

step "1. Key pairs (Classic McEliece 460896; the secret key is written with mode 0600)"
for name in alice bob; do
    start=$(date +%s%N)
    if ! output=$("$rosenpass" gen-keys --secret-key "$work/$name.sk" --public-key "$work/$name.pk" 2>&1); then
        echo "$output" >&2
        exit 1
    fi
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    printf '  %-6s %s (mode %s, %s bytes), %s (%s bytes), in %d.%d s\n' "$name:" "$name.sk" \
        "$(stat -c %a "$work/$name.sk")" "$(stat -c %s "$work/$name.sk")" "$name.pk" "$(stat -c %s "$work/$name.pk")" \
        $((ms / 1000)) $((ms % 1000 / 100))
done

port=$(free_port)
step "2. Configurations: alice listens on 127.0.0.1:$port, bob starts the handshakes"
cat > "$work/alice.toml" <<EOF
public_key = "$work/alice.pk"
secret_key = "$work/alice.sk"
listen = ["127.0.0.1:$port"]
verbosity = "Quiet"

[[peers]]
public_key = "$work/bob.pk"
key_out = "$work/alice-shared.key"
EOF
cat > "$work/bob.toml" <<EOF
public_key = "$work/bob.pk"
secret_key = "$work/bob.sk"
listen = []
verbosity = "Quiet"

[[peers]]
public_key = "$work/alice.pk"
endpoint = "127.0.0.1:$port"
key_out = "$work/bob-shared.key"
EOF
if ! output=$("$rosenpass" validate "$work/alice.toml" "$work/bob.toml" 2>&1); then
    echo "$output" >&2
    exit 1
fi
echo "  both pass 'rosenpass validate'"

step "3. Two daemons (rosenpass exchange-config FILE), waiting for the first exchange"
"$rosenpass" exchange-config "$work/alice.toml" > "$work/alice.out" 2> "$work/alice.err" &
pids+=($!)
"$rosenpass" exchange-config "$work/bob.toml" > "$work/bob.out" 2> "$work/bob.err" &
pids+=($!)
for _ in $(seq 1 300); do
    if grep -q exchanged "$work/alice.out" && grep -q exchanged "$work/bob.out"; then break; fi
    for pid in "${pids[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "demo: a daemon stopped early:" >&2
            cat "$work/alice.err" "$work/bob.err" >&2
            exit 1
        fi
    done
    sleep 0.1
done
if ! grep -q exchanged "$work/alice.out" || ! grep -q exchanged "$work/bob.out"; then
    echo "demo: no key exchange within 30 seconds" >&2
    cat "$work/alice.err" "$work/bob.err" >&2
    exit 1
fi
echo "  alice's stdout: $(head -n 1 "$work/alice.out" | sed "s#$work/##")"
echo "  bob's stdout:   $(head -n 1 "$work/bob.out" | sed "s#$work/##")"

step "4. The key each side wrote (base64, mode 0600; WireGuard would get it as its pre-shared key)"
alice_key=$(cat "$work/alice-shared.key")
bob_key=$(cat "$work/bob-shared.key")
echo "  alice: $alice_key"
echo "  bob:   $bob_key"
if [ "$alice_key" != "$bob_key" ]; then
    echo "demo: the keys differ" >&2
    exit 1
fi

step "5. Stopping the daemons"
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
pids=()
if [ "$status" -ne 0 ]; then
    echo "demo: a daemon exited with status $status" >&2
    exit 1
fi
echo "  both exited cleanly (left running, they would agree on a new key every two minutes)"
printf '\n%sBoth peers hold the same post-quantum key.%s\n' "$green" "$plain"
