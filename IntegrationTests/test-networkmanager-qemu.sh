#!/usr/bin/env bash
# NetworkManager owns the WireGuard interfaces, Rosenpass keeps their preshared keys fresh
# (docs/packaging.md, "With systemd-networkd or NetworkManager owning the interface").
#
# A QEMU guest boots a Debian system with systemd as PID 1: a debootstrap of this machine's Debian
# release with NetworkManager, D-Bus and udev, and this project's package installed into it with
# dpkg. Two NetworkManager connections, wg0 and wg1 (the package's example wg0.nmconnection with the
# test's keys), are peers of each other over loopback, each with a stored random initial preshared
# key; rosenpass@wg0 and rosenpass@wg1 are the installed units, started by systemd (dynamic user,
# credential, ambient capability, sandboxing as shipped), with the example wg0.toml. The package's
# dispatcher script 90-rosenpass is installed as documented.
#
# Asserts: NetworkManager activates both connections with the initial key; the units replace it with
# one fresh key on both; `nmcli device reapply wg0` writes NetworkManager's key again (while the
# units are not enabled, the dispatcher script leaves them alone: the behaviour docs/packaging.md
# warns about); once they are enabled, a reapply and a down/up of the connection each restart
# rosenpass@wg0 through the dispatcher script, and both sides agree on a new key within seconds; the
# units ran as dynamic users; the key never appears in the journal.
#
# The kernel is Debian's (as for the other QEMU suites); the guest's system is debootstrapped once
# into $ROSENPASS_TEST_CACHE (or .cache/) from $ROSENPASS_DEBIAN_MIRROR (default deb.debian.org).
# The package comes from packaging/deb/build-deb.sh (built already when test-deb.sh ran first).
set -euo pipefail
source "$(dirname "$0")/broker/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

require_root
require_tools qemu-system-x86_64 cpio debootstrap dpkg-deb apt-get apt-cache wg chroot
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
require_binaries rosenpass

cache=${ROSENPASS_TEST_CACHE:-$broker_repo/.cache}/broker-qemu
mkdir -p "$cache"
fetch_debian_kernel "$cache"
log "kernel $(cat "$cache/kernel/version")"

# The guest's Debian system, made once. Only what the test needs, without recommends.
release=$(. /etc/os-release && echo "$VERSION_CODENAME")
guest_packages=systemd,systemd-sysv,libpam-systemd,dbus,udev,kmod,iproute2,network-manager,wireguard-tools,libcap2-bin,adduser
system="$cache/nm-system-$release"
if [ "$(cat "$system.ready" 2> /dev/null)" != "$guest_packages" ]; then
    mirror=${ROSENPASS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
    log "debootstrap $release from $mirror into $system (once)"
    rm -rf "$system" "$system.ready"
    debootstrap --variant=minbase --include="$guest_packages" "$release" "$system" "$mirror" > "$cache/debootstrap.log" 2>&1 \
        || { tail -20 "$cache/debootstrap.log" >&2; fail "debootstrap failed (log: $cache/debootstrap.log)"; }
    rm -rf "$system"/var/cache/apt/* "$system"/var/lib/apt/lists/* "$system"/usr/share/{doc,man,locale,info}/*
    echo "$guest_packages" > "$system.ready"
fi

work=$(mktemp -d /tmp/rp-nm-qemu.XXXXXX)
on_exit "rm -rf '$work'"

log "building the package (make deb)"
deb=$(DEB_OUT="$work" "$broker_repo/packaging/deb/build-deb.sh" 2> "$work/build.log" | tail -1) \
    || { tail -30 "$work/build.log" >&2; fail "packaging/deb/build-deb.sh failed"; }
[ -f "$deb" ] || fail "no package at '$deb'"

root="$work/root"
cp -a "$system" "$root"
cp "$deb" "$root/tmp/package.deb"
chroot "$root" dpkg -i /tmp/package.deb > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i in the guest system failed"; }
rm "$root/tmp/package.deb"
# Not wanted in a test guest: logins on the consoles (the serial console carries the results),
# periodic jobs.
for unit in getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer \
        dpkg-db-backup.timer e2scrub_all.timer fstrim.timer e2scrub_reap.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

mkdir -p "$root/test/modules"
cp "$cache"/kernel/modules/*.ko "$root/test/modules/"
cp "$cache/kernel/modules.order" "$root/test/modules.order"
install -m 0755 "$here/networkmanager/guest-init.sh" "$root/init"
install -m 0755 "$here/networkmanager/guest-test.sh" "$root/test/guest-test.sh"
cat > "$root/etc/systemd/system/rp-nm-test.service" <<'EOF'
[Unit]
Description=test-networkmanager-qemu.sh's checks
After=multi-user.target NetworkManager.service
[Service]
Type=oneshot
ExecStart=/test/guest-test.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/rp-nm-test.service "$root/etc/systemd/system/multi-user.target.wants/rp-nm-test.service"

# Keys: WireGuard (NetworkManager's), the initial preshared key, Rosenpass (the units').
umask 077
for side in 0 1; do
    wg genkey > "$work/wg$side.key"
    wg pubkey < "$work/wg$side.key" > "$work/wg$side.pub"
    mkdir -p "$root/etc/rosenpass/wg$side"
    "$ROSENPASS_BIN_DIR/rosenpass" gen-keys --secret-key "$root/etc/rosenpass/wg$side/pqsk" \
        --public-key "$root/etc/rosenpass/wg$side/pqpk" > /dev/null 2>&1 || fail "rosenpass gen-keys"
done
wg genpsk > "$work/initial.psk"
umask 022
initial=$(cat "$work/initial.psk")
echo "$initial" > "$root/test/initial.psk"
for side in 0 1; do
    other=$((1 - side))
    chmod 0755 "$root/etc/rosenpass/wg$side"
    chmod 0644 "$root/etc/rosenpass/wg$side/pqpk"
    cp "$root/etc/rosenpass/wg$other/pqpk" "$root/etc/rosenpass/wg$side/peer.pqpk"
done

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
    sed -e "s#/etc/rosenpass/wg0/#/etc/rosenpass/wg$side/#" -e "s#rosenpass@wg0.service#rosenpass@wg$side.service#" \
        -e "s#^listen = .*#listen = [\"127.0.0.1:910$side\"]#" -e "s#^endpoint = .*#endpoint = \"127.0.0.1:910$other\"#" \
        -e "s/^device = .*/device = \"wg$side\"/" -e "s#^peer = .*#peer = \"$(cat "$work/wg$other.pub")\"#" \
        -e 's/^verbosity = .*/verbosity = "Verbose"/' "$examples/networkd/wg0.toml" > "$root/etc/rosenpass/wg$side.toml"
done
install -m 0755 "$examples/NetworkManager/90-rosenpass" "$root/etc/NetworkManager/dispatcher.d/90-rosenpass"
for file in "$root"/etc/NetworkManager/system-connections/* "$root"/etc/rosenpass/wg?.toml; do
    ! grep -v "^#" "$file" | grep -q "PEER_WIREGUARD_PUBLIC_KEY\|WIREGUARD_PRIVATE_KEY\|INITIAL_PRESHARED_KEY\|192\.0\.2\." \
        || fail "$(basename "$file"): an example value was not replaced: $(cat "$file")"
done

boot_qemu_guest "$root" "$cache" "$work" 900 3072 2
result() { grep "^RP-RESULT $1" "$work/results.log" | head -1 | cut -d' ' -f3-; }
log "guest kernel: $(result kernel)"
[ "$(result nm-initial)" = "$initial $initial" ] || fail "NetworkManager did not install the initial key: $(result nm-initial)"
exchanged=$(result exchanged)
[ "${exchanged%% *}" = yes ] || fail "the units did not agree on a key: $exchanged"
exchanged=${exchanged#yes }
[ "$(result unit-user)" = dynamic ] || fail "rosenpass@wg0 did not run as a dynamic user: $(result unit-user)"
[ "$(result after-reapply)" = "$initial" ] \
    || fail "after 'nmcli device reapply wg0' wg0's key is '$(result after-reapply)', not NetworkManager's again"
[ "$(result after-nm-restart)" = "$initial $exchanged" ] \
    || fail "a NetworkManager restart changed the keys: '$(result after-nm-restart)', not '$initial $exchanged'"
# What NetworkManager 1.42 does (docs/packaging.md): the connection it takes over after a restart
# has no secrets, and a reapply writes an all-zero key, which wg shows as "(none)".
[ "$(result reapply-after-nm-restart)" = "(none)" ] \
    || fail "a reapply after a NetworkManager restart left wg0's key at '$(result reapply-after-nm-restart)', not (none) as observed before"
for event in reapply up; do
    recovered=$(result "recovered-$event")
    [ "${recovered%% *}" = yes ] || fail "after the $event event the dispatcher script did not bring both sides to one new key: $recovered"
    log "$event: rosenpass@wg0 restarted by the dispatcher script, both sides on a new key in ${recovered#yes }s"
done
! grep -q "^RP-RESULT KEY-IN-LOG" "$work/results.log" || fail "an exchanged key appears in the journal"
log "NetworkManager installed the initial key; the units replaced it; a reapply put it back, and after a NetworkManager restart wrote none; the dispatcher script restarts the unit on reapply and up"
log "passed"
