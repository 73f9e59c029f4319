#!/bin/bash
# The checks of test-networkmanager-qemu.sh, run in its guest by systemd (rp-guest-test.service) once
# the system is up. NetworkManager has the connections wg0 and wg1, peers of each other over
# loopback, each with the stored initial preshared key /test/initial.psk; /etc/rosenpass/wg0.toml and
# wg1.toml configure rosenpass@wg0 and rosenpass-brokered@wg1 (rosenpass-broker.service allows wg1's
# peer); the dispatcher script 90-rosenpass is installed. Prints "RP-RESULT" lines on the serial
# console; the host suite checks them.
result() { echo "RP-RESULT $*"; }
psk() { wg show "$1" preshared-keys 2> /dev/null | awk '{ print $2 }'; }
connected() { [ "$(nmcli -g GENERAL.STATE device show "$1" 2> /dev/null)" = "100 (connected)" ]; }
initial=$(cat /test/initial.psk)
declare -A unit=([wg0]=rosenpass@wg0.service [wg1]=rosenpass-brokered@wg1.service)
# Waits up to $1 seconds for wg0 and wg1 to hold one key that is neither NetworkManager's nor $2.
agree() {
    local a b
    for _ in $(seq 1 $(( $1 * 5 ))); do
        a=$(psk wg0); b=$(psk wg1)
        [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$initial" ] && [ "$a" != "${2:-}" ] && return 0
        sleep 0.2
    done
    return 1
}
main_pid() { systemctl show --property MainPID --value "$1"; }
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$(main_pid "$1")/status" 2> /dev/null; }
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
# Reapplies the connection of interface $1, then waits up to 10 seconds for its key to change.
reapply() {
    local before
    before=$(psk "$1")
    nmcli device reapply "$1" > /dev/null
    for _ in $(seq 1 50); do
        [ "$(psk "$1")" != "$before" ] && break
        sleep 0.2
    done
}
# Runs the command $2... that makes NetworkManager push interface $1's key again, and reports
# (as "recovered-$name") whether the dispatcher script restarted its unit and both sides agreed on
# a new key, and how long that took.
recovers() {
    local name=$1 interface=$2 before pid start
    shift 2
    before=$(psk "$interface")
    pid=$(main_pid "${unit[$interface]}")
    start=$(date +%s)
    "$@" > /dev/null
    if restarted "${unit[$interface]}" "$pid" && agree 60 "$before"; then
        result "recovered-$name yes $(( $(date +%s) - start ))"
    else
        result "recovered-$name no pid $pid→$(main_pid "${unit[$interface]}") $(psk wg0) $(psk wg1)"
    fi
}
up_again() { nmcli connection down "$1" && nmcli connection up "$1"; }

result "kernel $(uname -r)"
for _ in $(seq 1 300); do
    connected wg0 && connected wg1 && break
    sleep 0.2
done
result "nm-initial $(psk wg0) $(psk wg1)"

# The units, started but not enabled: the dispatcher script acts only for enabled ones.
systemctl start "${unit[wg0]}" "${unit[wg1]}"
if agree 120; then result "exchanged yes $(psk wg0)"; else result "exchanged no $(psk wg0) $(psk wg1)"; fi
exchanged=$(psk wg0)
users=()
for name in "${unit[wg0]}" "${unit[wg1]}"; do  # systemd's dynamic users have UIDs 61184 to 65519
    uid=$(uid_of "$name")
    if [ "${uid:-0}" -ge 61184 ] && [ "$uid" -le 65519 ]; then users+=(dynamic); else users+=("uid-${uid:-none}"); fi
done
[ "$(uid_of rosenpass-broker.service)" = "$(id -u rosenpass-broker)" ] && users+=(rosenpass-broker) || users+=("uid-$(uid_of rosenpass-broker.service)")
result "users ${users[*]}"

# A reapply writes the profile's key again; nothing restarts the daemon.
reapply wg0
result "after-reapply $(psk wg0)"
# A NetworkManager restart takes the existing interfaces over as they are...
systemctl restart NetworkManager.service
for _ in $(seq 1 150); do
    connected wg0 && connected wg1 && break
    sleep 0.2
done
sleep 2
result "after-nm-restart $(psk wg0) $(psk wg1)"
# ...but without the profile's secrets: a reapply then writes no key at all.
reapply wg0
result "reapply-after-nm-restart $(psk wg0)"

# The two sides hold different keys now; the units would agree again at the next rekey. Enabled,
# the units are restarted by the dispatcher script at the next reapply or activation.
systemctl enable "${unit[wg0]}" "${unit[wg1]}" 2> /dev/null
recovers reapply wg0 nmcli device reapply wg0
recovers up wg0 up_again wg0
recovers reapply-brokered wg1 nmcli device reapply wg1

journalctl --no-pager > /tmp/journal.txt 2>&1
for key in "$exchanged" "$(psk wg0)"; do
    [ -n "$key" ] && [ "$key" != "$initial" ] && grep -qF "$key" /tmp/journal.txt && result "KEY-IN-LOG"
done
journalctl --no-pager -u "${unit[wg0]}" | tail -n 6 | sed 's/^/RP-LOG /'
journalctl --no-pager -u NetworkManager-dispatcher | grep -v 01-ifupdown | tail -n 5 | sed 's/^/RP-LOG /'
result done
sync
systemctl poweroff --force --force
