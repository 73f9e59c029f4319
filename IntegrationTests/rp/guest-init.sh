#!/bin/busybox sh
# shellcheck shell=dash
# /init of the QEMU guest in which test-rp-kernel-qemu.sh runs `rp exchange` against kernel WireGuard
# (rtnetlink + generic netlink, no wireguard-go). Two rp processes, "alice" (interface rpa, Rosenpass
# on 127.0.0.1:9999) and "bob" (rpb, endpoint alice), share the guest's one network namespace.
# Prints lines starting with "RP-RESULT" on the serial console; the host suite checks them.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run && mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run
result() { echo "RP-RESULT $*"; }

while read -r module; do
    insmod "/modules/$module" || result "insmod-failed $module"
done < /modules.order
ip link set lo up
result "kernel $(uname -r)"

rp=/opt/rosenpass/rp
alice_pk=$(cat /test/alice.public/wgpk)
bob_pk=$(cat /test/bob.public/wgpk)
$rp verbose exchange /test/alice.private dev rpa ip 10.79.0.1/32 listen 127.0.0.1:9999 \
    peer /test/bob.public allowed-ips 10.79.0.2/32,fd79::2 > /tmp/alice.log 2>&1 &
alice=$!
$rp exchange /test/bob.private dev rpb ip 10.79.0.2/32 listen 127.0.0.1:8888 \
    peer /test/alice.public endpoint 127.0.0.1:9999 persistent-keepalive 1 allowed-ips 10.79.0.1/32 > /tmp/bob.log 2>&1 &
bob=$!

# Software emulation is slow: allow a minute for start-up and the first exchange.
i=0
until grep -q ' is up with ' /tmp/alice.log && grep -q ' is up with ' /tmp/bob.log; do
    i=$((i + 1)); [ $i -gt 600 ] && break; sleep 0.1
done
result "alice-up $(grep ' is up with ' /tmp/alice.log)"
result "bob-up $(grep ' is up with ' /tmp/bob.log)"
psk() { wg show "$1" preshared-keys | awk -v p="$2" '$1 == p { print $2 }'; }
i=0
while :; do
    a=$(psk rpa "$bob_pk"); b=$(psk rpb "$alice_pk")
    [ -n "$a" ] && [ "$a" != "(none)" ] && [ "$a" = "$b" ] && break
    i=$((i + 1)); [ $i -gt 600 ] && break; sleep 0.1
done
result "psk-alice $a"
result "psk-bob $b"
# Bob's keepalive makes WireGuard shake hands; it only succeeds with equal PSKs on both sides.
i=0
until [ "$(wg show rpb latest-handshakes | awk '{ print $2 }')" != 0 ]; do
    i=$((i + 1)); [ $i -gt 300 ] && break; sleep 0.1
done
result "handshake $(wg show rpb latest-handshakes | awk '{ print $2 }')"
result "alice-port $(wg show rpa listen-port)"
result "bob-port $(wg show rpb listen-port)"
result "bob-endpoint $(wg show rpb endpoints | awk '{ print $2 }')"
result "alice-allowed $(wg show rpa allowed-ips | cut -f2)"
result "alice-peers $(wg show rpa peers | wc -l)"
result "routes4 $(ip route | grep -E 'dev rp[ab]' | tr '\n' ';')"
result "routes6 $(ip -6 route | grep -E '^fd79' | tr '\n' ';')"
result "address $(ip addr show dev rpa | grep -o 'inet [0-9./]*')"
grep -qF "$a" /tmp/alice.log /tmp/bob.log && result "KEY-IN-LOG"

kill -TERM $alice $bob
wait $alice; result "alice-exit $?"
wait $bob; result "bob-exit $?"
ip link show rpa > /dev/null 2>&1 && result "rpa-left"
ip link show rpb > /dev/null 2>&1 && result "rpb-left"
sed 's/^/RP-LOG alice: /' /tmp/alice.log
sed 's/^/RP-LOG bob: /' /tmp/bob.log
result "done"
poweroff -f
