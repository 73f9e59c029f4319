#!/bin/sh
# /init of the QEMU guests that boot Debian with systemd (systemd_guest_suite in lib.sh): loads
# the WireGuard module and its dependencies (the guest system has no /lib/modules of this kernel),
# then hands over to systemd. The suite's checks run as rp-guest-test.service once the system is up.
mount -t devtmpfs devtmpfs /dev
for module in $(cat /test/modules.order); do
    insmod "/test/modules/$module" || echo "RP-RESULT insmod-failed $module" > /dev/console
done
exec /lib/systemd/systemd
