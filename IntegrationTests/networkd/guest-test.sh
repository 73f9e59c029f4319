#!/bin/bash
# The checks of test-networkd-qemu.sh, run in its guest by systemd (rp-guest-test.service) once the
# system is up. systemd-networkd has made wg0 and wg1, peers of each other over loopback, with the
# initial preshared key /test/initial.psk; rosenpass@wg0 and rosenpass-brokered@wg1 are configured
# (rosenpass-broker.service allows wg1's peer); the drop-in waits in /test/networkd.conf. Prints
# "RP-RESULT" lines on the serial console; the host suite checks them.
result() { echo "RP-RESULT $*"; }
psk() { wg show "$1" preshared-keys 2> /dev/null | awk '{ print $2 }'; }
initial=$(cat /test/initial.psk)
units=(rosenpass@wg0.service rosenpass-brokered@wg1.service)
# Waits up to $1 seconds for wg0 and wg1 to hold one key that is neither networkd's nor $2.
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
# Waits up to $1 seconds for wg0 and wg1 both to hold networkd's key.
networkd_keys() {
    for _ in $(seq 1 $(( $1 * 5 ))); do
        [ "$(psk wg0)" = "$initial" ] && [ "$(psk wg1)" = "$initial" ] && return 0
        sleep 0.2
    done
    return 1
}

result "kernel $(uname -r)"
networkd_keys 60
result "networkd-initial $(psk wg0) $(psk wg1)"

systemctl start "${units[@]}"
if agree 120; then result "exchanged yes $(psk wg0)"; else result "exchanged no $(psk wg0) $(psk wg1)"; fi
exchanged=$(psk wg0)
users=()
for unit in "${units[@]}"; do  # systemd's dynamic users have UIDs 61184 to 65519
    uid=$(uid_of "$unit")
    if [ "${uid:-0}" -ge 61184 ] && [ "$uid" -le 65519 ]; then users+=(dynamic); else users+=("uid-${uid:-none}"); fi
done
[ "$(uid_of rosenpass-broker.service)" = "$(id -u rosenpass-broker)" ] && users+=(rosenpass-broker) || users+=("uid-$(uid_of rosenpass-broker.service)")
result "users ${users[*]}"

# Without the drop-in: a networkd restart pushes networkd's key; the daemons go on with theirs.
systemctl restart systemd-networkd.service
networkd_keys 20
result "after-networkd-restart $(psk wg0) $(psk wg1)"

# With the drop-in (as docs/packaging.md installs it), the restart takes the units with it.
for unit in "${units[@]}"; do
    mkdir -p "/etc/systemd/system/$unit.d"
    cp /test/networkd.conf "/etc/systemd/system/$unit.d/networkd.conf"
done
systemctl daemon-reload
pids="$(main_pid "${units[0]}") $(main_pid "${units[1]}")"
start=$(date +%s)
systemctl restart systemd-networkd.service
if agree 60 "$exchanged"; then
    result "recovered yes $(( $(date +%s) - start ))"
else
    result "recovered no $(psk wg0) $(psk wg1)"
fi
# The drop-in's ExecStartPre= waited for networkd to configure the interface, and did not time out.
result "wait-online $(systemctl show --property ExecStartPre --value "${units[0]}" | grep -o 'status=[0-9]*' | head -1)"
now="$(main_pid "${units[0]}") $(main_pid "${units[1]}")"
[ "$pids" != "$now" ] || result "recovered-without-restart $pids"

journalctl --no-pager > /tmp/journal.txt 2>&1
for key in "$exchanged" "$(psk wg0)"; do
    [ -n "$key" ] && [ "$key" != "$initial" ] && grep -qF "$key" /tmp/journal.txt && result "KEY-IN-LOG"
done
result "networkd-errors $(journalctl --no-pager -u systemd-networkd | grep -ci 'error\|failed')"
journalctl --no-pager -u rosenpass@wg0 -u rosenpass-brokered@wg1 -u rosenpass-broker | tail -n 12 | sed 's/^/RP-LOG /'
result done
sync
systemctl poweroff --force --force
