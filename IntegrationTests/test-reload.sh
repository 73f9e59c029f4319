#!/usr/bin/env bash
# Peers added, changed and removed without a restart: `rosenpass reload` and SIGHUP against real
# daemons on loopback (docs/control-socket.md, "Reloading"). Alice answers; bob and carol initiate.
#   1. unchanged peers are left alone: reloads (one by SIGHUP) keep bob's session, key file and
#      counters, and a handshake that runs while alice reloads over and over completes with equal keys;
#   2. carol is added to alice's file: after the reload carol's first handshake gives both one key;
#   3. bob's entry changes (another key_out): bob is restarted inside alice (its old key_out gets a
#      random key, announced as stale), and its next handshake writes the new key_out;
#   4. carol is removed: her key_out gets a random key (stale), and her next InitHello is dropped as
#      from an unknown peer;
#   5. `peer add` and `peer remove`: a peer added without --persist works and is gone after a reload;
#      with --persist the file gains and loses its entry (and still validates), and reloads agree;
#   6. a broken file changes nothing: `reload` fails with the file, line and problem, and the peers run on.
# Needs no root. Exit 0 = passed, anything else = failed.
set -euo pipefail
# shellcheck source=SCRIPTDIR/broker/lib.sh
source "$(dirname "$0")/broker/lib.sh"

require_binaries rosenpass
rosenpass=$ROSENPASS_BIN_DIR/rosenpass
work=$(mktemp -d /tmp/rp-reload.XXXXXX)
on_exit "rm -rf '$work'"
port=$((20000 + RANDOM % 40000))
while grep -qi ":$(printf '%04X' "$port") " /proc/net/udp /proc/net/udp6; do port=$((20000 + RANDOM % 40000)); done
for name in alice bob carol; do "$rosenpass" gen-keys --secret-key "$work/$name.sk" --public-key "$work/$name.pk" 2> /dev/null; done

alice_config() { # the [[peers]] sections, after the top
    cat > "$work/alice.toml.new" << EOF
public_key = "$work/alice.pk"
secret_key = "$work/alice.sk"
listen = ["127.0.0.1:$port"]
control_socket = "$work/alice.sock"
$1
EOF
    mv "$work/alice.toml.new" "$work/alice.toml"
}
peer_section() { # NAME KEY_OUT
    printf '\n[[peers]]\nname = "%s"\npublic_key = "%s"\nkey_out = "%s"\n' "$1" "$work/$1.pk" "$2"
}
initiator_config() { # NAME
    cat > "$work/$1.toml" << EOF
public_key = "$work/$1.pk"
secret_key = "$work/$1.sk"
listen = []

[[peers]]
name = "alice"
public_key = "$work/alice.pk"
endpoint = "127.0.0.1:$port"
key_out = "$work/$1-side.key"
EOF
}
declare -A pid
start() { # NAME
    "$rosenpass" exchange-config "$work/$1.toml" >> "$work/$1.out" 2>> "$work/$1.err" &
    pid[$1]=$!
    on_exit "kill ${pid[$1]} 2> /dev/null || true"
}
stop() {
    kill "${pid[$1]}" 2> /dev/null || true
    wait "${pid[$1]}" 2> /dev/null || true
}
status_json() { "$rosenpass" status --socket "$work/alice.sock" --json; }
peer_field() { # NAME FIELD: a field of one peer in alice's status ('' when the peer is not there)
    status_json | python3 -c "
import json, sys
peers = [p for p in json.load(sys.stdin)['peers'] if p['name'] == '$1']
print(peers[0]['$2'] if peers else '')"
}
same_key() { [ -s "$1" ] && [ -s "$2" ] && cmp -s "$1" "$2"; }

alice_config "$(peer_section bob "$work/alice-bob.key")"
initiator_config bob
initiator_config carol
start alice
start bob
wait_for "same_key '$work/alice-bob.key' '$work/bob-side.key'" 20 || fail "no first key with bob: $(cat "$work"/*.err)"

log "1. unchanged peers are left alone"
before_key=$(cat "$work/alice-bob.key")
before_completed=$(peer_field bob handshakes_completed)
"$rosenpass" reload --socket "$work/alice.sock" > "$work/reload.out" || fail "reload failed: $(cat "$work/reload.out")"
grep -q "1 peer unchanged, 0 added, 0 removed, 0 changed" "$work/reload.out" || fail "unexpected answer: $(cat "$work/reload.out")"
kill -HUP "${pid[alice]}"
wait_for "grep -c 'configuration reloaded from' '$work/alice.err' | grep -q 2" 10 || fail "SIGHUP did not reload: $(tail -3 "$work/alice.err")"
[ "$(cat "$work/alice-bob.key")" = "$before_key" ] || fail "a reload changed bob's key file"
[ "$(peer_field bob handshakes_completed)" = "$before_completed" ] || fail "a reload reset bob's counters"
age=$(peer_field bob last_exchange_seconds_ago)
python3 -c "import sys; sys.exit(0 if $age > 0 else 1)" || fail "bob's last exchange was reset ($age s)"
# A handshake under a stream of reloads: bob restarts (its first InitHello goes out at once).
( for _ in $(seq 1 40); do "$rosenpass" reload --socket "$work/alice.sock" > /dev/null || exit 1; done ) &
reloads=$!
stop bob
start bob
wait_for "[ \"\$(cat '$work/alice-bob.key')\" != '$before_key' ] && same_key '$work/alice-bob.key' '$work/bob-side.key'" 30 \
    || fail "the handshake during reloads did not give equal keys"
wait "$reloads" || fail "a reload failed during the handshake"
[ "$(peer_field bob handshakes_completed)" = $((before_completed + 1)) ] || fail "bob's handshake count is not one more"

log "2. carol added"
alice_config "$(peer_section bob "$work/alice-bob.key")$(peer_section carol "$work/alice-carol.key")"
"$rosenpass" reload -c "$work/alice.toml" > "$work/reload.out" || fail "reload failed: $(cat "$work/reload.out")"
grep -q "1 peer unchanged, 1 added, 0 removed, 0 changed; added: carol" "$work/reload.out" || fail "unexpected answer: $(cat "$work/reload.out")"
start carol
wait_for "same_key '$work/alice-carol.key' '$work/carol-side.key'" 20 || fail "no key with the added carol: $(tail -5 "$work/alice.err")"

log "3. bob's entry changed"
stale_before=$(grep -c "stale" "$work/alice.out" || true)
alice_config "$(peer_section bob "$work/alice-bob-2.key")$(peer_section carol "$work/alice-carol.key")"
"$rosenpass" reload --socket "$work/alice.sock" > "$work/reload.out" || fail "reload failed: $(cat "$work/reload.out")"
grep -q "1 peer unchanged, 0 added, 0 removed, 1 changed; changed, started afresh: bob" "$work/reload.out" || fail "unexpected answer: $(cat "$work/reload.out")"
grep -q "key-file \"$work/alice-bob.key\" stale" "$work/alice.out" || fail "bob's old key_out was not marked stale"
! same_key "$work/alice-bob.key" "$work/bob-side.key" || fail "bob's old key_out still holds the exchanged key"
[ "$(peer_field bob handshakes_completed)" = 0 ] || fail "the changed bob kept its counters"
stop bob
start bob
wait_for "same_key '$work/alice-bob-2.key' '$work/bob-side.key'" 20 || fail "no key with the changed bob"
[ "$(grep -c stale "$work/alice.out")" = $((stale_before + 1)) ] || fail "expected exactly one stale line"

log "4. carol removed"
alice_config "$(peer_section bob "$work/alice-bob-2.key")"
"$rosenpass" reload --socket "$work/alice.sock" > "$work/reload.out" || fail "reload failed: $(cat "$work/reload.out")"
grep -q "1 peer unchanged, 0 added, 1 removed, 0 changed; removed: carol" "$work/reload.out" || fail "unexpected answer: $(cat "$work/reload.out")"
grep -q "key-file \"$work/alice-carol.key\" stale" "$work/alice.out" || fail "carol's key_out was not marked stale"
[ -z "$(peer_field carol name)" ] || fail "carol is still in the status"
stop carol
start carol
wait_for "status_json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"datagrams\"][\"dropped\"].get(\"unknown_peer\", 0) > 0 else 1)'" 20 \
    || fail "carol's InitHello was not dropped as from an unknown peer"

log "5. peer add and peer remove, with and without --persist"
carol_entry=$(peer_section carol "$work/alice-carol.key" | tail -n +3)
printf '%s\n' "$carol_entry" | "$rosenpass" peer add --socket "$work/alice.sock" > "$work/peer.out" || fail "peer add failed: $(cat "$work/peer.out")"
grep -q "peer carol added (not in the configuration file" "$work/peer.out" || fail "unexpected answer: $(cat "$work/peer.out")"
rm -f "$work/alice-carol.key"
stop carol
start carol
wait_for "same_key '$work/alice-carol.key' '$work/carol-side.key'" 20 || fail "no key with carol added by peer add"
"$rosenpass" reload --socket "$work/alice.sock" > "$work/reload.out" || fail "reload failed"
grep -q "removed: carol" "$work/reload.out" || fail "a reload did not remove the unpersisted carol: $(cat "$work/reload.out")"
printf '%s\n' "$carol_entry" > "$work/carol-entry.toml"
"$rosenpass" peer add --persist --socket "$work/alice.sock" "$work/carol-entry.toml" > "$work/peer.out" || fail "peer add --persist failed: $(cat "$work/peer.out")"
grep -q "name = \"carol\"" "$work/alice.toml" || fail "carol was not appended to alice.toml"
"$rosenpass" validate "$work/alice.toml" 2> /dev/null || fail "alice.toml no longer validates after peer add --persist"
"$rosenpass" reload --socket "$work/alice.sock" > "$work/reload.out" || fail "reload failed"
grep -q "2 peers unchanged, 0 added, 0 removed, 0 changed" "$work/reload.out" || fail "the persisted carol is not unchanged: $(cat "$work/reload.out")"
if "$rosenpass" peer add --socket "$work/alice.sock" "$work/carol-entry.toml" > /dev/null 2> "$work/peer.err"; then fail "carol was added twice"; fi
grep -q "already configured" "$work/peer.err" || fail "unclear message: $(cat "$work/peer.err")"
"$rosenpass" peer remove --persist --socket "$work/alice.sock" carol > "$work/peer.out" || fail "peer remove failed: $(cat "$work/peer.out")"
! grep -q "carol" "$work/alice.toml" || fail "carol is still in alice.toml"
"$rosenpass" validate "$work/alice.toml" 2> /dev/null || fail "alice.toml no longer validates after peer remove --persist"
"$rosenpass" reload --socket "$work/alice.sock" > "$work/reload.out" || fail "reload failed"
grep -q "1 peer unchanged, 0 added, 0 removed, 0 changed" "$work/reload.out" || fail "unexpected answer: $(cat "$work/reload.out")"
if "$rosenpass" peer remove --socket "$work/alice.sock" nobody > /dev/null 2> "$work/peer.err"; then fail "removed nobody"; fi
grep -q "no configured peer has the name" "$work/peer.err" || fail "unclear message: $(cat "$work/peer.err")"

log "6. a broken file changes nothing"
echo "this is = = not toml" >> "$work/alice.toml"
if "$rosenpass" reload --socket "$work/alice.sock" > "$work/reload.out" 2> "$work/reload.err"; then fail "a broken file reloaded"; fi
grep -q "alice.toml:.*nothing was changed" "$work/reload.err" || fail "unclear message: $(cat "$work/reload.err")"
[ "$(status_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["peers"]))')" = 1 ] || fail "the peers changed"
kill -0 "${pid[alice]}" || fail "alice died"
log "passed"
