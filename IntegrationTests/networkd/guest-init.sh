#!/bin/busybox sh
# /init of the QEMU guest of test-networkd-qemu.sh: systemd-networkd owns two kernel WireGuard
# interfaces, wg0 and wg1, peers of each other over loopback, each peer with a random initial
# preshared key (PresharedKeyFile=); two rosenpass daemons, run with rosenpass@.service's command
# line, keep the key fresh through their default broker. Then networkd is restarted, which pushes
# its own key again, and one daemon is restarted, as `PartOf=systemd-networkd.service` would.
# Prints "RP-RESULT" lines on the serial console; the host suite checks them.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run && mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run
result() { echo "RP-RESULT $*"; }
psk() { wg show "$1" preshared-keys 2> /dev/null | awk '{ print $2 }'; }

for module in $(cat /modules.order); do
    insmod "/modules/$module" || result "insmod-failed $module"
done
ip link set lo up
result "kernel $(uname -r)"

# networkd reads the key files after dropping to its own user.
chown -R 0:101 /etc/systemd/network /test/net
chmod 0750 /test/net
chmod 0640 /test/net/*

start_networkd() {
    /lib/systemd/systemd-networkd >> /tmp/networkd.log 2>&1 &
    networkd=$!
}
start_networkd
for _ in $(seq 1 150); do
    [ -n "$(psk wg0)" ] && [ -n "$(psk wg1)" ] && break
    sleep 0.2
done
initial=$(cat /test/net/initial.psk)
result "networkd-initial $(psk wg0) $(psk wg1)"

daemon() {
    /opt/rosenpass/rosenpass exchange-config "/test/$1.toml" >> "/tmp/$1.log" 2>&1 &
    eval "daemon_$1=\$!"
}
agree() {  # waits up to $1 seconds for wg0 and wg1 to hold one key that is not networkd's
    for _ in $(seq 1 $(( $1 * 5 ))); do
        a=$(psk wg0); b=$(psk wg1)
        [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$initial" ] && return 0
        sleep 0.2
    done
    return 1
}
daemon wg0
daemon wg1
if agree 120; then result "exchanged yes"; else result "exchanged no $(psk wg0) $(psk wg1)"; fi
exchanged=$(psk wg0)

# A networkd restart pushes the configured peers again, preshared key included.
kill "$networkd"; wait "$networkd" 2> /dev/null
start_networkd
for _ in $(seq 1 100); do
    [ "$(psk wg0)" = "$initial" ] && [ "$(psk wg1)" = "$initial" ] && break
    sleep 0.2
done
result "after-networkd-restart $(psk wg0) $(psk wg1)"

# What PartOf=systemd-networkd.service does on the host whose networkd restarted: the daemon
# restarts, erases its key, and a fresh handshake with the other side agrees on a new one.
kill "$daemon_wg0"; wait "$daemon_wg0" 2> /dev/null
daemon wg0
start=$(date +%s)
if agree 60; then result "recovered yes $(( $(date +%s) - start ))"; else result "recovered no $(psk wg0) $(psk wg1)"; fi

kill "$daemon_wg0" "$daemon_wg1" "$networkd" 2> /dev/null
[ -n "$exchanged" ] && grep -qF "$exchanged" /tmp/wg0.log /tmp/wg1.log && result "KEY-IN-LOG"
result "networkd-log $(grep -ci 'error\|failed' /tmp/networkd.log)"
tail -n 5 /tmp/networkd.log | sed 's/^/RP-LOG networkd: /'
tail -n 5 /tmp/wg0.log | sed 's/^/RP-LOG wg0: /'
result done
poweroff -f
