#!/usr/bin/env bash
# NetworkManager owns the WireGuard interfaces, Rosenpass keeps their preshared keys fresh
# (docs/packaging.md, "With systemd-networkd or NetworkManager owning the interface").
#
# A QEMU guest boots a Debian system with systemd as PID 1: a debootstrap of this machine's Debian
# release with NetworkManager, D-Bus and udev, and this project's package installed into it with
# dpkg. Two NetworkManager connections, wg0 and wg1 (the package's example wg0.nmconnection with the
# test's keys), are peers of each other over loopback, each with a stored random initial preshared
# key. Both ways the package runs a daemon, as systemd starts its installed units (dynamic user,
# credential, ambient capability, sandboxing as shipped): rosenpass@wg0 (its default broker) and
# rosenpass-brokered@wg1 (no capability; through rosenpass-broker.service and its allow-list), with
# the example wg0.toml. The package's dispatcher script 90-rosenpass is installed as documented.
#
# Asserts: NetworkManager activates both connections with the initial key; the units replace it with
# one fresh key on both; `nmcli device reapply wg0` writes NetworkManager's key again (while the
# units are not enabled, the dispatcher script leaves them alone: the behaviour docs/packaging.md
# warns about); a NetworkManager restart leaves the keys alone, and a reapply after it writes zeros;
# once the units are enabled, a reapply and a down/up of wg0 and a reapply of wg1 each restart that
# interface's unit through the dispatcher script, and both sides agree on a new key within seconds;
# the daemons ran as dynamic users, the broker as rosenpass-broker; the key never appears in the
# journal.
#
# The kernel is Debian's (as for the other QEMU suites); the guest's system is debootstrapped once
# into $ROSENPASS_TEST_CACHE (or .cache/) (systemd_guest_suite in broker/lib.sh).
set -euo pipefail
source "$(dirname "$0")/broker/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

systemd_guest_suite networkmanager-qemu "$here/networkmanager/guest-test.sh"
root=$guest_root

# NetworkManager's keys: WireGuard, and one initial preshared key for both sides.
umask 077
for side in 0 1; do
    wg genkey > "$work/wg$side.key"
    wg pubkey < "$work/wg$side.key" > "$work/wg$side.pub"
done
initial=$(wg genpsk)
umask 022
echo "$initial" > "$root/test/initial.psk"

# The package's examples, as docs/packaging.md installs them, with the test's keys, names, ports
# and addresses: the connections, the daemons' configuration, the dispatcher script.
examples="$broker_repo/packaging/examples"
for side in 0 1; do
    other=$((1 - side))
    connection="$root/etc/NetworkManager/system-connections/wg$side.nmconnection"
    sed -e "s/^id=wg0/id=wg$side/" -e "s/^interface-name=wg0/interface-name=wg$side/" \
        -e "s#^private-key=.*#private-key=$(cat "$work/wg$side.key")#" -e "s/^listen-port=.*/listen-port=5182$side/" \
        -e "s#^\[wireguard-peer\..*\]#[wireguard-peer.$(cat "$work/wg$other.pub")]#" \
        -e "s#^preshared-key=.*#preshared-key=$initial#" -e "s#^allowed-ips=.*#allowed-ips=10.77.0.$((other + 1))/32;#" \
        -e "s/^endpoint=.*/endpoint=127.0.0.1:5182$other/" -e "s#^address1=.*#address1=10.77.0.$((side + 1))/24#" \
        "$examples/NetworkManager/wg0.nmconnection" > "$connection"
    chmod 0600 "$connection"
done
write_daemon_configs
install -m 0755 "$examples/NetworkManager/90-rosenpass" "$root/etc/NetworkManager/dispatcher.d/90-rosenpass"
check_examples_filled "$root"/etc/NetworkManager/system-connections/* "$root"/etc/rosenpass/wg?.toml

run_systemd_guest
[ "$(guest_result nm-initial)" = "$initial $initial" ] || fail "NetworkManager did not install the initial key: $(guest_result nm-initial)"
exchanged=$(guest_result exchanged)
[ "${exchanged%% *}" = yes ] || fail "the units did not agree on a key: $exchanged"
exchanged=${exchanged#yes }
[ "$(guest_result users)" = "dynamic dynamic rosenpass-broker" ] \
    || fail "the daemons did not run as dynamic users and the broker as rosenpass-broker: $(guest_result users)"
[ "$(guest_result after-reapply)" = "$initial" ] \
    || fail "after 'nmcli device reapply wg0' wg0's key is '$(guest_result after-reapply)', not NetworkManager's again"
[ "$(guest_result after-nm-restart)" = "$initial $exchanged" ] \
    || fail "a NetworkManager restart changed the keys: '$(guest_result after-nm-restart)', not '$initial $exchanged'"
# What NetworkManager 1.42 does (docs/packaging.md): after a restart, a reapply writes an all-zero
# key, which wg shows as "(none)" (the connection taken over at the restart carries no secrets).
[ "$(guest_result reapply-after-nm-restart)" = "(none)" ] \
    || fail "a reapply after a NetworkManager restart left wg0's key at '$(guest_result reapply-after-nm-restart)', not (none) as observed before"
for event in reapply up reapply-brokered; do
    recovered=$(guest_result "recovered-$event")
    [ "${recovered%% *}" = yes ] || fail "after the $event event the dispatcher script did not bring both sides to one new key: $recovered"
    log "$event: the unit restarted by the dispatcher script, both sides on a new key in ${recovered#yes }s"
done
! grep -q "^RP-RESULT KEY-IN-LOG" "$work/results.log" || fail "an exchanged key appears in the journal"
log "NetworkManager installed the initial key; the units replaced it; a reapply put it back, and after a NetworkManager restart wrote none; the dispatcher script restarts the unit on reapply and up"
log "passed"
