#!/usr/bin/env bash
# A reference user's configuration with extra_params, end to end with real WireGuard (issue 11 §4).
#
# The reference hands each key to WireGuard by running
#   wg set DEVICE peer KEY preshared-key /dev/stdin EXTRA_PARAMS…
# which also creates the WireGuard peer and applies the extra parameters. With extra_params and no
# PSK broker option, our daemon does the same. Two hosts, "alice" and "bob" (network namespaces
# joined by a veth pair, 192.168.78.1 and .2), each run wireguard-go (interface rpx-HOST) with only a
# private key and a listen port: no WireGuard peer at all. Each host's daemon runs as root (the owner
# of wireguard-go's UAPI socket) with `device`, `peer` and
#   extra_params = ["allowed-ips", "10.78.0.X/32", "endpoint", "192.168.78.X:51830", "persistent-keepalive", "25"]
# and both have each other as Rosenpass endpoint.
#
# Asserts: the daemon says it runs `wg set` itself; the WireGuard peer appears with the allowed-ips,
# endpoint and keepalive from extra_params; once keys flow, both sides' PSKs agree with key_out (also
# after a crossed start, which both endpoints make likely); pings cross the tunnel both ways; no key
# appears in the logs; SIGTERM ends both daemons with status 0.
#
# Exit 0 = passed, 77 = skipped (not root, or a tool is missing), anything else = failed.
set -euo pipefail
if [ -z "${RP_WG_EXTRA_PRIVATE_MOUNTS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null; then
    RP_WG_EXTRA_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private "$0" "$@"
fi
# shellcheck source=SCRIPTDIR/wireguard/lib.sh
source "$(dirname "$0")/wireguard/lib.sh"

require_root
require_tools ip wg wireguard-go ping
require_binaries rosenpass
[ -n "${RP_WG_EXTRA_PRIVATE_MOUNTS:-}" ] || skip "needs unshare (util-linux) for a private /run/wireguard"

declare -A ns wgif wgpub dir runas daemon_pid
hosts=(alice bob)
work=$(mktemp -d /tmp/rp-wg-extra.XXXXXX)
on_exit "[ -n \"\${RP_WG_E2E_KEEP:-}\" ] || rm -rf '$work'"
mkdir -p /run/wireguard
mount -t tmpfs -o mode=0755 rp-wg-extra /run/wireguard

log "set-up: namespaces, wireguard-go interfaces without peers, Rosenpass keys"
declare -A address=([alice]=1 [bob]=2)
for host in "${hosts[@]}"; do
    ns[$host]=rpx-$host-$$
    ip netns add "${ns[$host]}"
    on_exit "ip netns delete '${ns[$host]}'"
    on_exit "end_namespace_processes '${ns[$host]}'"
    ip -n "${ns[$host]}" link set lo up
done
ip -n "${ns[alice]}" link add veth0 type veth peer name veth0 netns "${ns[bob]}"
for host in "${hosts[@]}"; do
    ip -n "${ns[$host]}" address add "192.168.78.${address[$host]}/24" dev veth0
    ip -n "${ns[$host]}" link set veth0 up
    key=$host
    wgif[$key]=rpx-$host
    runas[$key]=root
    dir[$key]=$work/$key
    mkdir -p "${dir[$key]}"
    (umask 077; wg genkey > "${dir[$key]}/wg.key")
    wgpub[$key]=$(wg pubkey < "${dir[$key]}/wg.key")
    start_wireguard_go "${ns[$host]}" "${wgif[$key]}"
    ip netns exec "${ns[$host]}" wg set "${wgif[$key]}" listen-port 51830 private-key "${dir[$key]}/wg.key"
    ip -n "${ns[$host]}" address add "10.78.0.${address[$host]}/24" dev "${wgif[$key]}"
    ip -n "${ns[$host]}" link set "${wgif[$key]}" up
    "$ROSENPASS_BIN_DIR/rosenpass" gen-keys --public-key "${dir[$key]}/pqpk" --secret-key "${dir[$key]}/pqsk" 2> /dev/null \
        || fail "gen-keys for $host failed"
done
[ -z "$(ip netns exec "${ns[alice]}" wg show rpx-alice peers)" ] || fail "the interface must start without a WireGuard peer"

for host in "${hosts[@]}"; do
    other=$([ "$host" = alice ] && echo bob || echo alice)
    cp "${dir[$other]}/pqpk" "${dir[$host]}/peer.pqpk"
    {
        echo "public_key = \"${dir[$host]}/pqpk\""
        echo "secret_key = \"${dir[$host]}/pqsk\""
        echo "listen = [\"192.168.78.${address[$host]}:9995\"]"
        echo "verbosity = \"Verbose\""
        echo
        echo "[[peers]]"
        echo "name = \"$other\""
        echo "public_key = \"${dir[$host]}/peer.pqpk\""
        echo "endpoint = \"192.168.78.${address[$other]}:9995\""
        echo "key_out = \"${dir[$host]}/osk\""
        echo "device = \"${wgif[$host]}\""
        echo "peer = \"${wgpub[$other]}\""
        echo "extra_params = [\"allowed-ips\", \"10.78.0.${address[$other]}/32\", \"endpoint\", \"192.168.78.${address[$other]}:51830\", \"persistent-keepalive\", \"25\"]"
    } > "${dir[$host]}/config.toml"
done

log "both daemons start at once (both have endpoints)"
for host in "${hosts[@]}"; do
    ip netns exec "${ns[$host]}" "$ROSENPASS_BIN_DIR/rosenpass" exchange-config "${dir[$host]}/config.toml" \
        > "${dir[$host]}/stdout.log" 2> "${dir[$host]}/stderr.log" &
    daemon_pid[$host]=$!
    started_pids+=("$!")
    logs_to_show+=("${dir[$host]}/stderr.log" "${dir[$host]}/stdout.log")
done

agree() {
    local a b ka kb
    ka=$(cat "${dir[alice]}/osk" 2> /dev/null || true)
    kb=$(cat "${dir[bob]}/osk" 2> /dev/null || true)
    a=$(wg_psk "${ns[alice]}" rpx-alice "${wgpub[bob]}")
    b=$(wg_psk "${ns[bob]}" rpx-bob "${wgpub[alice]}")
    [ -n "$ka" ] && [ "$ka" = "$kb" ] && [ "$a" = "$ka" ] && [ "$b" = "$ka" ]
}
wait_for "[ -s '${dir[alice]}/osk' ] && [ -s '${dir[bob]}/osk' ]" 30 || fail "no key was exchanged within 30 s"
# A crossed start is repaired by one more handshake within 3.5 s; then wg set has run with the last key.
wait_for agree 15 || fail "WireGuard's PSKs do not agree with key_out"
sleep 5
agree || fail "the keys did not stay equal: $(cat "${dir[alice]}/osk") / $(cat "${dir[bob]}/osk")"

for host in "${hosts[@]}"; do
    other=$([ "$host" = alice ] && echo bob || echo alice)
    grep -q "keys go to WireGuard through \`.*wg set … preshared-key /dev/stdin allowed-ips 10.78.0.${address[$other]}/32 endpoint" \
        "${dir[$host]}/stderr.log" || fail "$host's daemon did not say that it runs wg set itself"
    dump=$(ip netns exec "${ns[$host]}" wg show "${wgif[$host]}" dump | awk -v p="${wgpub[$other]}" '$1 == p')
    [ -n "$dump" ] || fail "wg set did not create $host's WireGuard peer"
    # dump columns: public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive
    read -r _ _ endpoint allowed _ _ _ keepalive <<< "$dump"
    [ "$endpoint" = "192.168.78.${address[$other]}:51830" ] || fail "$host: WireGuard endpoint is $endpoint"
    [ "$allowed" = "10.78.0.${address[$other]}/32" ] || fail "$host: allowed-ips are $allowed"
    [ "$keepalive" = 25 ] || fail "$host: persistent keepalive is $keepalive"
done
log "the WireGuard peers were created from extra_params, with the exchanged PSK on both sides"

tunnel_ping "${ns[alice]}" 10.78.0.2 15 || fail "no ping from alice to bob through the tunnel"
tunnel_ping "${ns[bob]}" 10.78.0.1 15 || fail "no ping from bob to alice through the tunnel"
log "pings cross the tunnel both ways"

for host in "${hosts[@]}"; do
    key=$(cat "${dir[$host]}/osk")
    ! grep -qF "$key" "${dir[$host]}/stderr.log" || fail "$host's log shows a key"
    kill -TERM "${daemon_pid[$host]}"
    wait_for "! alive ${daemon_pid[$host]}" 10 || fail "$host's daemon did not exit within 10 s of SIGTERM"
    status=0
    wait "${daemon_pid[$host]}" || status=$?
    forget_pid "${daemon_pid[$host]}"
    [ "$status" -eq 0 ] || fail "$host's daemon exited with status $status"
done
log "passed"
