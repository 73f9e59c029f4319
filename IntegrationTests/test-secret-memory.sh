#!/usr/bin/env bash
# Key material in memory (issue 12): two `rosenpass exchange-config` daemons run as an unprivileged
# user and exchange a key on loopback. Then:
#   * their own user cannot read /proc/PID/mem of a daemon, nor can another user (PR_SET_DUMPABLE 0);
#   * the memory that holds secrets is locked in RAM and marked "do not dump" (smaps flags lo, dd);
#   * a core dump of a daemon (gcore, as root: root may trace it) contains its public key, but
#     neither the key it exchanged (raw or as key_out's base64) nor any piece of its secret key.
#
# Exit 0 = passed, 77 = skipped (not root, or a tool is missing), anything else = failed.
set -euo pipefail
# shellcheck source=SCRIPTDIR/broker/lib.sh
source "$(dirname "$0")/broker/lib.sh"

require_root
require_tools gcore python3 setpriv useradd ip
require_binaries rosenpass

user=rp-secret-mem
other=rp-secret-other
ensure_user "$user"
ensure_user "$other"
work=$(mktemp -d /tmp/rp-secret-memory.XXXXXX)
chmod 0755 "$work"
on_exit "rm -rf '$work'"
namespace=rp-secmem-$$
ip netns add "$namespace"
on_exit "ip netns delete '$namespace'"
ip -n "$namespace" link set lo up

bin=$ROSENPASS_BIN_DIR/rosenpass
for side in a b; do
    mkdir -m 0700 "$work/$side"
    chown "$user:" "$work/$side"
    as_user "$user" "$bin" gen-keys --public-key "$work/$side/pk" --secret-key "$work/$side/sk" 2> /dev/null || fail "gen-keys $side"
done
for side in a b; do
    other_side=$([ "$side" = a ] && echo b || echo a)
    port=$([ "$side" = a ] && echo 9981 || echo 9982)
    peer_port=$([ "$side" = a ] && echo 9982 || echo 9981)
    cp "$work/$other_side/pk" "$work/$side/peer.pk"
    chown "$user:" "$work/$side/peer.pk"
    {
        echo "public_key = \"$work/$side/pk\""
        echo "secret_key = \"$work/$side/sk\""
        echo "listen = [\"127.0.0.1:$port\"]"
        echo "[[peers]]"
        echo "public_key = \"$work/$side/peer.pk\""
        [ "$side" = b ] && echo "endpoint = \"127.0.0.1:$peer_port\""
        echo "key_out = \"$work/$side/key\""
    } > "$work/$side/config.toml"
    ip netns exec "$namespace" setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all -- \
        "$bin" exchange-config "$work/$side/config.toml" > "$work/$side.out" 2> "$work/$side.err" &
    started_pids+=("$!")
    eval "pid_$side=$!"
done
show_on_failure=$work/a.err
wait_for "[ -s '$work/a/key' ] && [ -s '$work/b/key' ]" 30 || fail "no key was exchanged"
# shellcheck disable=SC2154
pid=$pid_a
log "a key was exchanged; daemon a is pid $pid"

for reader in "$user" "$other"; do
    if setpriv --reuid="$reader" --regid="$reader" --init-groups -- \
        python3 -c "open('/proc/$pid/mem', 'rb').read(1)" 2> /dev/null; then
        fail "$reader could open /proc/$pid/mem of a daemon"
    fi
done
log "neither the daemon's own user nor another can read its memory"

flags=$(awk '/^VmFlags:/' "/proc/$pid/smaps" | grep -c ' lo .* dd\| dd .* lo' || true)
[ "$flags" -ge 1 ] || fail "no mapping of the daemon is both locked (lo) and left out of dumps (dd)"
log "$flags mapping(s) of secret memory are locked and left out of core dumps"

gcore -o "$work/core" "$pid" > /dev/null 2>&1 || fail "gcore could not dump the daemon"
python3 - "$work/core.$pid" "$work/a/key" "$work/a/sk" "$work/a/pk" <<'EOF' || fail "key material found in the core dump"
import base64, sys
core = open(sys.argv[1], "rb").read()
key = base64.b64decode(open(sys.argv[2]).read())
secret = open(sys.argv[3], "rb").read()
public = open(sys.argv[4], "rb").read()
assert core.find(public[4096:4128]) >= 0, "the public key is not in the dump: the search does not work"
found = []
if core.find(key) >= 0:
    found.append("the exchanged key")
if core.find(base64.b64encode(key)) >= 0:
    found.append("the exchanged key in base64, as key_out holds it")
# Every 32-byte piece of the secret key that looks random: some layers of the control bits are all
# zero, and a run of zeros is in every dump.
pieces = [offset for offset in range(0, len(secret) - 32, 32) if len(set(secret[offset:offset + 32])) >= 16]
assert len(pieces) > 300, f"only {len(pieces)} pieces of the secret key look random"
for offset in pieces:
    if core.find(secret[offset:offset + 32]) >= 0:
        found.append(f"secret key bytes {offset}..{offset + 32}")
        break
if found:
    print("found in the core dump:", ", ".join(found), file=sys.stderr)
    sys.exit(1)
EOF
log "the core dump holds the public key but neither the exchanged key nor the secret key"
log "passed"
