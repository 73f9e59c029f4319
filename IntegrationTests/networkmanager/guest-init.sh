#!/bin/sh
# /init of the QEMU guest of test-networkmanager-qemu.sh: loads the WireGuard module and its
# dependencies (the guest system has no /lib/modules of this kernel), then hands over to systemd.
# The checks run as rp-nm-test.service (guest-test.sh) once the system is up.
mount -t devtmpfs devtmpfs /dev
for module in $(cat /test/modules.order); do
    insmod "/test/modules/$module" || echo "RP-RESULT insmod-failed $module" > /dev/console
done
exec /lib/systemd/systemd
