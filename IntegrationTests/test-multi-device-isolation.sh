#!/usr/bin/env bash
# End to end: docs/multi-device-isolation.md's three-host setup, built from the shipped files in
# systemd/ (the units' commands and the link's sshd configuration, with only paths, names and
# addresses put in), as network namespaces with their own directories and unprivileged users:
#
#   local peer       wireguard-go + the PSK broker (socket handler, setcap'd privileged child); the
#                    link to the device; no Rosenpass secret key
#   rosenpass device the rosenpass daemon and the only copy of its secret key; the link's far end
#   remote peer      wireguard-go + rosenpass
#
# Two links, run side by side: OpenSSH (a real sshd: one account, remote unix-socket forward only,
# post-quantum key exchange only) and socat over TLS with client certificates.
#
# Asserts (isolation/scenario.sh, isolation/link-*.sh): the local and the remote peer's PSK equal
# the remote peer's key output and a ping crosses the tunnel; the key changes on rekey; the link's
# SSH key cannot run a command, get a pty, use sftp or open any other forward (data sent through
# each attempt must not arrive); the link used sntrup761x25519-sha512@openssh.com and a classical
# client is refused; a TLS client without the right certificate reaches nothing, and the device
# accepts no other server; the device sees no WireGuard of the local peer, its packets to the local
# peer are dropped, and the broker refuses interfaces and peers outside its allow-list; the local
# peer holds no Rosenpass secret key; a link cut across a rekey loses no key (the daemon keeps
# running, reconnects, and the current key reaches WireGuard within seconds); a link cut longer than
# the maximum key age makes the broker replace the PSK with a random one; no key in any log.
#
# Takes about three minutes (two rekeys of 120 s are waited for; the maximum key age is 150 s).
# RP_ISOLATION_VARIANTS="ssh" (or "tls") runs one link only; RP_ISOLATION_KEEP_LOGS=DIR keeps every
# process's log in DIR/<variant>/ (otherwise only the tails of the relevant ones are shown on failure).
set -euo pipefail
# A private mount namespace: the hosts' own mounts and the work folder vanish with the test.
if [ -z "${RP_ISOLATION_PRIVATE_MOUNTS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
    RP_ISOLATION_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private "$0" "$@"
fi
iso_label=isolation
source "$(dirname "$0")/isolation/lib.sh"

require_root
require_tools ip nsenter unshare setpriv setcap useradd usermod groupadd wg wireguard-go nft ping ss \
    ssh ssh-keygen sftp socat openssl sha256sum
[ -x /usr/sbin/sshd ] || skip "needs /usr/sbin/sshd (Debian openssh-server)"
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3 (Debian python3)"
[ -n "${RP_ISOLATION_PRIVATE_MOUNTS:-}" ] || skip "needs unshare (util-linux) for private mounts"
: "${ROSENPASS_BIN_DIR:?set ROSENPASS_BIN_DIR to the folder with the built binaries (make test does)}"
for name in rosenpass rosenpass-wireguard-broker-privileged rosenpass-wireguard-broker-socket-handler; do
    [ -x "$ROSENPASS_BIN_DIR/$name" ] || fail "$ROSENPASS_BIN_DIR/$name is missing: build first (make build)"
done

# The users of the three hosts (kept after the test; no home, no shell, no password).
ensure_group rpiso-l-clients                       # local peer: may use the broker socket
ensure_user rpiso-l-broker rpiso-l-clients         # local peer: wireguard-go and the broker
ensure_user rpiso-l-link rpiso-l-clients           # local peer: the link
ensure_user rpiso-d-link                           # device: the link's account (sshd) / socat
ensure_user rpiso-d-kx rpiso-d-link                # device: the rosenpass daemon
ensure_user rpiso-r                                # remote peer: wireguard-go and rosenpass
# useradd locks the password ('!'); sshd without PAM refuses locked accounts even for keys. '*'
# allows no password but does not lock.
usermod -p '*' rpiso-d-link

# All files in a tmpfs mounted in this private namespace (root-owned path: sshd's StrictModes and
# ChrootDirectory check every component).
export ISO_WORK=/run/rp-isolation-test.$$
mkdir -p "$ISO_WORK"
mount -t tmpfs -o mode=0755,size=256m rp-isolation-test "$ISO_WORK"
on_exit "rmdir '$ISO_WORK'"
on_exit "umount -l '$ISO_WORK'"
export ISO_BIN=$ISO_WORK/bin ISO_TOOLS=$ISO_WORK/tools ISO_MAX_KEY_AGE=150
install -d -m 0755 "$ISO_BIN" "$ISO_TOOLS"
for name in rosenpass rosenpass-wireguard-broker-privileged rosenpass-wireguard-broker-socket-handler; do
    install -m 0755 "$ROSENPASS_BIN_DIR/$name" "$ISO_BIN/"
done
install -m 0644 "$iso_repo/IntegrationTests/broker/broker-request.py" "$ISO_TOOLS/"

variants=${RP_ISOLATION_VARIANTS:-ssh tls}
declare -A running=()
# On an early exit: TERM each scenario and wait for it to take its hosts down.
stop_scenarios() {
    local pid
    for pid in "${running[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${running[@]}"; do wait "$pid" 2>/dev/null; done
}
on_exit stop_scenarios
for variant in $variants; do
    "$iso_here/scenario.sh" "$variant" &
    running[$variant]=$!
done
failed=() skipped=()
for variant in $variants; do
    status=0
    wait "${running[$variant]}" || status=$?
    case $status in
        0) ;;
        77) skipped+=("$variant") ;;
        *) failed+=("$variant") ;;
    esac
done
[ ${#failed[@]} -eq 0 ] || fail "link variant(s) failed: ${failed[*]}"
[ ${#skipped[@]} -eq 0 ] || skip "link variant(s) skipped: ${skipped[*]}"
log "passed: ${variants}"
