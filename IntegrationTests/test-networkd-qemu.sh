#!/usr/bin/env bash
# systemd-networkd owns the WireGuard interfaces, Rosenpass keeps their preshared keys fresh
# (docs/packaging.md, "With systemd-networkd or NetworkManager owning the interface").
#
# A QEMU guest boots a Debian system with systemd as PID 1 and this project's package installed
# with dpkg (systemd_guest_suite in broker/lib.sh), systemd-networkd enabled. networkd makes wg0
# and wg1 from the package's example .netdev/.network files (the test's keys), peers of each other
# over loopback, each peer with PresharedKeyFile= (one random initial key). Both ways the package
# runs a daemon, as systemd starts its installed units: rosenpass@wg0 (its default broker) and
# rosenpass-brokered@wg1, which has no capability and reaches wg1 through rosenpass-broker.service
# and its allow-list. Their configuration is the example wg0.toml.
#
# Asserts: networkd installs the initial key on both; the units replace it with one fresh key on
# both; the daemons ran as dynamic users, the broker as rosenpass-broker; `systemctl reload
# rosenpass@wg0` reloads the daemon's configuration in place; a networkd restart puts networkd's key
# back (the behaviour docs/packaging.md warns about); with the example drop-in
# (PartOf=systemd-networkd.service, and an ExecStartPre= that waits for networkd to configure the
# interface) installed for both units, a networkd restart restarts them and both sides agree on a
# new key within seconds; the key never appears in the journal.
#
# The kernel is Debian's (as for the other QEMU suites); the guest's system is debootstrapped once
# into $ROSENPASS_TEST_CACHE (or .cache/).
set -euo pipefail
source "$(dirname "$0")/broker/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

systemd_guest_suite networkd-qemu "$here/networkd/guest-test.sh"
root=$guest_root
systemctl --root="$root" --quiet mask NetworkManager.service NetworkManager-wait-online.service
systemctl --root="$root" --quiet enable systemd-networkd.service

# networkd's keys: WireGuard, and one initial preshared key for both sides (0640, group
# systemd-network, as the example .netdev says).
network="$root/etc/systemd/network"
umask 077
for side in 0 1; do
    wg genkey > "$network/wg$side.key"
    wg pubkey < "$network/wg$side.key" > "$work/wg$side.pub"
done
wg genpsk > "$network/wg0.initial-psk"
cp "$network/wg0.initial-psk" "$network/wg1.initial-psk"
umask 022
initial=$(cat "$network/wg0.initial-psk")
echo "$initial" > "$root/test/initial.psk"
chroot "$root" chgrp systemd-network /etc/systemd/network/wg0.key /etc/systemd/network/wg1.key \
    /etc/systemd/network/wg0.initial-psk /etc/systemd/network/wg1.initial-psk
chmod 0640 "$network"/wg?.key "$network"/wg?.initial-psk

# The package's examples, as docs/packaging.md installs them, with the test's keys, names, ports
# and addresses. The drop-in waits in /test until the guest installs it.
examples="$broker_repo/packaging/examples/networkd"
for side in 0 1; do
    other=$((1 - side))
    sed -e "s/^Name=wg0/Name=wg$side/" -e "s#/etc/systemd/network/wg0\.#/etc/systemd/network/wg$side.#" \
        -e "s/^ListenPort=.*/ListenPort=5182$side/" -e "s#^PublicKey=.*#PublicKey=$(cat "$work/wg$other.pub")#" \
        -e "s#^AllowedIPs=.*#AllowedIPs=10.77.0.$((other + 1))/32#" \
        -e "s/^Endpoint=.*/Endpoint=127.0.0.1:5182$other/" "$examples/wg0.netdev" > "$network/50-wg$side.netdev"
    sed -e "s/^Name=wg0/Name=wg$side/" -e "s#^Address=.*#Address=10.77.0.$((side + 1))/24#" \
        "$examples/wg0.network" > "$network/50-wg$side.network"
done
write_daemon_configs
cp "$examples/rosenpass@wg0.service.d-networkd.conf" "$root/test/networkd.conf"
check_examples_filled "$network"/*.netdev "$network"/*.network "$root"/etc/rosenpass/wg?.toml

run_systemd_guest
[ "$(guest_result networkd-initial)" = "$initial $initial" ] || fail "networkd did not install the initial key: $(guest_result networkd-initial)"
exchanged=$(guest_result exchanged)
[ "${exchanged%% *}" = yes ] || fail "the units did not agree on a key: $exchanged"
[ "$(guest_result users)" = "dynamic dynamic rosenpass-broker" ] \
    || fail "the daemons did not run as dynamic users and the broker as rosenpass-broker: $(guest_result users)"
[ "$(guest_result reload)" = "done active" ] || fail "systemctl reload rosenpass@wg0: $(guest_result reload)"
[ "$(guest_result after-networkd-restart)" = "$initial $initial" ] \
    || fail "after a networkd restart the keys are '$(guest_result after-networkd-restart)', not networkd's again"
recovered=$(guest_result recovered)
[ "${recovered%% *}" = yes ] || fail "with the drop-in, a networkd restart did not bring both sides to one new key: $recovered"
[ "$(guest_result wait-online)" = status=0 ] || fail "the drop-in's systemd-networkd-wait-online did not succeed: $(guest_result wait-online)"
[ -z "$(guest_result recovered-without-restart)" ] || fail "the keys recovered, but the units were not restarted with networkd"
! grep -q "^RP-RESULT KEY-IN-LOG" "$work/results.log" || fail "an exchanged key appears in the journal"
log "networkd installed the initial key; the units replaced it; a networkd restart put it back; with the drop-in it restarted both units, which agreed on a new key in ${recovered#yes }s"
log "passed"
