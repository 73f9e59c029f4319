#!/usr/bin/env bash
# One run of docs/multi-device-isolation.md's three-host setup with one kind of broker link:
#
#   scenario.sh ssh   OpenSSH remote unix-socket forward (the guide's setup)
#   scenario.sh tls   socat over TLS with client certificates (the guide's alternative)
#
# Run by ../test-multi-device-isolation.sh, which creates the users and sets ISO_WORK (a private
# tmpfs), ISO_BIN (the binaries), ISO_TOOLS and ISO_MAX_KEY_AGE.
#
# Hosts (network + mount namespaces, see lib.sh) and their networks:
#   local peer  L  wireguard-go wgl (+ wglo), the broker (socket handler + setcap'd privileged child)
#                  as rpiso-l-broker, the link as rpiso-l-link; no Rosenpass at all
#   device      D  the rosenpass daemon as rpiso-d-kx with the only copy of its secret key, the link's
#                  far end (sshd's account rpiso-d-link, or socat as rpiso-d-link)
#   remote peer R  wireguard-go wgr and rosenpass (spawned broker) as rpiso-r
#   L-R NET.1/24 "internet" (WireGuard), D-R NET.2/24 (Rosenpass UDP), L-D NET.3/24 (the link only:
#   the local peer's firewall drops everything from the device it did not ask for, but for the TLS
#   link's port), tunnel NET.9/24.
set -euo pipefail
variant=${1:?usage: scenario.sh ssh|tls}
iso_label=$variant
source "$(dirname "$0")/lib.sh"
: "${ISO_WORK:?}" "${ISO_BIN:?}" "${ISO_TOOLS:?}" "${ISO_MAX_KEY_AGE:?}"
case $variant in
    ssh) net=10.231; v=s ;;
    tls) net=10.232; v=t ;;
    *) fail "unknown link variant '$variant'" ;;
esac
max_age=$ISO_MAX_KEY_AGE
iso_prefix=rpiso-$v
iso_tools=$ISO_TOOLS
work=$ISO_WORK/$variant
logs=$work/logs
admin=$work/admin
L=$work/local-peer D=$work/rosenpass-device R=$work/remote-peer
l_broker=rpiso-l-broker l_link=rpiso-l-link l_clients=rpiso-l-clients
d_link=rpiso-d-link d_kx=rpiso-d-kx r_user=rpiso-r
source "$iso_here/link-$variant.sh"

install -d -m 0755 "$work" "$L" "$D" "$R"
install -d -m 0700 "$logs" "$admin"
if [ -n "${RP_ISOLATION_KEEP_LOGS:-}" ]; then
    on_exit "mkdir -p '$RP_ISOLATION_KEEP_LOGS/$variant' && cp -a '$logs/.' '$RP_ISOLATION_KEEP_LOGS/$variant/'"
fi
show_on_failure="$logs/L-broker.log $logs/D-daemon.log $logs/R-daemon.log $logs/L-link.log $logs/D-link.log $logs/D-sshd.log"
log "three hosts with the broker link: $link_description"

# --- the hosts' directories -----------------------------------------------------------------------
# Local peer: the broker binaries (the privileged one setcap'd and runnable only by the broker's
# group), WireGuard keys, the broker socket's directory, the link's keys.
install -d -m 0755 "$L/bin"
install -m 0755 "$ISO_BIN/rosenpass-wireguard-broker-socket-handler" "$L/bin/"
install -m 0750 -g "$l_broker" "$ISO_BIN/rosenpass-wireguard-broker-privileged" "$L/bin/"
setcap CAP_NET_ADMIN=+eip "$L/bin/rosenpass-wireguard-broker-privileged" || fail "setcap failed"
install -d -m 0700 -o "$l_broker" -g "$l_broker" "$L/wireguard"
install -d -m 0755 -o "$l_broker" -g "$l_broker" "$L/run"
install -d -m 0700 -o "$l_link" -g "$l_link" "$L/link"
# Device: the daemon's keys and configuration, the link account's root-owned chroot with its one
# writable directory (where the broker socket appears), the link's certificates (TLS).
install -d -m 0700 -o "$d_kx" -g "$d_kx" "$D/rosenpass"
install -d -m 0755 "$D/link-root"
install -d -m 0750 -o "$d_link" -g "$d_link" "$D/link-root/sock"
install -d -m 0700 -o "$d_link" -g "$d_link" "$D/link"
# Remote peer: an ordinary Rosenpass + WireGuard host.
install -d -m 0700 -o "$r_user" -g "$r_user" "$R/rosenpass" "$R/wireguard"

# --- networks ----------------------------------------------------------------------------------------
host_create L "$l_broker"
host_create D
host_create R "$r_user"
connect L "lr$v" "$net.1.1/24" R "rl$v" "$net.1.2/24"
connect D "dr$v" "$net.2.1/24" R "rd$v" "$net.2.2/24"
connect L "ld$v" "$net.3.1/24" D "dl$v" "$net.3.2/24"
on_host L sysctl -q -w net.ipv4.ip_forward=0
cat > "$admin/local-peer.nft" <<EOF
table inet rpiso {
    counter wireguard_from_device { }
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "ld$v" ct state established,related accept
        $link_firewall_rules
        iifname "ld$v" udp dport 51820 counter name "wireguard_from_device" drop
        iifname "ld$v" drop
    }
    chain forward { type filter hook forward priority 0; policy drop; }
}
EOF
on_host L nft -f "$admin/local-peer.nft" || fail "cannot load the local peer's firewall"

# --- WireGuard on the local and the remote peer (keys made where they are used) ---------------------
log "WireGuard: wgl (+ wglo) on the local peer, wgr on the remote peer, PSKs started random"
as_user L "$l_broker" sh -c "umask 077; wg genkey > '$L/wireguard/wgl.key'; wg genkey > '$L/wireguard/wglo.key'"
as_user R "$r_user" sh -c "umask 077; wg genkey > '$R/wireguard/wgr.key'"
l_pub=$(wg pubkey < "$L/wireguard/wgl.key")
r_pub=$(wg pubkey < "$R/wireguard/wgr.key")
x_pub=$(wg genkey | wg pubkey)   # another peer of wgl, which the device must not be able to key
as_user_net_admin L "$l_broker" wireguard-go wgl >> "$logs/L-wireguard-go.log" 2>&1 || fail "wireguard-go wgl did not start"
as_user_net_admin L "$l_broker" wireguard-go wglo >> "$logs/L-wireguard-go.log" 2>&1 || fail "wireguard-go wglo did not start"
as_user_net_admin R "$r_user" wireguard-go wgr >> "$logs/R-wireguard-go.log" 2>&1 || fail "wireguard-go wgr did not start"
on_host L wg set wgl private-key "$L/wireguard/wgl.key" listen-port 51820 \
    peer "$r_pub" allowed-ips "$net.9.2/32" endpoint "$net.1.2:51820" \
    peer "$x_pub" allowed-ips "$net.8.1/32"
on_host L wg set wglo private-key "$L/wireguard/wglo.key" listen-port 51821 peer "$r_pub" allowed-ips "$net.7.2/32"
on_host R wg set wgr private-key "$R/wireguard/wgr.key" listen-port 51820 \
    peer "$l_pub" allowed-ips "$net.9.1/32" endpoint "$net.1.1:51820"
on_host L sh -c "wg genpsk | wg set wgl peer '$r_pub' preshared-key /dev/stdin"
on_host R sh -c "wg genpsk | wg set wgr peer '$l_pub' preshared-key /dev/stdin"
ip -n "$iso_prefix-L" addr add "$net.9.1/24" dev wgl
ip -n "$iso_prefix-L" addr add "$net.7.1/24" dev wglo
ip -n "$iso_prefix-R" addr add "$net.9.2/24" dev wgr
ip -n "$iso_prefix-L" link set wgl up
ip -n "$iso_prefix-L" link set wglo up
ip -n "$iso_prefix-R" link set wgr up
[ "$(on_host L stat -c %U /run/wireguard/wgl.sock)" = "$l_broker" ] \
    || fail "wgl's UAPI socket is not owned by $l_broker"
initial_local=$(wg_psk L wgl "$r_pub")
case $initial_local in ""|"(none)") fail "the local peer's PSK did not start random" ;; esac

# --- Rosenpass keys: the device's made on the device, the remote peer's on the remote peer ---------
log "Rosenpass keys made on the device (as $d_kx) and on the remote peer; public keys exchanged"
as_user D "$d_kx" "$ISO_BIN/rosenpass" gen-keys --secret-key "$D/rosenpass/device.rosenpass-secret" \
    --public-key "$D/rosenpass/device.rosenpass-public" >> "$logs/D-setup.log" 2>&1 || fail "gen-keys failed on the device"
as_user R "$r_user" "$ISO_BIN/rosenpass" gen-keys --secret-key "$R/rosenpass/remote.rosenpass-secret" \
    --public-key "$R/rosenpass/remote.rosenpass-public" >> "$logs/R-setup.log" 2>&1 || fail "gen-keys failed on the remote peer"
install -m 0644 -o "$r_user" -g "$r_user" "$D/rosenpass/device.rosenpass-public" "$R/rosenpass/"
install -m 0644 -o "$d_kx" -g "$d_kx" "$R/rosenpass/remote.rosenpass-public" "$D/rosenpass/"
cat > "$D/rosenpass/device.toml" <<EOF
public_key = "$D/rosenpass/device.rosenpass-public"
secret_key = "$D/rosenpass/device.rosenpass-secret"
listen = ["$net.2.1:9999"]
verbosity = "Verbose"

[[peers]]
public_key = "$D/rosenpass/remote.rosenpass-public"
endpoint = "$net.2.2:9999"
# The local peer's WireGuard interface and its name for the remote peer: the broker sets this PSK.
device = "wgl"
peer = "$r_pub"
EOF
cat > "$R/rosenpass/remote.toml" <<EOF
public_key = "$R/rosenpass/remote.rosenpass-public"
secret_key = "$R/rosenpass/remote.rosenpass-secret"
listen = ["$net.2.2:9999"]

[[peers]]
public_key = "$R/rosenpass/device.rosenpass-public"
endpoint = "$net.2.1:9999"
device = "wgr"
peer = "$l_pub"
key_out = "$R/rosenpass/output.key"
EOF
chown "$d_kx:" "$D/rosenpass/device.toml"; chmod 0600 "$D/rosenpass/device.toml"
chown "$r_user:" "$R/rosenpass/remote.toml"; chmod 0600 "$R/rosenpass/remote.toml"
as_user D "$d_kx" "$ISO_BIN/rosenpass" validate "$D/rosenpass/device.toml" >> "$logs/D-setup.log" 2>&1 || fail "the device's configuration is invalid"

# --- the broker on the local peer, from systemd/rosenpass-broker.service ---------------------------
printf '# the rosenpass device may key this one peer\npeer wgl %s\n' "$r_pub" > "$L/broker.policy"
unit_command "$iso_repo/systemd/rosenpass-broker.service" broker_command \
    "/usr/local/bin/|$L/bin/" \
    "/run/rosenpass-broker/broker.sock|$L/run/broker.sock" \
    "rosenpass-broker-clients|$l_clients" \
    "/etc/rosenpass/broker.policy|$L/broker.policy" \
    "--max-key-age 300|--max-key-age $max_age"
log "broker: ${broker_command[*]##*/}"
start_logged "$logs/L-broker.log" as_user L "$l_broker" "${broker_command[@]}"
broker_pid=$last_pid
wait_for "[ -S '$L/run/broker.sock' ]" 10 || fail "the socket handler did not create its socket"
[ "$(stat -c '%a %U %G' "$L/run/broker.sock")" = "660 $l_broker $l_clients" ] \
    || fail "broker socket is $(stat -c '%a %U %G' "$L/run/broker.sock"), expected 660 $l_broker $l_clients"

# --- the remote peer: an ordinary rosenpass with its own (spawned) broker ---------------------------
start_logged "$logs/R-daemon.log" as_user R "$r_user" env RUST_LOG=info "$ISO_BIN/rosenpass" exchange-config "$R/rosenpass/remote.toml"
# --- the device's daemon, from systemd/rosenpass-exchange.service, before the link exists ----------
unit_command "$iso_repo/systemd/rosenpass-exchange.service" daemon_command \
    "/usr/local/bin/|$ISO_BIN/" \
    "/srv/rosenpass-link/sock/broker.sock|$link_socket" \
    "/etc/rosenpass/device.toml|$D/rosenpass/device.toml"
start_logged "$logs/D-daemon.log" as_user D "$d_kx" "${daemon_command[@]}"
daemon_pid=$last_pid

link_setup
link_start

# --- first key -------------------------------------------------------------------------------------------
# Sets k_local, k_remote, k_out; true when the local peer's PSK, the remote peer's PSK and the remote
# peer's key output are one and the same key.
keys_agree() {
    k_local=$(wg_psk L wgl "$r_pub")
    k_remote=$(wg_psk R wgr "$l_pub")
    k_out=$(cat "$R/rosenpass/output.key" 2>/dev/null || true)
    [ -n "$k_out" ] && [ "$k_local" = "$k_out" ] && [ "$k_remote" = "$k_out" ]
}
# True once the remote peer holds a key other than $1, as key output and as PSK (sets k_out).
keys_rekeyed() {
    k_out=$(cat "$R/rosenpass/output.key" 2>/dev/null || true)
    [ -n "$k_out" ] && [ "$k_out" != "$1" ] && [ "$(wg_psk R wgr "$l_pub")" = "$k_out" ]
}
# True when the local peer's PSK is none of the keys it was ever given: the broker's random key.
local_psk_is_random() {
    local key
    key=$(wg_psk L wgl "$r_pub")
    [ -n "$key" ] && [ "$key" != "(none)" ] && [ "$key" != "$k1" ] && [ "$key" != "$k2" ] && [ "$key" != "$initial_local" ]
}
# No file of the local peer is a Rosenpass secret key, or has a secret key's size; its private
# mounts hold no files at all; its users cannot read the device's secret key (which, on real
# hardware, is on another machine anyway).
no_secret_keys_on_local_peer() {
    local size sums file user
    size=$(stat -c %s "$D/rosenpass/device.rosenpass-secret")
    sums=$(sha256sum "$D/rosenpass/device.rosenpass-secret" "$R/rosenpass/remote.rosenpass-secret" | cut -d' ' -f1)
    while IFS= read -r -d '' file; do
        [ "$(stat -c %s "$file")" != "$size" ] || fail "$file on the local peer has the size of a Rosenpass secret key"
        ! grep -qxF "$(sha256sum < "$file" | cut -d' ' -f1)" <<< "$sums" || fail "$file on the local peer is a Rosenpass secret key"
    done < <(find "$L" -type f -print0)
    [ -z "$(on_host L find /run/wireguard /dev/net -type f)" ] || fail "files in the local peer's private mounts"
    for user in "$l_broker" "$l_link"; do
        as_user L "$user" cat "$D/rosenpass/device.rosenpass-secret" > /dev/null 2>&1 \
            && fail "$user on the local peer can read the device's secret key"
    done
    return 0
}
k2=""

start=$(now)
wait_for keys_agree 90 || fail "no common key within 90 s (local $k_local, remote $k_remote, key output $k_out)"
t1=$(now)
# When both sides initiate at once, two exchanges may finish a moment apart: settle on the last.
pause 3
wait_for keys_agree 10 || fail "the first key did not settle (local $k_local, remote $k_remote, key output $k_out)"
k1=$k_out
log "first key after $((t1 - start)) s: the local and the remote peer's PSK equal the remote peer's key output"
[ "$k1" != "$initial_local" ] || fail "the local peer still has its initial PSK"
wait_for "on_host L ping -c 1 -W 1 -q '$net.9.2' > /dev/null" 20 || fail "no ping across the tunnel"
log "ping crosses the tunnel"

# --- the device cannot reach the local peer's WireGuard except through the broker --------------------
log "device: sees no WireGuard of the local peer; its packets to the local peer are dropped"
[ -z "$(on_host D wg show interfaces)" ] || fail "the device sees WireGuard interfaces: $(on_host D wg show interfaces)"
on_host D ip link show wgl > /dev/null 2>&1 && fail "the device sees the local peer's interface"
[ -z "$(on_host D ls -A /run/wireguard)" ] || fail "the device sees UAPI sockets"
on_host D ip route get "$net.1.1" > /dev/null 2>&1 && fail "the device has a route to the local peer's WireGuard network"
on_host D ping -c 1 -W 1 -q "$net.3.1" > /dev/null 2>&1 && fail "the device can ping the local peer"
echo probe | on_host D socat -u - "UDP:$net.3.1:51820" || true
wait_for "on_host L nft list counter inet rpiso wireguard_from_device | grep -q 'packets [1-9]'" 5 \
    || fail "a datagram from the device to the local peer's WireGuard port was not dropped"
log "broker: refuses what its allow-list does not name, asked by the device's daemon user through the link"
out=$(as_user D "$d_kx" /usr/bin/python3 "$iso_tools/broker-request.py" --socket "$link_socket" \
    "wgl:$x_pub:random" "wglo:$r_pub:random" "wg-none:$r_pub:random" | tr '\n' ' ') || fail "no answers through the link"
[ "$out" = "0x01 0x01 0x01 " ] || fail "the broker answered '$out' for peers and interfaces outside its allow-list"
[ "$(wg_psk L wgl "$x_pub")" = "(none)" ] && [ "$(wg_psk L wglo "$r_pub")" = "(none)" ] \
    || fail "a refused request changed a PSK"
[ "$(wg_psk L wgl "$r_pub")" = "$k1" ] || fail "the allowed peer's PSK changed"
grep -q "is not in the allow-list" "$logs/L-broker.log" || fail "the refusals were not logged"

log "local peer: the broker's processes, users and capabilities"
child=$(pgrep -P "$broker_pid" -f rosenpass-wireguard-broker-privileged | head -1)
[ -n "$child" ] || fail "no privileged broker process"
[ "$(proc_uid "$child")" = "$(id -u "$l_broker")" ] && [ "$(proc_caps "$child")" = 0000000000001000 ] \
    || fail "the privileged broker runs as uid $(proc_uid "$child") with CapEff $(proc_caps "$child"), expected $l_broker with CAP_NET_ADMIN only"
[ "$(proc_caps "$broker_pid")" = 0000000000000000 ] || fail "the socket handler has capabilities: $(proc_caps "$broker_pid")"
[ "$(proc_uid "$daemon_pid")" = "$(id -u "$d_kx")" ] && [ "$(proc_caps "$daemon_pid")" = 0000000000000000 ] \
    || fail "the device's daemon is not $d_kx without capabilities"
# (Through sh: setpriv itself still holds root's capabilities while it calls execve.)
as_user L "$l_link" sh -c 'exec "$0" --help' "$L/bin/rosenpass-wireguard-broker-privileged" > /dev/null 2>&1 \
    && fail "the link user can run the setcap'd privileged broker"

log "local peer: holds no Rosenpass secret key"
no_secret_keys_on_local_peer

link_checks

# --- link failures ---------------------------------------------------------------------------------------
case $variant in
ssh)
    # Cut the link across a rekey and past the broker's maximum key age: the broker must fail closed;
    # once the link is back, the key exchanged meanwhile must reach the local peer within seconds.
    log "cutting the link (local peer's interface to the device down) for longer than the max key age ($max_age s)"
    link_cut
    wait_for "keys_rekeyed '$k1'" $(( t1 + 145 - $(now) )) || fail "no rekey within 145 s of the first key"
    k2=$k_out
    log "rekeyed after $(( $(now) - t1 )) s while the link is down"
    [ "$(wg_psk L wgl "$r_pub")" = "$k1" ] || fail "before the max key age the local peer should still hold the last key delivered"
    wait_for "local_psk_is_random" $(( t1 + max_age + 20 - $(now) )) || fail "the broker did not replace the stale PSK"
    took=$(( $(now) - t1 ))
    [ "$took" -ge $(( max_age - 3 )) ] || fail "the PSK was replaced after $took s, before the max key age"
    grep -F "replaced the PSK of peer $r_pub on interface wgl with a random one" "$logs/L-broker.log" | grep -qF -- "(--max-key-age)" \
        || fail "the broker did not log the replacement"
    log "fail closed: $took s after the last key the local peer's PSK is random (neither the old nor the new key)"
    kill -0 "$daemon_pid" 2>/dev/null || fail "the device's daemon died without its broker"
    grep -q "lost the PSK broker" "$logs/D-daemon.log" || fail "the daemon did not notice the lost link"
    link_restore
    restored=$(now)
    wait_for keys_agree 45 || fail "45 s after the link came back the local peer still has $k_local, not $k_out"
    [ "$k_out" != "$k1" ] || fail "after the outage the peers agree on the old key"
    log "link restored: the current key reached the local peer after $(( $(now) - restored )) s"
    ;;
tls)
    # Cut the link across a rekey (within the max key age): the key exchanged meanwhile must reach the
    # local peer within seconds of the link's return, and nothing may fail closed while keys arrive.
    [ $(( $(now) - t1 )) -ge 100 ] || pause $(( 100 - ($(now) - t1) ))
    log "stopping the local peer's end of the link across the next rekey (the device's socket leads nowhere)"
    connects_before=$(grep -c "connected to the PSK broker" "$logs/D-daemon.log")
    cut_at=$(now)
    link_cut_local
    wait_for "keys_rekeyed '$k1'" $(( t1 + 145 - $(now) )) || fail "no rekey within 145 s of the first key"
    k2=$k_out
    log "rekeyed after $(( $(now) - t1 )) s while the link is down"
    [ "$(wg_psk L wgl "$r_pub")" = "$k1" ] || fail "the local peer's PSK changed while the link was down"
    # Each connection is accepted and dropped at once: the daemon must back off (up to 5 s between
    # tries), not reconnect in a tight loop.
    pause 5
    cut_seconds=$(( $(now) - cut_at ))
    connects=$(( $(grep -c "connected to the PSK broker" "$logs/D-daemon.log") - connects_before ))
    log "the daemon connected $connects times in $cut_seconds s to a socket that leads nowhere"
    [ "$connects" -le $(( cut_seconds / 2 + 6 )) ] || fail "the daemon reconnected $connects times in $cut_seconds s: no back-off"
    log "stopping the device's end too: its broker socket disappears"
    link_cut_device
    wait_for "[ ! -e '$link_socket' ]" 5 || fail "the device's broker socket outlived its link"
    pause 3
    kill -0 "$daemon_pid" 2>/dev/null || fail "the device's daemon died without its broker"
    link_restore
    restored=$(now)
    wait_for keys_agree 45 || fail "45 s after the link came back the local peer still has $k_local, not $k_out"
    [ "$k_out" != "$k1" ] || fail "after the outage the peers agree on the old key"
    log "link restored: the current key reached the local peer after $(( $(now) - restored )) s"
    [ $(( $(now) - t1 )) -ge $(( max_age + 10 )) ] || pause $(( max_age + 10 - ($(now) - t1) ))
    keys_agree || fail "$(( $(now) - t1 )) s after the first key the peers disagree (local $k_local, key output $k_out)"
    ! grep -qF -- "(--max-key-age)" "$logs/L-broker.log" || fail "the broker failed closed although fresh keys arrived"
    log "no false fail-closed: $(( $(now) - t1 )) s after the first key the peers still agree"
    ;;
esac
grep -q "lost the PSK broker" "$logs/D-daemon.log" || fail "the daemon did not notice the lost link"
[ "$(grep -c "connected to the PSK broker" "$logs/D-daemon.log")" -ge 2 ] || fail "the daemon did not reconnect"
wait_for "on_host L ping -c 1 -W 1 -q '$net.9.2' > /dev/null" 30 || fail "no ping across the tunnel after the outage"
log "ping crosses the tunnel again"

# --- what the logs must not hold ------------------------------------------------------------------------
for key in "$k1" "$k2" "$k_out"; do
    for file in "$logs/L-broker.log" "$logs/D-daemon.log" "$logs/R-daemon.log" "$logs/L-link.log"; do
        [ -f "$file" ] || continue
        ! grep -qF "$key" "$file" || fail "a key appears in $file"
    done
done
no_secret_keys_on_local_peer
log "passed"
