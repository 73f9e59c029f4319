#!/usr/bin/env bash
# systemd-networkd owns the WireGuard interfaces, Rosenpass keeps their preshared keys fresh
# (docs/packaging.md, "With systemd-networkd or NetworkManager owning the interface").
#
# A QEMU guest boots a Debian system with systemd as PID 1 and this project's package installed
# with dpkg (prepare_systemd_guest in broker/lib.sh), systemd-networkd enabled. networkd makes wg0
# and wg1 from the package's example .netdev/.network files (the test's keys), peers of each other
# over loopback, each peer with PresharedKeyFile= (one random initial key). Both ways the package
# runs a daemon, as systemd starts its installed units: rosenpass@wg0 (its default broker) and
# rosenpass-brokered@wg1, which has no capability and reaches wg1 through rosenpass-broker.service
# and its allow-list. Their configuration is the example wg0.toml.
#
# Asserts: networkd installs the initial key on both; the units replace it with one fresh key on both;
# the daemons ran as dynamic users, the broker as rosenpass-broker; a networkd restart puts networkd's
# key back (the behaviour docs/packaging.md warns about); with the example drop-in
# (PartOf=systemd-networkd.service, and an ExecStartPre= that waits for networkd to configure the
# interface) installed for both units, a networkd restart restarts them and both sides agree on a
# new key within seconds; the key never appears in the journal.
#
# The kernel is Debian's (as for the other QEMU suites); the guest's system is debootstrapped once
# into $ROSENPASS_TEST_CACHE (or .cache/).
set -euo pipefail
source "$(dirname "$0")/broker/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

require_root
require_tools qemu-system-x86_64 cpio debootstrap dpkg-deb apt-get apt-cache wg chroot systemctl
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
require_binaries rosenpass

cache=${ROSENPASS_TEST_CACHE:-$broker_repo/.cache}/broker-qemu
mkdir -p "$cache"
fetch_debian_kernel "$cache"
log "kernel $(cat "$cache/kernel/version")"

work=$(mktemp -d /tmp/rp-networkd-qemu.XXXXXX)
on_exit "rm -rf '$work'"
prepare_systemd_guest "$cache" "$work"
root=$guest_root
install -m 0755 "$here/networkd/guest-test.sh" "$root/test/guest-test.sh"
systemctl --root="$root" --quiet mask NetworkManager.service NetworkManager-wait-online.service
systemctl --root="$root" --quiet enable systemd-networkd.service

# Keys: WireGuard (networkd's), the initial preshared key, Rosenpass (the units').
umask 077
for side in 0 1; do
    wg genkey > "$root/etc/systemd/network/wg$side.key"
    wg pubkey < "$root/etc/systemd/network/wg$side.key" > "$work/wg$side.pub"
    wg genpsk > "$root/etc/systemd/network/wg$side.initial-psk"
    install -d -m 0755 "$root/etc/rosenpass/wg$side"  # as wg0.toml says
    "$ROSENPASS_BIN_DIR/rosenpass" gen-keys --secret-key "$root/etc/rosenpass/wg$side/pqsk" \
        --public-key "$root/etc/rosenpass/wg$side/pqpk" > /dev/null 2>&1 || fail "rosenpass gen-keys"
done
cp "$root/etc/systemd/network/wg0.initial-psk" "$root/etc/systemd/network/wg1.initial-psk"
umask 022
initial=$(cat "$root/etc/systemd/network/wg0.initial-psk")
echo "$initial" > "$root/test/initial.psk"
chroot "$root" chgrp systemd-network /etc/systemd/network/wg0.key /etc/systemd/network/wg1.key \
    /etc/systemd/network/wg0.initial-psk /etc/systemd/network/wg1.initial-psk
chmod 0640 "$root"/etc/systemd/network/wg?.key "$root"/etc/systemd/network/wg?.initial-psk
for side in 0 1; do
    other=$((1 - side))
    chmod 0644 "$root/etc/rosenpass/wg$side/pqpk"
    cp "$root/etc/rosenpass/wg$other/pqpk" "$root/etc/rosenpass/wg$side/peer.pqpk"
done

# The package's examples, as docs/packaging.md installs them, with the test's keys, names, ports
# and addresses. The drop-in waits in /test until the guest installs it.
examples="$broker_repo/packaging/examples/networkd"
for side in 0 1; do
    other=$((1 - side))
    sed -e "s/^Name=wg0/Name=wg$side/" -e "s#/etc/systemd/network/wg0\.#/etc/systemd/network/wg$side.#" \
        -e "s/^ListenPort=.*/ListenPort=5182$side/" -e "s#^PublicKey=.*#PublicKey=$(cat "$work/wg$other.pub")#" \
        -e "s#^AllowedIPs=.*#AllowedIPs=10.77.0.$((other + 1))/32#" \
        -e "s/^Endpoint=.*/Endpoint=127.0.0.1:5182$other/" "$examples/wg0.netdev" > "$root/etc/systemd/network/50-wg$side.netdev"
    sed -e "s/^Name=wg0/Name=wg$side/" -e "s#^Address=.*#Address=10.77.0.$((side + 1))/24#" \
        "$examples/wg0.network" > "$root/etc/systemd/network/50-wg$side.network"
    unit=rosenpass@wg$side.service
    [ $side = 1 ] && unit=rosenpass-brokered@wg$side.service
    sed -e "s#/etc/rosenpass/wg0/#/etc/rosenpass/wg$side/#" -e "s#rosenpass@wg0.service#$unit#" \
        -e "s#^listen = .*#listen = [\"127.0.0.1:910$side\"]#" -e "s#^endpoint = .*#endpoint = \"127.0.0.1:910$other\"#" \
        -e "s/^device = .*/device = \"wg$side\"/" -e "s#^peer = .*#peer = \"$(cat "$work/wg$other.pub")\"#" \
        -e 's/^verbosity = .*/verbosity = "Verbose"/' "$examples/wg0.toml" > "$root/etc/rosenpass/wg$side.toml"
done
echo "peer wg1 $(cat "$work/wg0.pub")" >> "$root/etc/rosenpass/broker.policy"
cp "$examples/rosenpass@wg0.service.d-networkd.conf" "$root/test/networkd.conf"
for file in "$root"/etc/systemd/network/*.netdev "$root"/etc/systemd/network/*.network "$root"/etc/rosenpass/wg?.toml; do
    ! grep -v "^#" "$file" | grep -q "PEER_WIREGUARD_PUBLIC_KEY\|192\.0\.2\.\|10\.0\.0\." \
        || fail "$(basename "$file"): an example value was not replaced: $(cat "$file")"
done

boot_qemu_guest "$root" "$cache" "$work" 900 3072 2
result() { grep "^RP-RESULT $1" "$work/results.log" | head -1 | cut -d' ' -f3-; }
log "guest kernel: $(result kernel)"
[ "$(result networkd-initial)" = "$initial $initial" ] || fail "networkd did not install the initial key: $(result networkd-initial)"
exchanged=$(result exchanged)
[ "${exchanged%% *}" = yes ] || fail "the units did not agree on a key: $exchanged"
[ "$(result users)" = "dynamic dynamic rosenpass-broker" ] \
    || fail "the daemons did not run as dynamic users and the broker as rosenpass-broker: $(result users)"
[ "$(result after-networkd-restart)" = "$initial $initial" ] \
    || fail "after a networkd restart the keys are '$(result after-networkd-restart)', not networkd's again"
recovered=$(result recovered)
[ "${recovered%% *}" = yes ] || fail "with the drop-in, a networkd restart did not bring both sides to one new key: $recovered"
[ "$(result wait-online)" = status=0 ] || fail "the drop-in's systemd-networkd-wait-online did not succeed: $(result wait-online)"
[ -z "$(result recovered-without-restart)" ] || fail "the keys recovered, but the units were not restarted with networkd"
! grep -q "^RP-RESULT KEY-IN-LOG" "$work/results.log" || fail "an exchanged key appears in the journal"
log "networkd installed the initial key; the units replaced it; a networkd restart put it back; with the drop-in it restarted both units, which agreed on a new key in ${recovered#yes }s"
log "passed"
