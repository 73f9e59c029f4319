#!/usr/bin/env bash
# A peer endpoint given as a host name is looked up again when the peer stops answering (dynamic DNS,
# as WireGuard's reresolve-dns does; issue 11 §4).
#
# In a private mount namespace, /etc/hosts is a file of this suite's. In a network namespace with
# loopback only:
#   1. "peer-b.rp-test" resolves to 127.0.0.2, where nothing listens. Daemon A starts with that
#      endpoint and initiates; nobody answers.
#   2. The peer "moves": daemon B (responder only) starts on 127.0.0.3, and the hosts file now says
#      127.0.0.3. A's InitHellos still go to 127.0.0.2.
#   3. After 10 s without an answer A looks the name up again, says that it now resolves to
#      127.0.0.3, sends there, and both hold the same key.
#
# Exit 0 = passed, 77 = skipped (not root, or a tool is missing), anything else = failed.
set -euo pipefail
if [ -z "${RP_DNS_PRIVATE_MOUNTS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null; then
    RP_DNS_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private "$0" "$@"
fi
# shellcheck source=SCRIPTDIR/broker/lib.sh
source "$(dirname "$0")/broker/lib.sh"

require_root
require_tools ip mount getent
require_binaries rosenpass
[ -n "${RP_DNS_PRIVATE_MOUNTS:-}" ] || skip "needs unshare (util-linux) for a private /etc/hosts"

work=$(mktemp -d /tmp/rp-dns.XXXXXX)
on_exit "rm -rf '$work'"
namespace=rp-dns-$$
ip netns add "$namespace"
on_exit "ip netns delete '$namespace'"
ip -n "$namespace" link set lo up

hosts=$work/hosts
printf '127.0.0.1 localhost\n127.0.0.2 peer-b.rp-test\n' > "$hosts"
mount --bind "$hosts" /etc/hosts
[ "$(getent hosts peer-b.rp-test | awk '{ print $1 }')" = 127.0.0.2 ] || fail "the private hosts file is not used"

bin=$ROSENPASS_BIN_DIR/rosenpass
for side in a b; do
    "$bin" gen-keys --public-key "$work/$side.pk" --secret-key "$work/$side.sk" 2> /dev/null || fail "gen-keys $side failed"
done
cat > "$work/a.toml" <<EOF
public_key = "$work/a.pk"
secret_key = "$work/a.sk"
listen = ["127.0.0.1:9996"]
verbosity = "Verbose"

[[peers]]
name = "b"
public_key = "$work/b.pk"
endpoint = "peer-b.rp-test:9996"
key_out = "$work/a.key"
EOF
cat > "$work/b.toml" <<EOF
public_key = "$work/b.pk"
secret_key = "$work/b.sk"
listen = ["127.0.0.3:9996"]

[[peers]]
public_key = "$work/a.pk"
key_out = "$work/b.key"
EOF

log "A starts; peer-b.rp-test is 127.0.0.2, where nobody listens"
ip netns exec "$namespace" "$bin" exchange-config "$work/a.toml" > "$work/a.out" 2> "$work/a.err" &
a_pid=$!
started_pids+=("$a_pid")
show_on_failure=$work/a.err
sleep 2
[ ! -s "$work/a.key" ] || fail "A exchanged a key with nobody"

log "the peer moves to 127.0.0.3 and the name follows it"
printf '127.0.0.1 localhost\n127.0.0.3 peer-b.rp-test\n' > "$hosts"
ip netns exec "$namespace" "$bin" exchange-config "$work/b.toml" > "$work/b.out" 2> "$work/b.err" &
started_pids+=("$!")
start=$(date +%s)
wait_for "[ -s '$work/a.key' ] && [ -s '$work/b.key' ]" 45 || fail "no key within 45 s of the move"
took=$(( $(date +%s) - start ))
grep -q "peer b does not answer; looking peer-b.rp-test up again" "$work/a.err" || fail "A did not say that it looks the name up again"
grep -q "peer b: peer-b.rp-test:9996 now resolves to 127.0.0.3:9996 (was 127.0.0.2:9996); sending there" "$work/a.err" \
    || fail "A did not report the new address"
wait_for "[ \"\$(cat '$work/a.key')\" = \"\$(cat '$work/b.key')\" ]" 10 || fail "A and B hold different keys"
log "A found the peer at its new address and both hold the same key, ${took} s after the move"

kill -TERM "$a_pid"
wait_for "! kill -0 $a_pid 2> /dev/null" 10 || fail "A did not stop"
log "passed"
