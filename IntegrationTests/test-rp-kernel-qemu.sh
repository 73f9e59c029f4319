#!/usr/bin/env bash
# `rp exchange` with kernel WireGuard (docs/components.md §8.3), which this host may not have: a QEMU guest
# running a Debian kernel with its wireguard module runs two `rp exchange` processes (see
# rp/guest-init.sh), so rp's kernel path is exercised: RTM_NEWLINK kind wireguard, WG_CMD_SET_DEVICE
# over generic netlink (key, port, peers with random PSKs), address and routes over rtnetlink, PSKs
# through the in-process broker's generic-netlink backend, RTM_DELLINK on SIGTERM.
#
# Asserts: rp says it uses kernel WireGuard; both interfaces end up with the same PSK and WireGuard
# completes a handshake with it; WireGuard port = Rosenpass port + 1, endpoint port + 1, the allowed
# IPs and a route per comma-separated entry; the PSK is not in the logs; SIGTERM ends rp with 0 and
# the interfaces are gone.
#
# The keys are made on the host with `rp genkey`/`rp pubkey`. The kernel package is downloaded once
# with apt-get and unpacked (not installed) into the cache shared with test-broker-kernel-qemu.sh,
# $ROSENPASS_TEST_CACHE or .cache/ in the repository (ignored by git).
# Exit 0 = passed, 77 = skipped (not root, or a tool is missing), anything else = failed.
# RP_TEST_KEEP=1 keeps the work folder (initramfs, console log) for inspection.
set -euo pipefail
# shellcheck source=SCRIPTDIR/broker/lib.sh
source "$(dirname "$0")/broker/lib.sh"

require_root
require_tools qemu-system-x86_64 cpio dpkg-deb apt-get apt-cache wg ldd
[ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
require_binaries rp
here=$(cd "$(dirname "$0")" && pwd)

cache=${ROSENPASS_TEST_CACHE:-$broker_repo/.cache}/broker-qemu
mkdir -p "$cache"

# --- The kernel: vmlinuz and the wireguard module with its dependencies, from Debian's package
# (fetch_debian_kernel in broker/lib.sh, with the same cache as test-broker-kernel-qemu.sh).
fetch_debian_kernel "$cache"
log "kernel $(cat "$cache/kernel/version")"

# --- The initramfs: busybox, wg, rp and the shared libraries they need, and the keys.
work=$(mktemp -d /tmp/rp-kernel-qemu.XXXXXX)
on_exit "[ -n \"\${RP_TEST_KEEP:-}\" ] || rm -rf '$work'"
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,test,modules,opt/rosenpass,etc}
cp /bin/busybox "$root/bin/busybox"
cp "$cache"/kernel/modules/*.ko "$root/modules/"
cp "$cache/kernel/modules.order" "$root/modules.order"
install -m 0755 "$here/rp/guest-init.sh" "$root/init"
install -m 0755 "$ROSENPASS_BIN_DIR/rp" "$root/opt/rosenpass/rp"
cp "$(command -v wg)" "$root/usr/bin/wg"
copy_libraries "$root/opt/rosenpass/rp" "$root"
copy_libraries "$root/usr/bin/wg" "$root"
mkdir -p "$root/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
echo "root:x:0:0::/:/bin/sh" > "$root/etc/passwd"
for host in alice bob; do
    "$ROSENPASS_BIN_DIR/rp" genkey "$root/test/$host.private" 2> /dev/null || fail "rp genkey $host"
    "$ROSENPASS_BIN_DIR/rp" pubkey "$root/test/$host.private" "$root/test/$host.public" || fail "rp pubkey $host"
done
# --- Boot.
boot_qemu_guest "$root" "$cache" "$work" 300 2048 1
flag() { grep -q "^RP-RESULT $1\$" "$work/results.log"; }
log "guest kernel: $(guest_result kernel)"
for host in alice bob; do
    [[ "$(guest_result "$host-up")" == *"is up with kernel WireGuard"* ]] || fail "$host's rp did not come up with kernel WireGuard: $(guest_result "$host-up")"
done
psk=$(guest_result psk-alice)
if [ -z "$psk" ] || [ "$psk" = "(none)" ] || [ "$psk" != "$(guest_result psk-bob)" ]; then
    fail "the PSKs differ: alice $psk, bob $(guest_result psk-bob)"
fi
case $(guest_result handshake) in ""|0) fail "no WireGuard handshake with the exchanged PSK" ;; esac
[ "$(guest_result alice-port)" = 10000 ] || fail "rpa listens on $(guest_result alice-port), expected 9999 + 1"
[ "$(guest_result bob-port)" = 8889 ] || fail "rpb listens on $(guest_result bob-port), expected 8888 + 1"
[ "$(guest_result bob-endpoint)" = 127.0.0.1:10000 ] || fail "bob's endpoint for alice is $(guest_result bob-endpoint)"
[ "$(guest_result alice-peers)" = 1 ] || fail "rpa has $(guest_result alice-peers) peers"
allowed=$(guest_result alice-allowed)
[[ "$allowed" == *10.79.0.2/32* && "$allowed" == *fd79::2/128* ]] || fail "rpa's allowed IPs: $allowed"
[[ "$(guest_result routes4)" == *"10.79.0.2 dev rpa"* && "$(guest_result routes4)" == *"10.79.0.1 dev rpb"* ]] || fail "IPv4 routes: $(guest_result routes4)"
[[ "$(guest_result routes6)" == *"fd79::2 dev rpa"* ]] || fail "no route for the second allowed-ips entry: $(guest_result routes6)"
[ "$(guest_result address)" = "inet 10.79.0.1/32" ] || fail "rpa's address: $(guest_result address)"
! flag KEY-IN-LOG || fail "the PSK appears in rp's output"
[ "$(guest_result alice-exit)/$(guest_result bob-exit)" = 0/0 ] || fail "rp exited with $(guest_result alice-exit) / $(guest_result bob-exit) after SIGTERM"
if flag rpa-left || flag rpb-left; then fail "an interface is left after SIGTERM"; fi
log "kernel WireGuard: interfaces created over rtnetlink and configured over generic netlink, same PSK on both, handshake, removed on SIGTERM"
log "passed"
