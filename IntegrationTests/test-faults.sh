#!/usr/bin/env bash
# Faults around two running daemons, and what each must do: no crash, a clear log line, and the
# same key on both sides again within one handshake after the fault ends.
#
# In a network namespace with loopback only: A answers (no endpoint for B), B initiates. A's key_out
# lies on a 64 KiB tmpfs of its own (a private mount namespace).
#   1. B is killed with SIGKILL and started again: its first handshake gives both a new, equal key.
#   2. A is killed with SIGKILL and started again: it erases nothing it cannot (its key file stays),
#      answers B's next handshake, and both hold the same new key.
#   3. A's key_out becomes a directory: the next exchange is logged as an error naming the path and
#      A keeps running; once the directory is gone, the next exchange writes the key again.
#   4. A's key_out file system is full: the next exchange is logged as an error (no space), the old
#      key file is left whole (written atomically, never truncated), A keeps running; once there is
#      room, the next exchange writes the key.
# An exchange is brought on by restarting B (a new initiator starts at once), so no step waits for
# the two-minute rekey. (The privileged broker and the socket handler killed with SIGKILL are in
# test-wireguard-e2e.sh; a restarted responder-only daemon with WireGuard there too; the clock that
# keeps counting across suspend is a unit test, SuspendTests.)
#
# Exit 0 = passed, 77 = skipped (not root, or a tool is missing), anything else = failed.
set -euo pipefail
if [ -z "${RP_FAULTS_PRIVATE_MOUNTS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null; then
    RP_FAULTS_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private "$0" "$@"
fi
# shellcheck source=SCRIPTDIR/broker/lib.sh
source "$(dirname "$0")/broker/lib.sh"

require_root
require_tools ip mount dd
require_binaries rosenpass
[ -n "${RP_FAULTS_PRIVATE_MOUNTS:-}" ] || skip "needs unshare (util-linux) for a private tmpfs"

work=$(mktemp -d /tmp/rp-faults.XXXXXX)
on_exit "rm -rf '$work'"
namespace=rp-faults-$$
ip netns add "$namespace"
on_exit "ip netns delete '$namespace'"
ip -n "$namespace" link set lo up
mkdir "$work/small"
mount -t tmpfs -o size=64k,mode=0700 rp-faults "$work/small"
on_exit "umount '$work/small'"

bin=$ROSENPASS_BIN_DIR/rosenpass
for side in a b; do
    "$bin" gen-keys --public-key "$work/$side.pk" --secret-key "$work/$side.sk" 2> /dev/null || fail "gen-keys $side failed"
done
a_key=$work/small/a.key
cat > "$work/a.toml" << EOF
public_key = "$work/a.pk"
secret_key = "$work/a.sk"
listen = ["127.0.0.1:9995"]

[[peers]]
name = "b"
public_key = "$work/b.pk"
key_out = "$a_key"
EOF
cat > "$work/b.toml" << EOF
public_key = "$work/b.pk"
secret_key = "$work/b.sk"
listen = []

[[peers]]
name = "a"
public_key = "$work/a.pk"
endpoint = "127.0.0.1:9995"
key_out = "$work/b.key"
EOF

declare -A pid
start() { # SIDE
    ip netns exec "$namespace" "$bin" exchange-config "$work/$1.toml" >> "$work/$1.out" 2>> "$work/$1.err" &
    pid[$1]=$!
    started_pids+=("${pid[$1]}")
}
forget() { # PID: reaped, so the clean-up must not signal it (the number may be reused)
    local kept=() started
    for started in "${started_pids[@]}"; do [ "$started" = "$1" ] || kept+=("$started"); done
    started_pids=("${kept[@]}")
}
crash() { # SIDE: SIGKILL, as a crash or the OOM killer would
    kill -KILL "${pid[$1]}"
    wait "${pid[$1]}" 2> /dev/null || true
    forget "${pid[$1]}"
}
alive() { kill -0 "${pid[a]}" 2> /dev/null || fail "A is not running any more"; }
same_keys() { [ -s "$a_key" ] && [ -s "$work/b.key" ] && [ "$(cat "$a_key")" = "$(cat "$work/b.key")" ]; }
# Waits for B's key to change from $1 and for A's to match it.
new_equal_keys() { # OLD_B_KEY SECONDS
    wait_for "[ -s '$work/b.key' ] && [ \"\$(cat '$work/b.key')\" != '$1' ] && same_keys" "$2"
}
# Waits for B to hold a key other than $1 (A may or may not have it).
b_rekeyed() { wait_for "[ -s '$work/b.key' ] && [ \"\$(cat '$work/b.key')\" != '$1' ]" "$2"; }
show_on_failure=$work/a.err

log "both daemons start; the first exchange"
start a
start b
wait_for same_keys 30 || fail "no equal keys within 30 s of the start"
first=$(cat "$work/b.key")

log "1. B killed with SIGKILL and started again"
crash b
start b
new_equal_keys "$first" 15 || fail "no new equal key within 15 s of B's restart"
alive
log "   equal keys again, from B's first handshake after the restart"

log "2. A killed with SIGKILL and started again"
before=$(cat "$work/b.key")
crash a
[ "$(cat "$a_key")" = "$before" ] || fail "A's key file changed when A was killed"
start a
wait_for "grep -c 'listening on 127.0.0.1:9995' '$work/a.err' | grep -qx 2" 10 || fail "A did not start again"
crash b
start b
new_equal_keys "$before" 15 || fail "no new equal key within 15 s of A's restart"
log "   the restarted A answers, and both hold the same new key"

log "3. A's key_out becomes a directory"
before=$(cat "$work/b.key")
rm "$a_key"
mkdir "$a_key"
crash b
start b
b_rekeyed "$before" 15 || fail "B exchanged no new key"
wait_for "grep -q 'peer b: the exchanged key could not be written to key_out $a_key, which keeps its previous content: .*it is a folder' '$work/a.err'" 10 \
    || fail "A did not log an error naming its key_out and saying it is a directory: $(grep 'peer b: ' "$work/a.err" | tail -1)"
alive
rmdir "$a_key"
before=$(cat "$work/b.key")
crash b
start b
new_equal_keys "$before" 15 || fail "no equal key within 15 s once the directory was gone"
log "   an error naming the path, A kept running, and the key file is back once the directory is gone"

log "4. A's key_out file system is full"
before=$(cat "$work/b.key")
dd if=/dev/zero of="$work/small/filler" bs=1k count=128 2> /dev/null || true  # fills it (dd stops at ENOSPC)
crash b
start b
b_rekeyed "$before" 15 || fail "B exchanged no new key"
wait_for "grep -q 'peer b: the exchanged key could not be written to key_out $a_key, .*No space left on device' '$work/a.err'" 10 || fail "A did not log that its disk is full: $(grep 'peer b: ' "$work/a.err" | tail -1)"
[ "$(cat "$a_key")" = "$before" ] || fail "A's key file was damaged on the full disk (it must keep the old key whole)"
alive
rm "$work/small/filler"
before=$(cat "$work/b.key")
crash b
start b
new_equal_keys "$before" 15 || fail "no equal key within 15 s once there was room"
log "   an error saying the disk is full, the old key file whole, and the key written once there is room"

for side in a b; do
    kill -TERM "${pid[$side]}"
    wait "${pid[$side]}" 2> /dev/null || true
    forget "${pid[$side]}"
done
grep -q 'Fatal error\|Segmentation' "$work/a.err" "$work/b.err" && fail "a daemon crashed"
log "passed"
