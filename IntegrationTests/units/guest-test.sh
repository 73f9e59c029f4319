#!/bin/bash
# The checks of test-units-systemd-qemu.sh, run in its guest by systemd (rp-guest-test.service) once
# the system is up: the reference's package test with the installed rp@.service. Prints "RP-RESULT"
# lines on the serial console; the host suite checks them.
result() { echo "RP-RESULT $*"; }
psk() { wg show "$1" preshared-keys 2> /dev/null | awk '{ print $2 }'; }
main_pid() { systemctl show --property MainPID --value "$1"; }
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$(main_pid "$1")/status" 2> /dev/null; }
result "kernel $(uname -r)"

# Keys and configurations as the example's comments say.
example=/etc/rosenpass/example.toml
sed -e 's/^dev = .*/dev = "rp-server"/' -e 's#^private_keys_dir = .*#private_keys_dir = "/run/credentials/rp@server.service"#' \
    -e 's#^public_keys_dir = .*#public_keys_dir = "/etc/rosenpass/server/peers/client"#' "$example" > /etc/rosenpass/server.toml
sed -e 's/^dev = .*/dev = "rp-client"/' -e 's#^ip = .*#ip = "fc00::2/64"#' -e 's#^listen = .*#listen = "[::]:51831"#' \
    -e 's#^private_keys_dir = .*#private_keys_dir = "/run/credentials/rp@client.service"#' \
    -e 's#^public_keys_dir = .*#public_keys_dir = "/etc/rosenpass/client/peers/server"#' \
    -e 's/^allowed_ips = .*/allowed_ips = "fc00::1"/' -e 's/^# endpoint = .*/endpoint = "[::1]:51821"/' "$example" > /etc/rosenpass/client.toml
if rp genkey /etc/rosenpass/server > /dev/null 2>&1 && rp genkey /etc/rosenpass/client > /dev/null 2>&1 \
    && rp pubkey /etc/rosenpass/server /etc/rosenpass/client/peers/server > /dev/null 2>&1 \
    && rp pubkey /etc/rosenpass/client /etc/rosenpass/server/peers/client > /dev/null 2>&1; then
    result "keys made"
else
    result "keys failed"
fi
# Before the step example.toml asks for, the unit's user cannot reach the peer's public keys in the
# 0700 folder rp genkey made: the start fails, and the journal says who was denied what.
systemctl start rp@server.service
for _ in $(seq 1 50); do
    journalctl --no-pager -u rp@server | grep -q "Permission denied" && break
    sleep 0.2
done
denied=$(journalctl --no-pager -u rp@server | grep -o "peers/client/[a-z]*: open failed: Permission denied (os error 13); user [0-9]* may not open it or search a folder on its way" | head -1)
result "denied ${denied:-nothing logged}"
systemctl stop rp@server.service
systemctl reset-failed rp@server.service 2> /dev/null
chmod 0755 /etc/rosenpass/server /etc/rosenpass/client  # as example.toml says
modes=$(stat -c '%a %U' /etc/rosenpass/server/pqsk /etc/rosenpass/server/wgsk)
result "secret-keys ${modes//$'\n'/, }"

start=$(date +%s)
systemctl start rp@server.service rp@client.service
agreed=""
for _ in $(seq 1 300); do
    a=$(psk rp-server); b=$(psk rp-client)
    [ -n "$a" ] && [ "$a" != "(none)" ] && [ "$a" = "$b" ] && { agreed=$a; break; }
    sleep 0.2
done
if [ -n "$agreed" ]; then result "agreed yes $(( $(date +%s) - start ))"; else result "agreed no $(psk rp-server) $(psk rp-client)"; fi
users=()
for unit in rp@server.service rp@client.service; do  # systemd's dynamic users have UIDs 61184 to 65519
    uid=$(uid_of "$unit")
    if [ "${uid:-0}" -ge 61184 ] && [ "$uid" -le 65519 ]; then users+=(dynamic); else users+=("uid-${uid:-none}"); fi
done
result "users ${users[*]}"

systemctl stop rp@server.service
state=$(systemctl is-active rp@server.service)
if ip link show rp-server > /dev/null 2>&1; then result "stopped $state left"; else result "stopped $state gone"; fi
systemctl stop rp@client.service

journalctl --no-pager > /tmp/journal.txt 2>&1
[ -n "$agreed" ] && grep -qF "$agreed" /tmp/journal.txt && result "KEY-IN-LOG"
journalctl --no-pager -u rp@server -u rp@client | grep -v "systemd\[1\]" | head -n 12 | sed 's/^/RP-LOG /'
result done
sync
systemctl poweroff --force --force
