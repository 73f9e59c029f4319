#!/bin/busybox sh
# /init of the QEMU guest that tests the kernel (generic netlink) backend of the privileged broker.
# Prints lines starting with "RP-RESULT" on the serial console; the host suite checks them.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp
result() { echo "RP-RESULT $*"; }

for module in $(cat /modules.order); do
    insmod "/modules/$module" || result "insmod-failed $module"
done

ip link set lo up
ip link add wg0 type wireguard || result "no-wireguard-link"
wg set wg0 private-key /test/wg0.key listen-port 51820 \
    peer "$(cat /test/p1.pub)" allowed-ips 10.9.0.1/32 \
    peer "$(cat /test/p2.pub)" allowed-ips 10.9.0.2/32
ip link add wg1 type wireguard
wg set wg1 private-key /test/wg0.key peer "$(cat /test/p1.pub)" allowed-ips 10.8.0.1/32
result "kernel $(uname -r)"
result "wg-before $(wg show wg0 preshared-keys | tr '\t\n' ' ')"

broker=/opt/rosenpass/rosenpass-wireguard-broker-privileged
policy="--allow-peer wg0:$(cat /test/p1.pub) --allow-interface lo --allow-interface nosuch0 --allow-interface wg1"

# 1. As uid 1000 with no capabilities of its own; the binary carries CAP_NET_ADMIN as a file
#    capability (setcap CAP_NET_ADMIN=+eip), the way the broker is meant to be installed.
cp $broker /opt/rosenpass/broker-nocap
setcap CAP_NET_ADMIN=+eip $broker || result "setcap-failed"
result "caps $(getcap $broker)"
/usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps=-all \
    $broker $policy < /test/requests.bin > /tmp/answers.bin 2> /tmp/broker.log
result "exit $?"
result "answers $(od -An -tx1 -v /tmp/answers.bin | tr -d ' \n')"
result "wg-after $(wg show wg0 preshared-keys | tr '\t\n' ' ')"
result "peers $(wg show wg0 peers | wc -l)"
result "peers1 $(wg show wg1 peers | wc -l)"
grep -q "installed PSK on interface wg0" /tmp/broker.log && result "audit-line-present"
grep -qF "$(cat /test/psk1)" /tmp/broker.log && result "KEY-IN-LOG"
sed 's/^/RP-LOG /' /tmp/broker.log

# 2. The same uid and a copy of the binary without the file capability: the kernel must refuse, the
#    broker must answer 0x01.
/usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps=-all \
    /opt/rosenpass/broker-nocap < /test/request-psk2.bin > /tmp/answers-nocap.bin 2> /tmp/broker-nocap.log
result "nocap-answers $(od -An -tx1 -v /tmp/answers-nocap.bin | tr -d ' \n')"
result "wg-nocap $(wg show wg0 preshared-keys | tr '\t\n' ' ')"

result "done"
poweroff -f
