#!/usr/bin/env bash
# The package's rp@.service started by systemd, as the reference's package test runs it: a QEMU
# guest boots a Debian system with systemd as PID 1 and this project's package installed with dpkg
# (systemd_guest_suite in broker/lib.sh). Its checks (units/guest-test.sh) make keys with the
# installed rp, derive a server and a client configuration from /etc/rosenpass/example.toml, and
# `systemctl start rp@server rp@client`: systemd hands the keys over as credentials, runs rp as a
# dynamic user with CAP_NET_ADMIN and the sandboxing as shipped, and rp creates the kernel WireGuard
# interfaces rp-server and rp-client.
#
# Asserts: while the key folder is still 0700 as rp genkey made it, rp@server fails to start and its
# journal names the key its dynamic user may not reach; after `chmod 0755` (as the example says)
# both interfaces come up with the same preshared key; rp ran as a dynamic user, which got
# the secret keys (0600, root's) only as credentials from systemd and read the peers' public keys
# after the key folder was made 0755 as the example says; `systemctl stop` ends it cleanly and
# removes its interface; installing the package again (as an upgrade does) restarts the running
# instances, which agree on a new key; `dpkg -r` with them running stops them first (no process, no
# interface, no program left); no key appears in the journal.
#
# test-deb.sh runs the same command lines by hand on this machine (whose service manager is not
# systemd); this suite has systemd itself start them. The kernel is Debian's, the guest's system is
# debootstrapped once into $ROSENPASS_TEST_CACHE (or .cache/).
set -euo pipefail
source "$(dirname "$0")/broker/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

systemd_guest_suite units-qemu "$here/units/guest-test.sh"
install -m 0755 "$here/units/package-test-setup.sh" "$guest_root/test/package-test-setup.sh"
systemctl --root="$guest_root" --quiet mask NetworkManager.service NetworkManager-wait-online.service

run_systemd_guest
[ "$(guest_result keys)" = made ] || fail "rp genkey/pubkey in the guest failed: $(guest_result keys)"
agreed=$(guest_result agreed)
[ "${agreed%% *}" = yes ] || fail "rp@server and rp@client did not agree on a key: $agreed"
[ "$(guest_result users)" = "dynamic dynamic" ] || fail "rp@ did not run as a dynamic user: $(guest_result users)"
denied=$(guest_result denied)
[[ "$denied" == "peers/client/"*"may not open it or search a folder on its way" ]] \
    || fail "with the key folder still 0700, the journal does not say what rp@server's user may not read: $denied"
[ "$(guest_result secret-keys)" = "600 root, 600 root" ] || fail "the secret keys are not root's alone: $(guest_result secret-keys)"
[ "$(guest_result stopped)" = "inactive gone" ] || fail "systemctl stop rp@server: $(guest_result stopped)"
upgrade=$(guest_result upgrade)
[ "${upgrade% *}" = restarted ] || fail "reinstalling the package (an upgrade) did not restart the running rp@ instances onto a new key: $upgrade"
[ -z "$(guest_result upgrade-failed)" ] || fail "dpkg -i over the installed package failed: $(guest_result upgrade-failed)"
[ -z "$(guest_result remove-failed)" ] || fail "dpkg -r failed: $(guest_result remove-failed)"
[ "$(guest_result removed)" = clean ] || fail "dpkg -r with rp@ running left:$(guest_result removed)"
! grep -q "^RP-RESULT KEY-IN-LOG" "$work/results.log" || fail "an exchanged key appears in the journal"
log "systemd started rp@server and rp@client as dynamic users with their keys as credentials; both interfaces agreed on a key in ${agreed#yes }s; stopping removed the interface"
log "an upgrade restarted the running instances (new key in ${upgrade#restarted }s); dpkg -r stopped them and left nothing running"
log "passed"
