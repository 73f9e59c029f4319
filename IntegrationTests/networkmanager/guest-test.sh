#!/bin/bash
# The checks of test-networkmanager-qemu.sh, run in its guest by systemd (rp-guest-test.service) once
# the system is up. NetworkManager has the connections wg0 and wg1, peers of each other over
# loopback, each with the stored initial preshared key /test/initial.psk; /etc/rosenpass/wg0.toml and
# wg1.toml configure rosenpass@wg0 and rosenpass-brokered@wg1 (rosenpass-broker.service allows wg1's
# peer); the dispatcher script 90-rosenpass is installed.
source /test/lib.sh
connected() { [ "$(nmcli -g GENERAL.STATE device show "$1" 2> /dev/null)" = "100 (connected)" ]; }
both_connected() {
    for _ in $(seq 1 300); do
        connected wg0 && connected wg1 && return 0
        sleep 0.2
    done
    return 1
}
initial=$(cat /test/initial.psk)
declare -A unit=([wg0]=rosenpass@wg0.service [wg1]=rosenpass-brokered@wg1.service)
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
# Runs the command $3... that makes NetworkManager push interface $2's key again, and reports (as
# "recovered-$1") whether the dispatcher script restarted its unit and both sides agreed on a new
# key, and how long that took.
recovers() {
    local name=$1 interface=$2 before pid start
    shift 2
    before=$(psk "$interface")
    pid=$(main_pid "${unit[$interface]}")
    start=$(date +%s)
    "$@" > /dev/null
    if restarted "${unit[$interface]}" "$pid" && same_new_key 60 wg0 wg1 "$initial" "$before"; then
        result "recovered-$name yes $(( $(date +%s) - start ))"
    else
        result "recovered-$name no pid $pid→$(main_pid "${unit[$interface]}") $(psk wg0) $(psk wg1)"
    fi
}
up_again() { nmcli connection down "$1" && nmcli connection up "$1"; }

result "kernel $(uname -r)"
both_connected
result "nm-initial $(psk wg0) $(psk wg1)"

# The units, started but not enabled: the dispatcher script acts only for enabled ones.
systemctl start "${unit[wg0]}" "${unit[wg1]}"
if same_new_key 120 wg0 wg1 "$initial"; then result "exchanged yes $(psk wg0)"; else result "exchanged no $(psk wg0) $(psk wg1)"; fi
exchanged=$(psk wg0)
result "users $(user_kind "${unit[wg0]}") $(user_kind "${unit[wg1]}") $(user_kind rosenpass-broker.service)"

# A reapply writes the profile's key again; nothing restarts the daemon.
reapply wg0
result "after-reapply $(psk wg0)"
# A NetworkManager restart takes the existing interfaces over as they are...
systemctl restart NetworkManager.service
both_connected
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

finish "$exchanged" "$(psk wg0)" -- "${unit[wg0]}" NetworkManager-dispatcher.service
