#!/usr/bin/env bash
# End to end for `rp` (docs/components.md §8, §9 items 10 and 13): two hosts, "alice" and "bob", are two
# network namespaces joined by a veth pair (192.168.78.1 and .2). On each, `rp genkey` and `rp pubkey`
# make the key folders; then `rp exchange` runs on both:
#
#   alice: rp verbose exchange alice.private dev rp-alice ip 10.78.0.1/32 listen 192.168.78.1:9999 \
#              peer bob.public allowed-ips 10.78.0.2/32,fd78::2/128
#   bob:   rp exchange-config bob.toml, the same as
#          rp exchange bob.private dev rp-bob ip 10.78.0.2/32 \
#              peer alice.public endpoint 192.168.78.1:9999 persistent-keepalive 5 allowed-ips 10.78.0.1,fd78::1
#
# This host's kernel may have no WireGuard; then rp starts wireguard-go itself (the fallback), and
# the suite checks that it says so. The addresses are /32, so the tunnel is only reachable through
# the routes rp adds per allowed-ips entry (the reference passed the comma-separated list to
# `ip route` unchanged, which failed silently).
#
# Asserts:
#   * genkey/pubkey make the §8.2 folders (0700 folder, 0600 secrets, pqpk copied byte for byte,
#     wgpk = `wg pubkey` of wgsk); a second genkey keeps the keys;
#   * smoke: bare `rp` and `rp exchange <missing folder>` / `rp exchange-config <missing file>` fail
#     with status 1; `rp help`, `--help` and `-h` print every command, `rp --version` that of rosenpass;
#   * each interface has rp's private key, WireGuard port = Rosenpass port + 1 (alice: 10000), the
#     peer with its endpoint (Rosenpass port + 1) and allowed IPs, and a route per allowed-ips entry;
#   * within 20 s both interfaces hold the same PSK for each other (`wg show DEV preshared-keys`);
#   * pings cross the tunnel both ways over the configured addresses;
#   * with wireguard-go: a stale UAPI socket left at alice's socket path (as a SIGKILLed
#     wireguard-go leaves it) does not stop her rp, which then serves a live socket there; a second
#     rp for the same name in bob's namespace (which shares /run/wireguard) is refused with "a
#     WireGuard interface rp-alice already exists" and leaves alice's interface alone;
#   * SIGHUP (the terminal closed) ends alice's rp and SIGTERM bob's, both with status 0, and the
#     interfaces, UAPI sockets and wireguard-go processes are gone.
#
# Exit 0 = passed, 77 = skipped (not root, or a tool is missing), anything else = failed.
# RP_TEST_KEEP=1 keeps the work folder (keys, logs) for inspection.
set -euo pipefail
# A private mount namespace: /run/wireguard becomes a scratch mount, so the host's userspace
# WireGuard sockets are neither seen nor touched.
if [ -z "${RP_TEST_PRIVATE_MOUNTS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null; then
    RP_TEST_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private "$0" "$@"
fi
# shellcheck source=SCRIPTDIR/broker/lib.sh
source "$(dirname "$0")/broker/lib.sh"

require_root
require_tools ip wg wireguard-go ping mount stat cmp python3 timeout
require_binaries rp
[ -n "${RP_TEST_PRIVATE_MOUNTS:-}" ] || skip "needs unshare (util-linux) for a private /run/wireguard"
rp=$ROSENPASS_BIN_DIR/rp

work=$(mktemp -d /tmp/rp-e2e.XXXXXX)
on_exit "[ -n \"\${RP_TEST_KEEP:-}\" ] || rm -rf '$work'"
mkdir -p /run/wireguard
mount -t tmpfs -o mode=0700 rp-e2e /run/wireguard

declare -A ns dev pid
show_logs() {
    local host
    for host in alice bob; do
        [ -s "$work/$host.log" ] || continue
        echo "--- $host's rp (last 20 lines)" >&2
        tail -20 "$work/$host.log" >&2
    done
}
fail() { echo "FAIL: $*" >&2; show_logs; exit 1; }

# --- the command line (smoke, §9 item 10) -------------------------------------------------------
log "command line"
status=0; "$rp" > /dev/null 2> "$work/bare.err" || status=$?
[ $status -eq 1 ] || fail "bare rp exited $status, expected 1"
grep -q '^No command supplied$' "$work/bare.err" || fail "bare rp: $(cat "$work/bare.err")"
grep -q '^Usage: rp ' "$work/bare.err" || fail "bare rp printed no usage line"
for word in help --help -h; do
    "$rp" $word > "$work/help.out" || fail "rp $word exited $?"
    head -1 "$work/help.out" | grep -qx 'Usage: rp \[verbose\] genkey|pubkey|exchange|exchange-config \[ARGS\]\.\.\.' || fail "rp $word: $(head -3 "$work/help.out")"
    grep -q '^  exchange-config CONFIG_FILE' "$work/help.out" || fail "rp $word omits exchange-config"
done
[ "$("$rp" --version)" = "$("$ROSENPASS_BIN_DIR/rosenpass" --version)" ] || fail "rp --version differs from rosenpass --version"
status=0; "$rp" exchange "$work/missing" 2> "$work/missing.err" || status=$?
[ $status -eq 1 ] || fail "rp exchange <missing folder> exited $status: $(cat "$work/missing.err")"
grep -q "$work/missing" "$work/missing.err" || fail "rp exchange <missing folder> does not name it: $(cat "$work/missing.err")"
status=0; "$rp" exchange-config "$work/missing.toml" 2> "$work/missing.err" || status=$?
[ $status -eq 1 ] || fail "rp exchange-config <missing file> exited $status"
status=0; "$rp" exchange-config / 2> "$work/dir.err" || status=$?
if [ $status -ne 1 ] || ! grep -q 'Is a directory (os error 21)' "$work/dir.err"; then fail "rp exchange-config /: $(cat "$work/dir.err")"; fi
printf 'verbose = true\nprivate_keys_dir = "k"\npeers = []\nlisten_port = 1\n' > "$work/bad.toml"
status=0; "$rp" exchange-config "$work/bad.toml" 2> "$work/bad.err" || status=$?
if [ $status -ne 1 ] || ! grep -qF "$work/bad.toml:4: unknown key 'listen_port'" "$work/bad.err"; then fail "an unknown key was not refused: $(cat "$work/bad.err")"; fi
status=0; "$rp" exchange "$work/x" listen 192.0.2.1:65535 2> "$work/port.err" || status=$?
if [ $status -ne 1 ] || ! grep -q 65535 "$work/port.err"; then fail "listen port 65535 was not refused: $(cat "$work/port.err")"; fi

# --- keys (§8.2) ----------------------------------------------------------------------------------
log "rp genkey / rp pubkey"
for host in alice bob; do
    (umask 022; "$rp" genkey "$work/$host.private") || fail "rp genkey $host"
    "$rp" pubkey "$work/$host.private" "$work/$host.public" || fail "rp pubkey $host"
done
[ "$(stat -c %a "$work/alice.private")" = 700 ] || fail "the private folder is not 0700"
for file in wgsk pqsk; do
    [ "$(stat -c %a "$work/alice.private/$file")" = 600 ] || fail "$file is not 0600"
done
cmp -s "$work/alice.private/pqpk" "$work/alice.public/pqpk" || fail "pqpk is not copied byte for byte"
[ "$(wg pubkey < "$work/alice.private/wgsk")" = "$(cat "$work/alice.public/wgpk")" ] || fail "wgpk is not wg pubkey of wgsk"
before=$(sha256sum "$work/alice.private/"*)
"$rp" genkey "$work/alice.private" 2> "$work/regen.err" || fail "rp genkey on an existing 0700 folder failed: $(cat "$work/regen.err")"
grep -q 'not regenerating' "$work/regen.err" || fail "a second genkey did not say it keeps the keys"
[ "$before" = "$(sha256sum "$work/alice.private/"*)" ] || fail "a second genkey changed the keys"
status=0; "$rp" pubkey "$work/alice.private" "$work/alice.public" 2> /dev/null || status=$?
[ $status -eq 1 ] || fail "rp pubkey into an existing folder did not fail"

# --- two hosts --------------------------------------------------------------------------------------
log "namespaces"
ns[alice]=rp-alice-$$
ns[bob]=rp-bob-$$
dev[alice]="rp-alice"
dev[bob]="rp-bob"
for host in alice bob; do
    ip netns add "${ns[$host]}"
    on_exit "ip netns delete '${ns[$host]}'"
    # On failure: whatever of ours still runs in the namespace (rp got SIGTERM first and normally
    # stops its wireguard-go itself).
    on_exit "sleep 0.5; ip netns pids '${ns[$host]}' | xargs -r kill -KILL"
    ip -n "${ns[$host]}" link set lo up
done
ip -n "${ns[alice]}" link add veth0 type veth peer name veth0 netns "${ns[bob]}"
ip -n "${ns[alice]}" address add 192.168.78.1/24 dev veth0
ip -n "${ns[bob]}" address add 192.168.78.2/24 dev veth0
ip -n "${ns[alice]}" link set veth0 up
ip -n "${ns[bob]}" link set veth0 up
# The link, address and route events of each namespace, shown when a routing check fails (they
# run in the namespaces, so they end before the check that nothing is left there).
declare -A monitor
for host in alice bob; do
    ip -n "${ns[$host]}" -timestamp monitor link address route > "$work/$host.monitor" 2>&1 &
    monitor[$host]=$!
    on_exit "kill ${monitor[$host]} 2> /dev/null"
done

log "rp exchange on both hosts"
# A stale UAPI socket where alice's wireguard-go will put its own: bound, then closed, so nothing
# accepts on it (ECONNREFUSED), as a SIGKILLed wireguard-go leaves it. rp must remove it, not take it
# for the new wireguard-go's socket (kernel WireGuard does not look at it).
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' /run/wireguard/rp-alice.sock
[ -S /run/wireguard/rp-alice.sock ] || fail "could not make the stale socket"
# `ip netns exec` execs in place, so $! is rp itself.
ip netns exec "${ns[alice]}" "$rp" verbose exchange "$work/alice.private" dev rp-alice ip 10.78.0.1/32 \
    listen 192.168.78.1:9999 peer "$work/bob.public" allowed-ips 10.78.0.2/32,fd78::2/128 \
    > "$work/alice.out" 2> "$work/alice.log" &
pid[alice]=$!
started_pids+=("${pid[alice]}")
# Bob's side is the same as a configuration file: `rp exchange-config` (§8.4).
cat > "$work/bob.toml" << EOF
verbose = false
private_keys_dir = "$work/bob.private"
dev = "rp-bob"
ip = "10.78.0.2/32"

[[peers]]
public_keys_dir = "$work/alice.public"
endpoint = "192.168.78.1:9999"
persistent_keepalive = 5
allowed_ips = "10.78.0.1,fd78::1"
EOF
ip netns exec "${ns[bob]}" "$rp" exchange-config "$work/bob.toml" > "$work/bob.out" 2> "$work/bob.log" &
pid[bob]=$!
started_pids+=("${pid[bob]}")

for host in alice bob; do
    wait_for "ip -n '${ns[$host]}' link show '${dev[$host]}' > /dev/null 2>&1 && grep -q ' is up with ' '$work/$host.log'" 15 \
        || fail "$host's rp made no interface ${dev[$host]}"
    kill -0 "${pid[$host]}" 2> /dev/null || fail "$host's rp exited"
done
if grep -q 'is up with kernel WireGuard' "$work/alice.log"; then
    log "rp used kernel WireGuard"
    rm /run/wireguard/rp-alice.sock
else
    grep -q 'is up with wireguard-go' "$work/alice.log" || fail "rp did not say which WireGuard it uses"
    log "rp fell back to wireguard-go (the kernel has no WireGuard)"
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' /run/wireguard/rp-alice.sock \
        || fail "alice's rp started, but nothing serves /run/wireguard/rp-alice.sock (the stale socket was taken for the new one)"
    log "a stale UAPI socket did not stop rp"

    # The name is served by alice's wireguard-go; bob's namespace has no rp-alice link, but shares
    # /run/wireguard: a second rp for rp-alice there must be refused, and must not touch alice's.
    status=0
    ip netns exec "${ns[bob]}" timeout 30 "$rp" exchange "$work/bob.private" dev rp-alice listen 192.168.78.2:9100 \
        > /dev/null 2> "$work/conflict.log" || status=$?
    [ $status -eq 1 ] || fail "a second rp for rp-alice exited $status, expected 1: $(cat "$work/conflict.log")"
    grep -q 'a WireGuard interface rp-alice already exists' "$work/conflict.log" \
        || fail "a second rp for rp-alice did not say the interface exists: $(cat "$work/conflict.log")"
    ! ip -n "${ns[bob]}" link show rp-alice > /dev/null 2>&1 || fail "the refused rp left an rp-alice link in bob's namespace"
    [ -S /run/wireguard/rp-alice.sock ] || fail "the refused rp removed alice's UAPI socket"
    kill -0 "${pid[alice]}" 2> /dev/null || fail "alice's rp exited"
    log "a second rp for a served name is refused"
fi

log "interface configuration"
wg_of() { ip netns exec "${ns[$1]}" wg show "${dev[$1]}" "$2"; }
alice_pk=$(cat "$work/alice.public/wgpk")
bob_pk=$(cat "$work/bob.public/wgpk")
[ "$(wg_of alice public-key)" = "$alice_pk" ] || fail "rp-alice does not have alice's wgsk"
[ "$(wg_of bob public-key)" = "$bob_pk" ] || fail "rp-bob does not have bob's wgsk"
[ "$(wg_of alice listen-port)" = 10000 ] || fail "rp-alice's WireGuard port is $(wg_of alice listen-port), expected 9999 + 1"
[ "$(wg_of bob endpoints | awk -v p="$alice_pk" '$1 == p { print $2 }')" = 192.168.78.1:10000 ] \
    || fail "bob's WireGuard endpoint for alice is not her Rosenpass port + 1: $(wg_of bob endpoints)"
[ "$(wg_of bob persistent-keepalive | awk '{ print $2 }')" = 5 ] || fail "bob's keepalive is not 5"
allowed=$(wg_of alice allowed-ips | awk -v p="$bob_pk" '$1 == p { $1 = ""; print }')
[[ "$allowed" == *10.78.0.2/32* && "$allowed" == *fd78::2/128* ]] || fail "alice's allowed IPs for bob: $allowed"
# What the kernel holds for a host's interface, shown when a routing check fails.
routing_state() {
    echo "--- ${ns[$1]}: link, addresses, routes, IPv6 settings of ${dev[$1]}"
    ip -n "${ns[$1]}" -d link show "${dev[$1]}" 2>&1
    ip -n "${ns[$1]}" address show dev "${dev[$1]}" 2>&1
    ip -n "${ns[$1]}" -4 route show table all dev "${dev[$1]}" 2>&1
    ip -n "${ns[$1]}" -6 route show table all dev "${dev[$1]}" 2>&1
    ip netns exec "${ns[$1]}" sysctl net.ipv6.conf."${dev[$1]}".disable_ipv6 net.ipv6.conf.all.disable_ipv6 2>&1
    echo "--- ${ns[$1]}: events since the namespace was made"
    cat "$work/$1.monitor"
}
has_route() { # HOST FAMILY PREFIX
    ip -n "${ns[$1]}" "$2" route show dev "${dev[$1]}" | holds "^$3 "
}
has_route alice -4 10.78.0.2 || fail "no route to 10.78.0.2 via rp-alice
$(routing_state alice)"
has_route alice -6 fd78::2 || fail "no route to fd78::2 via rp-alice (the second allowed-ips entry)
$(routing_state alice)"
has_route bob -6 fd78::1 || fail "no route to fd78::1 via rp-bob
$(routing_state bob)"
ip -n "${ns[alice]}" -4 address show dev rp-alice | holds 'inet 10.78.0.1/32' || fail "rp-alice has no address 10.78.0.1/32"
kill "${monitor[alice]}" "${monitor[bob]}" 2> /dev/null || true
wait "${monitor[alice]}" "${monitor[bob]}" 2> /dev/null || true

log "waiting for the exchanged PSK"
psk_of() { wg_of "$1" preshared-keys | awk -v p="$2" '$1 == p { print $2 }'; }
psks_agree() {
    local a b
    a=$(psk_of alice "$bob_pk"); b=$(psk_of bob "$alice_pk")
    [ -n "$a" ] && [ "$a" != "(none)" ] && [ "$a" = "$b" ]
}
wait_for psks_agree 20 || fail "the PSKs never agreed: alice has $(psk_of alice "$bob_pk"), bob has $(psk_of bob "$alice_pk")"
psk=$(psk_of alice "$bob_pk")
if grep -rqF "$psk" "$work"/*.log "$work"/*.out; then fail "the PSK appears in rp's output"; fi
log "both interfaces hold the same PSK"

log "ping over the tunnel"
ip netns exec "${ns[bob]}" ping -n -q -c 1 -w 15 10.78.0.1 > /dev/null || fail "bob cannot ping alice (10.78.0.1) over the tunnel"
ip netns exec "${ns[alice]}" ping -n -q -c 1 -w 10 10.78.0.2 > /dev/null || fail "alice cannot ping bob (10.78.0.2) over the tunnel"
[ "$(wg_of alice latest-handshakes | awk '{ print $2 }')" != 0 ] || fail "no WireGuard handshake on rp-alice"

# Alice's terminal "closes" (SIGHUP), bob's rp gets SIGTERM. A shell that was started with SIGHUP
# ignored passes that on to rp (as nohup means it), and then only SIGTERM is tested.
declare -A stop_signal=([alice]=HUP [bob]=TERM)
if (( 0x$(awk '$1 == "SigIgn:" { print $2 }' /proc/$$/status) & 1 )); then
    log "SIGHUP is ignored in this shell (nohup?): testing SIGTERM only"
    stop_signal[alice]=TERM
fi
log "SIG${stop_signal[alice]} and SIG${stop_signal[bob]} remove the interfaces"
for host in alice bob; do
    kill -"${stop_signal[$host]}" "${pid[$host]}"
done
for host in alice bob; do
    status=0
    wait "${pid[$host]}" || status=$?
    [ $status -eq 0 ] || fail "$host's rp exited with status $status after SIG${stop_signal[$host]}"
    grep -q "rp: removed ${dev[$host]}" "$work/$host.log" || fail "$host's rp did not report removing ${dev[$host]}"
    ! ip -n "${ns[$host]}" link show "${dev[$host]}" > /dev/null 2>&1 || fail "${dev[$host]} still exists after SIGTERM"
    [ ! -e "/run/wireguard/${dev[$host]}.sock" ] || fail "${dev[$host]}'s UAPI socket is left behind"
    [ -z "$(ip netns pids "${ns[$host]}")" ] || fail "processes are left in $host's namespace: $(ip netns pids "${ns[$host]}")"
done
started_pids=()
log "passed"
