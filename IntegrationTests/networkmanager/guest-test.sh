#!/bin/bash
# The checks of test-networkmanager-qemu.sh, run in its guest by systemd (rp-nm-test.service) once
# the system is up. NetworkManager has the connections wg0 and wg1, peers of each other over
# loopback, each with the stored initial preshared key /test/initial.psk; /etc/rosenpass/wg0.toml and
# wg1.toml configure rosenpass@wg0 and rosenpass@wg1; the dispatcher script 90-rosenpass is
# installed. Prints "RP-RESULT" lines on the serial console; the host suite checks them.
result() { echo "RP-RESULT $*"; }
psk() { wg show "$1" preshared-keys 2> /dev/null | awk '{ print $2 }'; }
connected() { [ "$(nmcli -g GENERAL.STATE device show "$1" 2> /dev/null)" = "100 (connected)" ]; }
initial=$(cat /test/initial.psk)
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
main_pid() { systemctl show --property MainPID --value "rosenpass@$1.service"; }
# Waits up to 30 seconds for rosenpass@$1 to run with a main process other than $2.
restarted() {
    for _ in $(seq 1 150); do
        pid=$(main_pid "$1")
        [ "$pid" != 0 ] && [ "$pid" != "$2" ] && return 0
        sleep 0.2
    done
    return 1
}

result "kernel $(uname -r)"
for _ in $(seq 1 300); do
    connected wg0 && connected wg1 && break
    sleep 0.2
done
result "nm-initial $(psk wg0) $(psk wg1)"

# The units, started but not enabled: the dispatcher script acts only for enabled ones.
systemctl start rosenpass@wg0.service rosenpass@wg1.service
if agree 120; then result "exchanged yes $(psk wg0)"; else result "exchanged no $(psk wg0) $(psk wg1)"; fi
exchanged=$(psk wg0)
# systemd's dynamic users have UIDs 61184 to 65519 (DynamicUser=yes).
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$(main_pid wg0)/status")
if [ "${uid:-0}" -ge 61184 ] && [ "$uid" -le 65519 ]; then result "unit-user dynamic"; else result "unit-user uid ${uid:-none}"; fi

# A reapply writes the profile's key again; nothing restarts the daemon.
reapply() {  # reapplies wg0's connection, then waits up to 10 seconds for wg0's key to change
    local before
    before=$(psk wg0)
    nmcli device reapply wg0 > /dev/null
    for _ in $(seq 1 50); do
        [ "$(psk wg0)" != "$before" ] && break
        sleep 0.2
    done
}
reapply
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
reapply
result "reapply-after-nm-restart $(psk wg0)"

# The two sides hold different keys now; the units would agree again at the next rekey. Enabled,
# the units are restarted by the dispatcher script at the next reapply or activation.
systemctl enable rosenpass@wg0.service rosenpass@wg1.service 2> /dev/null
before=$(psk wg0)
pid=$(main_pid wg0)
start=$(date +%s)
nmcli device reapply wg0 > /dev/null
if restarted wg0 "$pid" && agree 60 "$before"; then
    result "recovered-reapply yes $(( $(date +%s) - start ))"
else
    result "recovered-reapply no pid $pid→$(main_pid wg0) $(psk wg0) $(psk wg1)"
fi

before=$(psk wg0)
pid=$(main_pid wg0)
start=$(date +%s)
nmcli connection down wg0 > /dev/null
nmcli connection up wg0 > /dev/null
if restarted wg0 "$pid" && agree 60 "$before"; then
    result "recovered-up yes $(( $(date +%s) - start ))"
else
    result "recovered-up no pid $pid→$(main_pid wg0) $(psk wg0) $(psk wg1)"
fi

journalctl --no-pager > /tmp/journal.txt 2>&1
for key in "$exchanged" "$(psk wg0)"; do
    [ -n "$key" ] && [ "$key" != "$initial" ] && grep -qF "$key" /tmp/journal.txt && result "KEY-IN-LOG"
done
journalctl --no-pager -u rosenpass@wg0 | tail -n 8 | sed 's/^/RP-LOG /'
journalctl --no-pager -u NetworkManager-dispatcher | tail -n 5 | sed 's/^/RP-LOG /'
result done
sync
systemctl poweroff --force --force
