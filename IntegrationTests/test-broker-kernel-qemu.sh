#!/usr/bin/env bash
# End to end with kernel WireGuard: a QEMU guest running a Debian kernel with its wireguard module
# runs our privileged broker as uid 1000, the binary carrying only CAP_NET_ADMIN (setcap +eip), against
# a kernel wg0 interface over generic netlink. `wg show` in the guest confirms the PSK.
#
# Asserts: the PSK is installed on the right peer only; a refused peer gets 0x01; an unknown peer is
# 0x03; a missing interface and a non-WireGuard one (lo) are 0x02; garbage gets 0x01 and the next
# request still works; no peer is added; without CAP_NET_ADMIN nothing changes and the answer is 0x01;
# the log has the audit line and never the key.
#
# The kernel package is downloaded once with apt-get and unpacked (not installed) into the cache,
# $ROSENPASS_TEST_CACHE or .cache/ in the repository (ignored by git).
set -euo pipefail
source "$(dirname "$0")/broker/lib.sh"

require_root
require_tools qemu-system-x86_64 cpio dpkg-deb apt-get apt-cache wg
[ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
require_tools setpriv setcap getcap
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
require_binaries rosenpass-wireguard-broker-privileged

cache=${ROSENPASS_TEST_CACHE:-$broker_repo/.cache}/broker-qemu
mkdir -p "$cache"

# --- The kernel: vmlinuz and the wireguard module with its dependencies, from Debian's package.
fetch_debian_kernel "$cache"
log "kernel $(cat "$cache/kernel/version"), modules: $(tr '\n' ' ' < "$cache/kernel/modules.order")"

# --- The initramfs: busybox, wg, util-linux setpriv, our broker and the shared libraries they need.
work=$(mktemp -d /tmp/rp-broker-qemu.XXXXXX)
on_exit "rm -rf '$work'"
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,test,modules,opt/rosenpass,etc}
cp /bin/busybox "$root/bin/busybox"
cp "$cache"/kernel/modules/*.ko "$root/modules/"
cp "$cache/kernel/modules.order" "$root/modules.order"
install -m 0755 "$broker_here/guest-init.sh" "$root/init"
install -m 0755 "$ROSENPASS_BIN_DIR/rosenpass-wireguard-broker-privileged" "$root/opt/rosenpass/"
cp "$(command -v wg)" "$root/usr/bin/wg"
cp "$(command -v setpriv)" "$root/usr/bin/setpriv"
cp "$(command -v setcap)" "$root/usr/sbin/setcap"
cp "$(command -v getcap)" "$root/usr/sbin/getcap"
copy_libraries "$root/opt/rosenpass/rosenpass-wireguard-broker-privileged" "$root"
copy_libraries "$root/usr/bin/wg" "$root"
copy_libraries "$root/usr/bin/setpriv" "$root"
copy_libraries "$root/usr/sbin/setcap" "$root"
mkdir -p "$root/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
echo "root:x:0:0::/:/bin/sh" > "$root/etc/passwd"

# Test keys and the requests the guest feeds to the broker.
umask 077
wg genkey > "$root/test/wg0.key"
wg genkey | wg pubkey > "$root/test/p1.pub"
wg genkey | wg pubkey > "$root/test/p2.pub"
p1=$(cat "$root/test/p1.pub"); p2=$(cat "$root/test/p2.pub"); p9=$(wg genkey | wg pubkey)
psk1=$(wg genpsk); psk2=$(wg genpsk)
echo "$psk1" > "$root/test/psk1"
umask 022
frames() { /usr/bin/python3 "$broker_here/broker-request.py" --frames-only "$@"; }
# Allowed peer, refused peer, missing interface, lo (not WireGuard), unknown peer on an allowed
# interface, garbage, allowed peer again.
frames "wg0:$p1:$psk2" "wg0:$p2:$psk2" "nosuch0:$p1:$psk2" "lo:$p1:$psk2" "wg1:$p9:$psk2" garbage "wg0:$p1:$psk1" \
    > "$root/test/requests.bin"
frames "wg0:$p1:$psk2" > "$root/test/request-psk2.bin"

# --- Boot.
boot_qemu_guest "$root" "$cache" "$work" 300 768 1
! grep -q "^RP-RESULT no-wireguard-link" "$work/results.log" || fail "ip link add wg0 type wireguard failed"
log "guest kernel: $(guest_result kernel)"
! grep -q "^RP-RESULT setcap-failed" "$work/results.log" || fail "setcap failed in the guest"
log "guest broker: $(guest_result caps)"
[ "$(guest_result exit)" = 0 ] || fail "the broker exited with $(guest_result exit)"

# Answers: Success, InternalError (peer not allowed), NoSuchInterface, NoSuchInterface (lo is not
# WireGuard), NoSuchPeer, InternalError (garbage), Success.
answers=$(guest_result answers)
expected=""
for code in 00 01 02 02 03 01 00; do expected+="0500000000000000""01000000""$code"; done
[ "$answers" = "$expected" ] || fail "answers $answers, expected $expected"
after=$(guest_result wg-after)
echo "$after" | grep -qF "$p1 $psk1" || fail "wg show does not report the installed PSK for p1: $after"
echo "$after" | grep -qF "$p2 (none)" || fail "p2's PSK changed: $after"
[ "$(guest_result peers)" = 2 ] || fail "the peer count of wg0 changed: $(guest_result peers)"
[ "$(guest_result peers1)" = 1 ] || fail "a peer was added to wg1: $(guest_result peers1)"
grep -q "^RP-RESULT audit-line-present" "$work/results.log" || fail "no audit line in the broker log"
! grep -q "^RP-RESULT KEY-IN-LOG" "$work/results.log" || fail "the PSK appears in the broker log"
[ "$(guest_result nocap-answers)" = "050000000000000001000000""01" ] || fail "without CAP_NET_ADMIN the answer was $(guest_result nocap-answers)"
echo "$(guest_result wg-nocap)" | grep -qF "$p1 $psk1" || fail "the PSK changed without CAP_NET_ADMIN"
log "kernel backend: PSK installed over generic netlink as uid 1000 with only CAP_NET_ADMIN (file capability); refusals and errors as expected"
log "passed"
