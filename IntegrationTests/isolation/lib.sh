# Helpers for test-multi-device-isolation.sh and its scenarios (sourced, not run).
#
# A "host" here is a network namespace plus a mount namespace of its own (kept alive by a sleeping
# process), in which /run/wireguard (wireguard-go's UAPI sockets), /dev/net (the tun
# device) and /run/sshd are private mounts: a process on one host cannot even name another host's
# WireGuard control socket. The rest of the filesystem is shared, so each host keeps its files in a
# directory of its own, owned by its own users and closed to the others.
#
# Exit statuses: 0 passed, 77 skipped, anything else failed. Every process started here is recorded
# and ended by pid (with its children); every host's remaining processes are ended by namespace.

iso_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
iso_repo=$(cd "$iso_here/../.." && pwd)
iso_label=${iso_label:-isolation}
cleanup_steps=()
started_pids=()

log() { echo "[$(date +%H:%M:%S)] $iso_label: $*" >&2; }

# Prints the tail of the logs named in $show_on_failure (space separated), then fails.
fail() {
    echo "FAIL ($iso_label): $*" >&2
    local file
    for file in ${show_on_failure:-}; do
        [ -f "$file" ] || continue
        echo "--- $file (last 25 lines)" >&2
        tail -25 "$file" >&2
    done
    exit 1
}
skip() { echo "SKIP ($iso_label): $*" >&2; exit 77; }

on_exit() { cleanup_steps+=("$*"); }

run_cleanup() {
    local status=$? i pid
    set +e
    # A second TERM (say, from a timeout that signals the whole process group, then from the parent)
    # must not cut the cleanup short.
    trap - ERR
    trap '' TERM INT
    for pid in "${started_pids[@]}"; do kill_tree "$pid"; done
    for (( i=${#cleanup_steps[@]}-1; i>=0; i-- )); do eval "${cleanup_steps[$i]}" >/dev/null 2>&1 || true; done
    exit "$status"
}
trap run_cleanup EXIT
trap 'exit 143' TERM INT
# A command that fails under `set -e` says where, instead of ending the run silently.
set -o errtrace
trap 'echo "FAIL ($iso_label): \"$BASH_COMMAND\" failed (status $?) at ${BASH_SOURCE[0]##*/}:$LINENO" >&2' ERR

require_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, users, setcap, sshd)"; }

require_tools() {
    local missing=() tool
    for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
    [ ${#missing[@]} -eq 0 ] || skip "missing tools: ${missing[*]} (scripts/install-test-dependencies.sh installs them)"
}

# Sleeps in the background, so that TERM is handled at once.
pause() { sleep "$1" & wait $!; }

# Waits up to $2 seconds (default 10) for the shell condition $1 to hold.
wait_for() {
    local condition=$1 limit=${2:-10} deadline
    deadline=$(( $(date +%s) + limit ))
    until eval "$condition"; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.3
    done
    return 0
}

# Sends TERM to $1 and everything below it, then KILL to what is left a second later.
kill_tree() {
    local root=$1 all=() queue=("$1") pid child
    while [ ${#queue[@]} -gt 0 ]; do
        pid=${queue[0]}; queue=("${queue[@]:1}")
        all+=("$pid")
        for child in $(pgrep -P "$pid" 2>/dev/null || true); do queue+=("$child"); done
    done
    kill "${all[@]}" 2>/dev/null || return 0
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "${all[@]}" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "${all[@]}" 2>/dev/null || true
    wait "$root" 2>/dev/null || true
    return 0
}

# An unprivileged system user (and its group) with no home and no shell; kept after the test
# (harmless). Further arguments are groups it should also be in.
ensure_user() {
    local name=$1 group; shift
    id -u "$name" >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$name" || fail "cannot create user $name"
    for group in "$@"; do usermod -a -G "$group" "$name" || fail "cannot add $name to group $group"; done
}
ensure_group() { getent group "$1" >/dev/null || groupadd --system "$1" || fail "cannot create group $1"; }

# --- hosts -------------------------------------------------------------------------------------

# host_create NAME [wireguard-user]: the namespaces of host NAME: network namespace $iso_prefix-NAME
# and a mount namespace held by a sleeping process. With a user, /run/wireguard belongs to it and
# /dev/net/tun is open to its group (for an unprivileged wireguard-go).
host_create() {
    local host=$1 wg_user=${2:-} ns="$iso_prefix-$1" holder ours
    ip netns add "$ns" || fail "cannot create network namespace $ns"
    on_exit "ip netns delete '$ns'"
    on_exit "host_stop '$host'"
    ip -n "$ns" link set lo up
    unshare --mount --propagation private sleep infinity &
    holder=$!
    started_pids+=("$holder")
    ours=$(readlink /proc/self/ns/mnt)
    wait_for "[ \"\$(readlink /proc/$holder/ns/mnt)\" != '$ours' ]" 5 || fail "cannot create the mount namespace of $host"
    printf -v "iso_mnt_$host" '%s' "/proc/$holder/ns/mnt"
    mkdir -p /run/wireguard /run/sshd
    on_host "$host" mount -t tmpfs -o mode=0755,size=1m "rp-$host-wireguard" /run/wireguard
    on_host "$host" mount -t tmpfs -o mode=0755,size=1m "rp-$host-sshd" /run/sshd
    if [ -n "$wg_user" ]; then
        on_host "$host" chown "$wg_user:" /run/wireguard
        on_host "$host" sh -e -c "mount -t tmpfs -o mode=0755,size=64k rp-$host-dev /dev/net
            mknod -m 0660 /dev/net/tun c 10 200; chgrp '$wg_user' /dev/net/tun"
    fi
}

# Runs a command (as root) on a host.
on_host() {
    local host=$1 mnt; shift
    mnt="iso_mnt_$host"
    mnt=${!mnt:?no host $host}
    if [ -n "${iso_exec:-}" ]; then
        exec nsenter --net="/run/netns/$iso_prefix-$host" --mount="$mnt" -- "$@"
    fi
    nsenter --net="/run/netns/$iso_prefix-$host" --mount="$mnt" -- "$@"
}

# Runs a command on a host as a user, with its groups and no capabilities.
as_user() {
    local host=$1 user=$2; shift 2
    on_host "$host" setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all -- "$@"
}

# Runs a command on a host as a user with CAP_NET_ADMIN and nothing else (for wireguard-go).
as_user_net_admin() {
    local host=$1 user=$2; shift 2
    on_host "$host" setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all,+net_admin \
        --ambient-caps=+net_admin -- "$@"
}

# Starts a command in the background (stdout and stderr to $1, appended) and records its pid in
# $last_pid and started_pids. A command run through on_host/as_user replaces the background shell,
# so the pid is the program's own.
start_logged() {
    local logfile=$1; shift
    ( iso_exec=1; "$@" ) >> "$logfile" 2>&1 &
    last_pid=$!
    started_pids+=("$last_pid")
}

# Ends whatever still runs in the host's network namespace.
host_stop() {
    local ns="$iso_prefix-$1" pids
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [ -n "$pids" ] || return 0
    kill $pids 2>/dev/null || true
    sleep 0.5
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null
    return 0
}

# connect HOST_A IF_A ADDR_A/24 HOST_B IF_B ADDR_B/24: a veth pair between two hosts.
connect() {
    local a=$1 ifa=$2 addra=$3 b=$4 ifb=$5 addrb=$6
    ip link add "$ifa" netns "$iso_prefix-$a" type veth peer name "$ifb" netns "$iso_prefix-$b" \
        || fail "cannot connect $a and $b"
    ip -n "$iso_prefix-$a" addr add "$addra" dev "$ifa"
    ip -n "$iso_prefix-$b" addr add "$addrb" dev "$ifb"
    ip -n "$iso_prefix-$a" link set "$ifa" up
    ip -n "$iso_prefix-$b" link set "$ifb" up
}

# The base64 PSK `wg show` reports on HOST for interface $2, peer $3.
wg_psk() { on_host "$1" wg show "$2" preshared-keys | awk -v p="$3" '$1 == p { print $2 }'; }

# The effective capability mask and uid of a process.
proc_caps() { awk '/^CapEff:/ { print $2 }' "/proc/$1/status"; }
proc_uid() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }

# Seconds since the epoch.
now() { date +%s; }

# --- the shipped files, with this test's paths put in -------------------------------------------

# render_file SRC DEST "from|to"...: copies SRC to DEST with each literal replacement made. Fails
# when a "from" text is missing from SRC: the shipped file changed, and this test must follow it.
render_file() {
    local src=$1 dest=$2 text pair; shift 2
    text=$(cat "$src")
    for pair in "$@"; do text=$(replace_literal "$src" "$text" "$pair") || exit 1; done
    printf '%s\n' "$text" > "$dest"
}

# unit_command UNIT ARRAY "from|to"...: the unit's ExecStart= command line (continuation lines
# joined) with the replacements made, split into words into the array named ARRAY.
unit_command() {
    local unit=$1 name=$2 text pair; shift 2
    text=$(awk '/^ExecStart=/ { on = 1; sub(/^ExecStart=/, "") }
                on { more = sub(/\\$/, ""); printf "%s ", $0; if (!more) exit }' "$unit")
    [ -n "$text" ] || fail "no ExecStart= in $unit"
    case $text in *[\"\'\$%]*) fail "$unit: ExecStart= uses quoting or specifiers this test does not expand" ;; esac
    for pair in "$@"; do text=$(replace_literal "$unit" "$text" "$pair") || exit 1; done
    read -r -a "$name" <<< "$text"
}

replace_literal() {
    local file=$1 text=$2 from=${3%%|*} to=${3#*|}
    [[ $text == *"$from"* ]] || fail "$file no longer contains '$from' (update this test)"
    printf '%s' "${text//"$from"/"$to"}"
}
