#!/bin/bash
# The checks of test-units-systemd-qemu.sh, run in its guest by systemd (rp-guest-test.service) once
# the system is up: the reference's package test with the installed rp@.service.
source /test/lib.sh
result "kernel $(uname -r)"

if /test/package-test-setup.sh; then result "keys made"; else result "keys failed"; fi
# Before the step example.toml asks for, the unit's user cannot reach the peer's public keys in the
# 0700 folder rp genkey made: the start fails, and the journal says who was denied what.
systemctl start rp@server.service
journal_shows rp@server.service "Permission denied"
denied=$(journalctl --no-pager -u rp@server | grep -o "peers/client/[a-z]*: open failed: Permission denied (os error 13); user [0-9]* may not open it or search a folder on its way" | head -1)
result "denied ${denied:-nothing logged}"
systemctl stop rp@server.service
systemctl reset-failed rp@server.service 2> /dev/null
chmod 0755 /etc/rosenpass/server /etc/rosenpass/client  # as example.toml says
modes=$(stat -c '%a %U' /etc/rosenpass/server/pqsk /etc/rosenpass/server/wgsk)
result "secret-keys ${modes//$'\n'/, }"

start=$(date +%s)
systemctl start rp@server.service rp@client.service
if same_new_key 60 rp-server rp-client; then result "agreed yes $(( $(date +%s) - start ))"; else result "agreed no $(psk rp-server) $(psk rp-client)"; fi
agreed=$(psk rp-server)
result "users $(user_kind rp@server.service) $(user_kind rp@client.service)"

systemctl stop rp@server.service
state=$(systemctl is-active rp@server.service)
if ip link show rp-server > /dev/null 2>&1; then result "stopped $state left"; else result "stopped $state gone"; fi

# An upgrade (the same package again) restarts running instances on the new programs; they agree
# on a new key.
systemctl start rp@server.service
same_new_key 60 rp-server rp-client "$agreed"
before=$(psk rp-server)
pids="$(main_pid rp@server.service) $(main_pid rp@client.service)"
start=$(date +%s)
dpkg -i /test/package.deb > /tmp/upgrade.log 2>&1 || result "upgrade-failed $(tail -3 /tmp/upgrade.log)"
if [ "$(main_pid rp@server.service) $(main_pid rp@client.service)" = "$pids" ]; then
    result "upgrade not-restarted"
elif same_new_key 60 rp-server rp-client "$before"; then
    result "upgrade restarted $(( $(date +%s) - start ))"
else
    result "upgrade no-key $(psk rp-server) $(psk rp-client)"
fi
upgraded=$(psk rp-server)

# Removal stops the running instances before their programs go; rp removes its interfaces.
dpkg -r swift-rosenpass > /tmp/remove.log 2>&1 || result "remove-failed $(tail -3 /tmp/remove.log)"
left=""
for unit in rp@server.service rp@client.service; do
    [ "$(systemctl is-active "$unit")" = inactive ] || left="$left $unit"
done
for interface in rp-server rp-client; do ip link show "$interface" > /dev/null 2>&1 && left="$left $interface"; done
pgrep -x rp > /dev/null 2>&1 && left="$left rp-processes"
[ -e /usr/bin/rp ] && left="$left /usr/bin/rp"
result "removed ${left:-clean}"

finish "$agreed" "$upgraded" -- rp@server.service rp@client.service
