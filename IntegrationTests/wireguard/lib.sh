# shellcheck shell=bash
# Helpers for the WireGuard end-to-end suite (sourced by test-wireguard-e2e.sh, not run).
#
# Builds on ../broker/lib.sh (log, skip, on_exit, started_pids, as_user, wait_for, wg_psk, the EXIT
# trap that ends recorded processes and runs the cleanup steps in reverse). Everything here works on
# the associative arrays the suite declares, keyed "HOST-SETUP" (alice-def, bob-sock, …):
#   ns[HOST]           network namespace of a host
#   wgif[KEY]          WireGuard interface name (unique across hosts: the UAPI sockets share /run)
#   wgpub[KEY]         that interface's WireGuard public key
#   dir[KEY]           the daemon's folder (config, keys, key_out, logs)
#   runas[KEY]         the user the daemon runs as
#   daemon_pid[KEY]    the daemon's pid once started

# shellcheck source=SCRIPTDIR/../broker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../broker/lib.sh"

# Log files shown (their last lines) when the suite fails; the suite adds to it.
logs_to_show=()

# Replaces broker/lib.sh's fail: one suite here has many processes, so every log is shown.
fail() {
    echo "FAIL: $*" >&2
    local file
    for file in "${logs_to_show[@]}"; do
        [ -s "$file" ] || continue
        echo "--- ${file#"${work:-}/"} (last 15 lines)" >&2
        tail -15 "$file" >&2
    done
    exit 1
}

# Effective capabilities (hex, as /proc shows them) and real uid of a process.
cap_eff() { awk '/^CapEff:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# True while pid $1 runs (a zombie, exited but not yet reaped, counts as gone).
alive() {
    local stat state
    stat=$(cat "/proc/$1/stat" 2> /dev/null) || return 1
    state=${stat##*) }
    state=${state%% *}
    [ "$state" != Z ] && [ "$state" != X ]
}

# Drops pid $1 from the processes the cleanup ends (once it is gone, its number can be reused).
forget_pid() {
    local pid kept=()
    for pid in "${started_pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    started_pids=("${kept[@]}")
}

# The first child of pid $1 whose command line matches $2 (pgrep -f pattern), or nothing.
child_of() { pgrep -P "$1" -f "$2" | head -1 || true; }

# Ends every process in namespace $1 (SIGTERM, then SIGKILL after 5 s), for the cleanup.
end_namespace_processes() {
    local namespace=$1 pids _
    mapfile -t pids < <(ip netns pids "$namespace" 2> /dev/null)
    [ ${#pids[@]} -gt 0 ] || return 0
    kill "${pids[@]}" 2> /dev/null
    for _ in $(seq 50); do
        mapfile -t pids < <(ip netns pids "$namespace" 2> /dev/null)
        [ ${#pids[@]} -gt 0 ] || return 0
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2> /dev/null
}

# Starts wireguard-go for interface $2 in namespace $1, as root or (with $3) as that user with only
# CAP_NET_ADMIN. wireguard-go forks into the background once the interface is up; the namespace
# cleanup ends it.
start_wireguard_go() {
    local namespace=$1 interface=$2 user=${3:-}
    if [ -n "$user" ]; then
        ip netns exec "$namespace" setpriv --reuid="$user" --regid="$user" --init-groups \
            --inh-caps=+net_admin --ambient-caps=+net_admin wireguard-go "$interface" > /dev/null 2>&1 \
            || fail "wireguard-go $interface did not start as $user"
    else
        ip netns exec "$namespace" wireguard-go "$interface" > /dev/null 2>&1 || fail "wireguard-go $interface did not start"
    fi
    [ -S "/run/wireguard/$interface.sock" ] || fail "wireguard-go made no UAPI socket for $interface"
}

# Configures a WireGuard interface and its one peer with `wg` and brings it up.
#   $1 namespace  $2 interface  $3 private key file  $4 listen port  $5 own tunnel address (CIDR)
#   $6 peer public key  $7 peer tunnel address  $8 preshared key file  $9 peer endpoint (optional)
configure_wireguard() {
    local namespace=$1 interface=$2 key=$3 port=$4 address=$5 peer=$6 peer_address=$7 psk=$8 endpoint=${9:-}
    ip netns exec "$namespace" wg set "$interface" listen-port "$port" private-key "$key" \
        peer "$peer" allowed-ips "$peer_address/32" preshared-key "$psk" ${endpoint:+endpoint "$endpoint"} \
        || fail "wg set $interface failed"
    ip -n "$namespace" address add "$address" dev "$interface"
    ip -n "$namespace" link set "$interface" up
}

# The PSK WireGuard holds on the daemon KEY's side for its one peer (base64, "(none)" when unset).
wg_psk_of() { wg_psk "${ns[${1%%-*}]}" "${wgif[$1]}" "$2"; }

# The key the daemon KEY last wrote to key_out (base64), or nothing.
key_out_of() { cat "${dir[$1]}/osk" 2>/dev/null || true; }

# How many keys the daemon KEY announced on stdout as exchanged.
exchanges_of() { grep -c ' exchanged$' "${dir[$1]}/stdout.log" 2>/dev/null || true; }

# True when, for setup $1, both WireGuard sides hold the same PSK and it equals both key_out files.
# $2 (optional): a key the PSK must no longer be.
psks_agree() {
    local setup=$1 old=${2:-} a b ka kb
    ka=$(key_out_of "alice-$setup"); kb=$(key_out_of "bob-$setup")
    a=$(wg_psk_of "alice-$setup" "${wgpub[bob-$setup]}"); b=$(wg_psk_of "bob-$setup" "${wgpub[alice-$setup]}")
    [ -n "$ka" ] && [ "$ka" = "$kb" ] && [ "$a" = "$ka" ] && [ "$b" = "$ka" ] && [ "$ka" != "$old" ]
}

# Describes setup $1's keys, for failure messages.
describe_psks() {
    local setup=$1
    echo "key_out alice=$(key_out_of "alice-$setup") bob=$(key_out_of "bob-$setup");" \
        "wg alice=$(wg_psk_of "alice-$setup" "${wgpub[bob-$setup]}") bob=$(wg_psk_of "bob-$setup" "${wgpub[alice-$setup]}")"
}

# Pings $2 from namespace $1 through the tunnel; waits up to $3 seconds for one answer. WireGuard
# retries a failed handshake every 5 s, so the first answer after the PSKs come to agree can take that long.
tunnel_ping() { ip netns exec "$1" ping -n -q -c 1 -w "$3" "$2" > /dev/null 2>&1; }

# Writes the rosenpass configuration of daemon KEY ($1).
#   $2 listen address  $3 endpoint ("" for none)  $4 protocol version  $5 psk_broker path ("" for none)
#   $6 WireGuard device  $7 WireGuard peer public key
write_daemon_config() {
    local key=$1 listen=$2 endpoint=$3 version=$4 broker=$5 device=$6 peer=$7 folder=${dir[$1]}
    {
        echo "public_key = \"$folder/pqpk\""
        echo "secret_key = \"$folder/pqsk\""
        echo "listen = [\"$listen\"]"
        echo "verbosity = \"Verbose\""
        [ -z "$broker" ] || echo "psk_broker = \"$broker\""
        echo
        echo "[[peers]]"
        echo "public_key = \"$folder/peer.pqpk\""
        [ -z "$endpoint" ] || echo "endpoint = \"$endpoint\""
        echo "key_out = \"$folder/osk\""
        echo "device = \"$device\""
        echo "peer = \"$peer\""
        echo "protocol_version = \"$version\""
    } > "$folder/config.toml"
}

# Starts daemon KEY ($1) in its host's namespace as its user, with no capabilities of its own;
# further arguments go before the subcommand (e.g. --psk-broker PATH). `ip netns exec` and setpriv
# exec in place, so $! is the daemon itself. A restarted daemon adds to the logs of the one before.
start_daemon() {
    local key=$1; shift
    local folder=${dir[$key]}
    ip netns exec "${ns[${key%%-*}]}" setpriv --reuid="${runas[$key]}" --regid="${runas[$key]}" --init-groups --inh-caps=-all -- \
        "$work/bin/rosenpass" "$@" exchange-config "$folder/config.toml" >> "$folder/stdout.log" 2>> "$folder/stderr.log" &
    daemon_pid[$key]=$!
    started_pids+=("$!")
    logs_to_show+=("$folder/stderr.log" "$folder/stdout.log")
}

# Fails unless daemon KEY still runs; otherwise names how it ended (status, or the signal as 128+N).
expect_daemon_running() {
    local key=$1 status=0
    alive "${daemon_pid[$key]}" && return 0
    wait "${daemon_pid[$key]}" 2> /dev/null || status=$?
    fail "daemon $key stopped (exit status $status${2:+; $2})"
}

# Sends SIGTERM to daemon KEY and checks that it exits with status 0 within 10 s.
stop_daemon() {
    local key=$1 pid=${daemon_pid[$1]} status=0
    kill -TERM "$pid" 2>/dev/null || fail "daemon $key was already gone at the end"
    wait_for "! alive $pid" 10 || fail "daemon $key did not exit within 10 s of SIGTERM"
    wait "$pid" || status=$?
    forget_pid "$pid"
    [ "$status" -eq 0 ] || fail "daemon $key exited with status $status after SIGTERM"
}
