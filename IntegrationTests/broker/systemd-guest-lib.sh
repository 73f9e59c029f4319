# Helpers for the checks that run inside the systemd guests (sourced as /test/lib.sh by
# /test/guest-test.sh; see systemd_guest_suite in lib.sh). The checks report "RP-RESULT NAME ..."
# lines on the serial console, which the host suite reads with guest_result.

result() { echo "RP-RESULT $*"; }

# The base64 preshared key of interface $1's (one) peer, "(none)" for none, empty without the interface.
psk() { wg show "$1" preshared-keys 2> /dev/null | awk '{ print $2 }'; }

main_pid() { systemctl show --property MainPID --value "$1"; }

# Who unit $1's main process runs as: "dynamic" for one of systemd's dynamic users (UIDs 61184 to
# 65519, DynamicUser=yes), else the account's name ("uid-N" without one).
user_kind() {
    local uid
    uid=$(awk '/^Uid:/ { print $2 }' "/proc/$(main_pid "$1")/status" 2> /dev/null)
    if [ "${uid:-0}" -ge 61184 ] && [ "$uid" -le 65519 ]; then
        echo dynamic
    else
        getent passwd "${uid:-none}" | cut -d: -f1 | grep . || echo "uid-${uid:-none}"
    fi
}

# Waits up to $1 seconds for interfaces $2 and $3 to hold one key that is none of the further
# arguments (nor "(none)").
same_new_key() {
    local limit=$1 a=$2 b=$3 key old
    shift 3
    for _ in $(seq 1 $(( limit * 5 ))); do
        key=$(psk "$a")
        if [ -n "$key" ] && [ "$key" != "(none)" ] && [ "$key" = "$(psk "$b")" ]; then
            for old in "$@"; do [ "$key" = "$old" ] && key=""; done
            [ -n "$key" ] && return 0
        fi
        sleep 0.2
    done
    return 1
}

# Waits up to 10 seconds for unit $1's journal to show a line matching $2 (grep's pattern).
journal_shows() {
    for _ in $(seq 1 50); do
        journalctl --no-pager --unit="$1" | grep -q "$2" && return 0
        sleep 0.2
    done
    return 1
}

# Waits up to 30 seconds for unit $1 to run with a main process other than $2.
restarted() {
    local pid
    for _ in $(seq 1 150); do
        pid=$(main_pid "$1")
        [ "$pid" != 0 ] && [ "$pid" != "$2" ] && return 0
        sleep 0.2
    done
    return 1
}

# Ends the checks: reports KEY-IN-LOG if one of the keys given appears in the journal, shows the
# last lines the units named after "--" logged, reports "done" and powers the guest off.
# Usage: finish KEY... -- UNIT...
finish() {
    journalctl --no-pager > /tmp/journal.txt 2>&1
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        [ -n "$1" ] && [ "$1" != "(none)" ] && grep -qF "$1" /tmp/journal.txt && result "KEY-IN-LOG"
        shift
    done
    shift
    journalctl --no-pager "${@/#/--unit=}" | grep -v "systemd\[1\]" | tail -n 12 | sed 's/^/RP-LOG /'
    result done
    sync
    systemctl poweroff --force --force
}
