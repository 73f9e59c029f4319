#!/usr/bin/env bash
# End to end: the socket handler and the privileged broker, both as an unprivileged user, set the PSK
# of a wireguard-go interface (UAPI backend) in a network namespace; `wg show` confirms it.
#
# Asserts: a PSK is installed and `wg show` reports it; refused interface and peer answer 0x01 and
# change nothing; an unknown peer is 0x03, an unknown interface 0x02; a garbage request is answered
# and the connection stays usable; the privileged child runs as the user with only CAP_NET_ADMIN;
# a killed child is restarted; --max-key-age replaces a stale PSK with a random one; the log names
# interface, peer and time, never the key; without access to the UAPI socket nothing is set.
set -euo pipefail
# Run in a private mount namespace: /run/wireguard becomes a scratch tmpfs, so the host's userspace
# WireGuard sockets are neither seen nor touched.
if [ -z "${RP_BROKER_PRIVATE_MOUNTS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
    RP_BROKER_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private "$0" "$@"
fi
source "$(dirname "$0")/broker/lib.sh"

require_root
require_tools ip wg wireguard-go setcap getcap setpriv useradd
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3 (Debian python3)"
require_binaries rosenpass-wireguard-broker-privileged rosenpass-wireguard-broker-socket-handler

user=rp-broker-test
ensure_user "$user"
ns=rpbrk-us-$$
work=$(mktemp -d /tmp/rp-broker-us.XXXXXX)
chmod 0755 "$work"
on_exit "rm -rf '$work'"
install_brokers "$work/bin"
request="$broker_here/broker-request.py"

ip netns add "$ns"
on_exit "ip netns delete '$ns'"
# Every process in the test namespace was started here (wireguard-go daemons included): end them.
on_exit "ip netns pids '$ns' | xargs -r kill"
ip -n "$ns" link set lo up

[ -n "${RP_BROKER_PRIVATE_MOUNTS:-}" ] || skip "needs unshare (util-linux) for a private /run/wireguard"
mkdir -p /run/wireguard
mount -t tmpfs -o mode=0755 rp-broker-test /run/wireguard

# wireguard-go makes its UAPI socket owner-only (umask 077) and exits as soon as anyone changes the
# socket's mode or group (it watches it with inotify). So the broker can only reach a userspace
# interface run by its own user: here wireguard-go runs as the broker user with just CAP_NET_ADMIN.
# A third interface run by root shows that the broker cannot touch what it has no access to.
chown "$user:" /run/wireguard
# Debian's udev makes /dev/net/tun 0666; where it is 0600, give the user a node of its own, in this
# mount namespace only.
if ! setpriv --reuid="$user" --regid="$user" --init-groups test -w /dev/net/tun; then
    mount -t tmpfs -o mode=0755 rp-broker-test-dev /dev/net
    mknod -m 0660 /dev/net/tun c 10 200
    chgrp "$user" /dev/net/tun
fi
ifa=rpwga; ifb=rpwgb; ifroot=rpwgroot; gone=rpwggone
for ifname in "$ifa" "$ifb"; do
    ip netns exec "$ns" setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=+net_admin --ambient-caps=+net_admin \
        wireguard-go "$ifname" >/dev/null 2>&1 || fail "wireguard-go $ifname did not start as $user"
    on_exit "ip -n '$ns' link delete '$ifname'"
done
ip netns exec "$ns" wireguard-go "$ifroot" >/dev/null 2>&1 || fail "wireguard-go $ifroot did not start"
on_exit "ip -n '$ns' link delete '$ifroot'"
[ "$(stat -c %U "/run/wireguard/$ifa.sock")" = "$user" ] || fail "the UAPI socket of $ifa is not owned by $user"
umask 077
wg genkey > "$work/a.key"; wg genkey > "$work/b.key"
p1=$(wg genkey | wg pubkey); p2=$(wg genkey | wg pubkey); p3=$(wg genkey | wg pubkey)
ip netns exec "$ns" wg set "$ifa" private-key "$work/a.key" peer "$p1" allowed-ips 10.1.0.1/32 peer "$p2" allowed-ips 10.1.0.2/32
ip netns exec "$ns" wg set "$ifb" private-key "$work/b.key" peer "$p1" allowed-ips 10.2.0.1/32
ip netns exec "$ns" wg set "$ifroot" private-key "$work/b.key" peer "$p1" allowed-ips 10.3.0.1/32
umask 022

# The socket handler as the unprivileged user; the child gets CAP_NET_ADMIN from its file caps only.
sock="$work/run/broker.sock"
mkdir -p "$work/run"; chown "$user:" "$work/run"; chmod 0755 "$work/run"
log "starting the socket handler as $user"
ip netns exec "$ns" setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all -- \
    "$work/bin/rosenpass-wireguard-broker-socket-handler" --listen-path "$sock" \
    --allow-peer "$ifa:$p1" --allow-interface "$ifb" --allow-interface "$gone" --allow-interface "$ifroot" --max-key-age 4 \
    -- "$work/bin/rosenpass-wireguard-broker-privileged" 2> "$work/handler.log" &
handler=$!
show_on_failure="$work/handler.log"
started_pids+=("$handler")
wait_for "[ -S '$sock' ]" 10 || { cat "$work/handler.log" >&2; fail "the socket handler did not create $sock"; }
[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode is $(stat -c %a "$sock"), expected 600"
[ "$(stat -c %U "$sock")" = "$user" ] || fail "socket owner is $(stat -c %U "$sock")"

ask() { as_user "$user" /usr/bin/python3 "$request" --socket "$sock" "$@"; }
psk1=$(wg genpsk); psk2=$(wg genpsk)

# The privileged child: the unprivileged user, CAP_NET_ADMIN and nothing else.
child=$(pgrep -P "$handler" -f rosenpass-wireguard-broker-privileged | head -1)
[ -n "$child" ] || fail "no privileged child"
[ "$(awk '/^Uid:/ {print $2}' /proc/$child/status)" = "$(id -u "$user")" ] || fail "the privileged child does not run as $user"
capeff=$(awk '/^CapEff:/ {print $2}' /proc/$child/status)
[ "$capeff" = "0000000000001000" ] || fail "privileged child CapEff=$capeff, expected only CAP_NET_ADMIN (0x1000)"
log "privileged child $child: uid $user, CapEff=$capeff"

# Without access to the UAPI socket (root's wireguard-go) nothing can be set, though it is allowed.
[ "$(ask "$ifroot:$p1:$psk1")" = 0x01 ] || fail "expected 0x01 for a UAPI socket the broker cannot open"
[ "$(wg_psk "$ns" "$ifroot" "$p1")" = "(none)" ] || fail "PSK changed without UAPI access"
grep -q "Permission denied" "$work/handler.log" || fail "the permission problem was not logged"

log "allowed peer: install and confirm with wg show"
[ "$(ask "$ifa:$p1:$psk1")" = 0x00 ] || fail "setting the allowed peer's PSK failed"
[ "$(wg_psk "$ns" "$ifa" "$p1")" = "$psk1" ] || fail "wg show does not report the installed PSK"
[ "$(wg_psk "$ns" "$ifa" "$p2")" = "(none)" ] || fail "another peer's PSK changed"

# The model of systemd/rosenpass-broker.service: CAP_NET_ADMIN as an ambient capability (no file
# capabilities). The handler clears its own effective set; the privileged broker it starts still
# gets CAP_NET_ADMIN, and works.
log "ambient CAP_NET_ADMIN (the broker unit): the handler holds none effective, its child does"
mkdir -p "$work/bin-ambient"
install -m 0755 "$work/bin/rosenpass-wireguard-broker-privileged" "$work/bin-ambient/"  # no file capabilities
[ -z "$(getcap "$work/bin-ambient/rosenpass-wireguard-broker-privileged")" ] || fail "the copy kept its file capabilities"
ambient_sock="$work/run/ambient.sock"
ip netns exec "$ns" setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=+net_admin --ambient-caps=+net_admin -- \
    "$work/bin/rosenpass-wireguard-broker-socket-handler" --listen-path "$ambient_sock" --allow-peer "$ifa:$p1" \
    -- "$work/bin-ambient/rosenpass-wireguard-broker-privileged" 2> "$work/handler-ambient.log" &
ambient_handler=$!
started_pids+=("$ambient_handler")
wait_for "[ -S '$ambient_sock' ]" 10 || { cat "$work/handler-ambient.log" >&2; fail "the ambient-capability handler did not start"; }
ambient_child=$(pgrep -P "$ambient_handler" -f rosenpass-wireguard-broker-privileged | head -1)
[ -n "$ambient_child" ] || fail "no privileged child of the ambient-capability handler"
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$ambient_handler/status")
[ "$capeff" = "0000000000000000" ] || fail "the socket handler kept effective capabilities: CapEff=$capeff"
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$ambient_child/status")
[ "$capeff" = "0000000000001000" ] || fail "its privileged child has CapEff=$capeff, expected only CAP_NET_ADMIN"
psk_ambient=$(wg genpsk)
[ "$(as_user "$user" /usr/bin/python3 "$request" --socket "$ambient_sock" "$ifa:$p1:$psk_ambient")" = 0x00 ] \
    || fail "the ambient-capability broker did not install the key"
[ "$(wg_psk "$ns" "$ifa" "$p1")" = "$psk_ambient" ] || fail "wg show does not report the key set by the ambient-capability broker"
kill -TERM "$ambient_handler"
wait_for "! kill -0 $ambient_handler 2>/dev/null" 10 || fail "the ambient-capability handler did not stop"

log "refused peer and interface, unknown peer and interface"
[ "$(ask "$ifa:$p2:$psk2")" = 0x01 ] || fail "a peer outside the allow-list was not refused"
[ "$(wg_psk "$ns" "$ifa" "$p2")" = "(none)" ] || fail "the refused peer's PSK changed"
[ "$(ask "rpnotallowed0:$p1:$psk2")" = 0x01 ] || fail "an interface outside the allow-list was not refused"
[ "$(ask "$ifb:$p3:$psk2")" = 0x03 ] || fail "an unknown peer on an allowed interface was not NoSuchPeer"
[ -z "$(ip netns exec "$ns" wg show "$ifb" peers | grep -F "$p3")" ] || fail "a peer was added"
[ "$(ask "$gone:$p1:$psk2")" = 0x02 ] || fail "a missing allowed interface was not NoSuchInterface"

log "garbage, then a valid request on the same connection"
answers=$(ask garbage "$ifb:$p1:$psk2" | tr '\n' ' ')
[ "$answers" = "0x01 0x00 " ] || fail "garbage then valid answered: $answers"
[ "$(wg_psk "$ns" "$ifb" "$p1")" = "$psk2" ] || fail "the request after the garbage was not applied"

log "a killed privileged child is restarted"
kill -9 "$child"
wait_for "[ -n \"\$(pgrep -P $handler -f rosenpass-wireguard-broker-privileged)\" ] && [ \"\$(pgrep -P $handler -f rosenpass-wireguard-broker-privileged)\" != $child ]" 10 \
    || fail "no new privileged child after kill"
psk3=$(wg genpsk)
[ "$(ask "$ifa:$p1:$psk3")" = 0x00 ] || fail "the restarted broker did not install the key"
[ "$(wg_psk "$ns" "$ifa" "$p1")" = "$psk3" ] || fail "wg show does not report the key after the restart"

# $ifb got its key from the previous privileged process: the socket handler carries its timer over.
log "fail closed: no fresh key within --max-key-age 4 s"
sleep 6
replaced=$(wg_psk "$ns" "$ifa" "$p1")
[ "$replaced" != "$psk3" ] && [ "$replaced" != "(none)" ] || fail "the stale PSK was not replaced (still $replaced)"
replaced_b=$(wg_psk "$ns" "$ifb" "$p1")
[ "$replaced_b" != "$psk2" ] || fail "the stale PSK on $ifb (set before the broker restart) was not replaced"
grep -Eq "carrying over [0-9]+ fail-closed timer" "$work/handler.log" || fail "the restarted broker did not get the timer"
grep -qF "replaced the PSK of peer $p1 on interface $ifa with a random one" "$work/handler.log" || fail "the replacement was not logged"
[ "$(wg_psk "$ns" "$ifa" "$p2")" = "(none)" ] || fail "fail-closed touched a peer that never had a key"

log "audit log: interface, peer and time; never a key"
grep -F "installed PSK on interface $ifa for peer $p1 at " "$work/handler.log" | grep -Eq " at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$" \
    || fail "no audit line (interface, peer, time) for the install"
grep -q "not in the allow-list" "$work/handler.log" || fail "refusals were not logged"
for secret in "$psk1" "$psk2" "$psk3" "$replaced" "$(echo "$psk1" | base64 -d | od -An -tx1 | tr -d ' \n')"; do
    ! grep -qF "$secret" "$work/handler.log" || fail "a PSK appears in the log"
done

kill "$handler"; wait "$handler" 2>/dev/null || true
[ ! -e "$sock" ] || fail "the handler left its socket behind"
log "passed"
