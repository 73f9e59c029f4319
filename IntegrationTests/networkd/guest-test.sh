#!/bin/bash
# The checks of test-networkd-qemu.sh, run in its guest by systemd (rp-guest-test.service) once the
# system is up. systemd-networkd has made wg0 and wg1, peers of each other over loopback, with the
# initial preshared key /test/initial.psk; rosenpass@wg0 and rosenpass-brokered@wg1 are configured
# (rosenpass-broker.service allows wg1's peer); the drop-in waits in /test/networkd.conf.
source /test/lib.sh
initial=$(cat /test/initial.psk)
units=(rosenpass@wg0.service rosenpass-brokered@wg1.service)
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
if same_new_key 120 wg0 wg1 "$initial"; then result "exchanged yes $(psk wg0)"; else result "exchanged no $(psk wg0) $(psk wg1)"; fi
exchanged=$(psk wg0)
result "users $(user_kind "${units[0]}") $(user_kind "${units[1]}") $(user_kind rosenpass-broker.service)"

# ExecReload= (SIGHUP): the daemon reads its configuration again (its credential included) and goes on.
pid=$(main_pid "${units[0]}")
systemctl reload "${units[0]}"
logged=no
journal_shows "${units[0]}" "SIGHUP: reloading the configuration" && logged=yes
sleep 1
failure=$(journalctl --no-pager -u "${units[0]}" | grep "reload: " | tail -1)
if [ "$(main_pid "${units[0]}")" != "$pid" ]; then
    result "reload restarted"
elif [ -n "$failure" ]; then
    result "reload failed $failure"
elif [ $logged = yes ]; then
    result "reload done $(systemctl is-active "${units[0]}")"
else
    result "reload not-logged"
fi

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
if same_new_key 60 wg0 wg1 "$initial" "$exchanged"; then
    result "recovered yes $(( $(date +%s) - start ))"
else
    result "recovered no $(psk wg0) $(psk wg1)"
fi
# The drop-in's ExecStartPre= waited for networkd to configure the interface, and did not time out.
result "wait-online $(systemctl show --property ExecStartPre --value "${units[0]}" | grep -o 'status=[0-9]*' | head -1)"
[ "$pids" != "$(main_pid "${units[0]}") $(main_pid "${units[1]}")" ] || result "recovered-without-restart $pids"
result "networkd-errors $(journalctl --no-pager -u systemd-networkd | grep -ci 'error\|failed')"

finish "$exchanged" "$(psk wg0)" -- "${units[@]}" rosenpass-broker.service
