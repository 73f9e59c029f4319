#!/usr/bin/env bash
# systemd-networkd owns the WireGuard interfaces, Rosenpass keeps their preshared keys fresh
# (docs/packaging.md, "With systemd-networkd or NetworkManager owning the interface"). A QEMU guest
# with a Debian kernel (kernel WireGuard, which networkd needs) runs Debian's systemd-networkd with
# two .netdev files: wg0 and wg1, peers of each other over loopback, each peer with
# PresharedKeyFile= (a random initial key) and an address as its endpoint. Two rosenpass daemons,
# run with rosenpass@.service's command line and their default broker, exchange keys.
#
# The .netdev, .network and daemon configuration are the package's examples
# (packaging/examples/networkd) with the test's keys and addresses.
#
# Asserts: networkd installs the initial key on both; the daemons replace it with one fresh key on
# both sides; a networkd restart puts networkd's key back (the behaviour docs/packaging.md warns
# about); restarting the daemon of that host, as `PartOf=systemd-networkd.service` does, brings both
# sides to one new key within seconds; the key never appears in the daemons' logs.
#
# The kernel is Debian's (downloaded once into $ROSENPASS_TEST_CACHE or .cache/, as for the other
# QEMU suites); networkd and its libraries are this machine's.
set -euo pipefail
source "$(dirname "$0")/broker/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

require_root
require_tools qemu-system-x86_64 cpio dpkg-deb apt-get apt-cache wg strip
[ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
[ -x /lib/systemd/systemd-networkd ] || skip "needs systemd-networkd (Debian package systemd)"
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
require_binaries rosenpass rosenpass-wireguard-broker-privileged

cache=${ROSENPASS_TEST_CACHE:-$broker_repo/.cache}/broker-qemu
mkdir -p "$cache"
fetch_debian_kernel "$cache"
log "kernel $(cat "$cache/kernel/version")"

work=$(mktemp -d /tmp/rp-networkd-qemu.XXXXXX)
on_exit "rm -rf '$work'"
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,test/net,modules,opt/rosenpass,etc/systemd/network,lib/systemd}
cp /bin/busybox "$root/bin/busybox"
cp "$cache"/kernel/modules/*.ko "$root/modules/"
cp "$cache/kernel/modules.order" "$root/modules.order"
install -m 0755 "$here/networkd/guest-init.sh" "$root/init"
for name in rosenpass rosenpass-wireguard-broker-privileged; do
    install -m 0755 "$ROSENPASS_BIN_DIR/$name" "$root/opt/rosenpass/$name"
    strip "$root/opt/rosenpass/$name"
    copy_libraries "$root/opt/rosenpass/$name" "$root"
done
cp /lib/systemd/systemd-networkd "$root/lib/systemd/"
copy_libraries /lib/systemd/systemd-networkd "$root"
cp "$(command -v wg)" "$root/usr/bin/wg"
copy_libraries "$root/usr/bin/wg" "$root"
mkdir -p "$root/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
printf 'root:x:0:0::/:/bin/sh\nsystemd-network:x:101:101::/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nsystemd-network:x:101:\n' > "$root/etc/group"

# Keys: WireGuard (networkd's), the initial preshared key, Rosenpass (the daemons').
umask 077
for side in 0 1; do
    wg genkey > "$root/test/net/wg$side.key"
    wg pubkey < "$root/test/net/wg$side.key" > "$work/wg$side.pub"
    "$ROSENPASS_BIN_DIR/rosenpass" gen-keys --secret-key "$root/test/rp$side.sk" --public-key "$root/test/rp$side.pk" \
        > /dev/null 2>&1 || fail "rosenpass gen-keys"
done
wg genpsk > "$root/test/net/initial.psk"
umask 022
chmod 0644 "$root"/test/rp*.pk
# The guest's files are the package's examples (packaging/examples/networkd), with the test's
# keys, names, ports and addresses filled in.
examples="$broker_repo/packaging/examples/networkd"
for side in 0 1; do
    other=$((1 - side))
    sed -e "s/^Name=wg0/Name=wg$side/" -e "s#^PrivateKeyFile=.*#PrivateKeyFile=/test/net/wg$side.key#" \
        -e "s/^ListenPort=.*/ListenPort=5182$side/" -e "s#^PublicKey=.*#PublicKey=$(cat "$work/wg$other.pub")#" \
        -e "s#^PresharedKeyFile=.*#PresharedKeyFile=/test/net/initial.psk#" -e "s#^AllowedIPs=.*#AllowedIPs=10.77.0.$((other + 1))/32#" \
        -e "s/^Endpoint=.*/Endpoint=127.0.0.1:5182$other/" "$examples/wg0.netdev" > "$root/etc/systemd/network/50-wg$side.netdev"
    sed -e "s/^Name=wg0/Name=wg$side/" -e "s#^Address=.*#Address=10.77.$side.1/24#" \
        "$examples/wg0.network" > "$root/etc/systemd/network/50-wg$side.network"
    # rosenpass@wg$side's configuration, with the keys where the guest has them.
    sed -e "s#^public_key = \"/etc/rosenpass/wg0/pqpk\"#public_key = \"/test/rp$side.pk\"#" \
        -e "s#^secret_key = .*#secret_key = \"/test/rp$side.sk\"#" -e "s#^listen = .*#listen = [\"127.0.0.1:910$side\"]#" \
        -e "s#^public_key = \"/etc/rosenpass/wg0/peer.pqpk\"#public_key = \"/test/rp$other.pk\"#" \
        -e "s#^endpoint = .*#endpoint = \"127.0.0.1:910$other\"#" -e "s/^device = .*/device = \"wg$side\"/" \
        -e "s#^peer = .*#peer = \"$(cat "$work/wg$other.pub")\"#" -e 's/^verbosity = .*/verbosity = "Verbose"/' \
        "$examples/wg0.toml" > "$root/test/wg$side.toml"
done
for file in "$root"/etc/systemd/network/* "$root"/test/wg?.toml; do
    ! grep -v "^#" "$file" | grep -q "PEER_WIREGUARD_PUBLIC_KEY\|192\.0\.2\.\|/etc/rosenpass\|/etc/systemd/network/wg0" \
        || fail "$(basename "$file"): an example value was not replaced: $(cat "$file")"
done
initial=$(cat "$root/test/net/initial.psk")

boot_qemu_guest "$root" "$cache" "$work" 900 2048 2
result() { grep "^RP-RESULT $1" "$work/results.log" | head -1 | cut -d' ' -f3-; }
log "guest kernel: $(result kernel)"
[ "$(result networkd-initial)" = "$initial $initial" ] || fail "networkd did not install the initial key: $(result networkd-initial)"
[ "$(result exchanged)" = yes ] || fail "the daemons did not agree on a key: $(result exchanged)"
[ "$(result after-networkd-restart)" = "$initial $initial" ] \
    || fail "after a networkd restart the keys are '$(result after-networkd-restart)', not networkd's again"
recovered=$(result recovered)
[ "${recovered%% *}" = yes ] || fail "restarting the daemon did not bring both sides to one key: $recovered"
! grep -q "^RP-RESULT KEY-IN-LOG" "$work/results.log" || fail "the exchanged key appears in a daemon's log"
log "networkd installed the initial key; the daemons replaced it; a networkd restart put it back; the daemon's restart agreed on a new key in ${recovered#yes }s"
log "passed"
