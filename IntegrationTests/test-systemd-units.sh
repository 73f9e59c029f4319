#!/usr/bin/env bash
# The systemd units and the link's sshd configuration in systemd/ (docs/multi-device-isolation.md,
# docs/packaging.md):
#
# - every unit passes `systemd-analyze verify` without a single message (with /usr/local/bin pointed
#   at the built binaries, so that the executables it checks exist);
# - `systemd-analyze security --offline` rates each unit's exposure at most 2.0 (the dedicated sshd,
#   which must stay root to switch users and chroot: at most 5.0);
# - each unit keeps the properties the guide promises (parsed by systemd: `systemd-analyze verify`
#   rejects unknown keys; the values are read back from the files);
# - sshd accepts the link configuration, and its effective settings for the link account are the
#   guide's (sshd -T -C ...).
#
# The units are not started here: this machine's service manager is not systemd. The end-to-end
# suite test-multi-device-isolation.sh runs the multi-device units' commands (ExecStart=) by hand, as
# the users they name, with the capabilities they grant; the package's units are started by systemd
# in QEMU guests (test-units-systemd-qemu.sh, test-networkd-qemu.sh, test-networkmanager-qemu.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
units="$here/../systemd"
: "${ROSENPASS_BIN_DIR:?set ROSENPASS_BIN_DIR to the folder with the built binaries (make test does)}"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

command -v systemd-analyze > /dev/null || skip "needs systemd-analyze (Debian package systemd; scripts/install-test-dependencies.sh installs it)"
for tool in /usr/bin/ssh /usr/sbin/sshd /usr/bin/socat; do
    [ -x "$tool" ] || skip "needs $tool, which the units run (scripts/install-test-dependencies.sh installs it)"
done
for name in rosenpass rosenpass-wireguard-broker-privileged rosenpass-wireguard-broker-socket-handler; do
    [ -x "$ROSENPASS_BIN_DIR/$name" ] || fail "$ROSENPASS_BIN_DIR/$name is missing: build first (make build)"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

expected_units="rosenpass-broker.service rosenpass-brokered@.service rosenpass-exchange.service rosenpass-link-sshd.service rosenpass-link-tls-device.service rosenpass-link-tls.service rosenpass-link.service rosenpass@.service rp@.service"
found=$(cd "$units" && ls -- *.service | tr '\n' ' ')
[ "$found" = "$expected_units " ] || fail "systemd/ holds '$found', this test knows '$expected_units'"

# The per-interface templates run the package's /usr/bin programs: point them at the build too.
for unit in $expected_units; do
    # A template is checked as an instance of it (wg0).
    checked=${unit/@./@wg0.}
    sed -e "s#/usr/local/bin/#$ROSENPASS_BIN_DIR/#g" -e "s#/usr/bin/rosenpass #$ROSENPASS_BIN_DIR/rosenpass #" \
        -e "s#/usr/bin/rp #$ROSENPASS_BIN_DIR/rp #" "$units/$unit" > "$work/$checked"
    out=$(cd "$work" && systemd-analyze verify --man=no "./$checked" 2>&1) || fail "systemd-analyze verify $unit: $out"
    [ -z "$out" ] || fail "systemd-analyze verify $unit complains: $out"
    # The highest exposure each may have: sshd must stay root to switch users and chroot; rp
    # creates its interface and may start wireguard-go, which needs /dev/net/tun.
    case $unit in
        rosenpass-link-sshd.service) threshold=50 ;;
        rp@.service) threshold=25 ;;
        *) threshold=20 ;;
    esac
    exposure=$(cd "$work" && systemd-analyze security --offline=yes "./$checked" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    [ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level for $unit"
    (cd "$work" && systemd-analyze security --offline=yes --threshold="$threshold" "./$checked" > /dev/null 2>&1) \
        || fail "$unit: exposure $exposure is above $((threshold / 10)).$((threshold % 10))"
    echo "$unit: verified; exposure $exposure"
done

# value KEY UNIT: the unit's value(s) for KEY, one per line (continuation lines joined).
value() {
    awk -v key="$1=" 'index($0, key) == 1 { on = 1; $0 = substr($0, length(key) + 1) }
        on { more = sub(/\\$/, ""); printf "%s", $0; if (!more) { print ""; on = 0 } }' "$units/$2"
}
expect() {
    local unit=$1 key=$2 want=$3 got
    got=$(value "$key" "$unit" | tr '\n' '|' | sed 's/|$//')
    [ "$got" = "$want" ] || fail "$unit: $key is '$got', expected '$want'"
}

# The broker: CAP_NET_ADMIN and nothing else, as a static unprivileged user; no IP networking.
expect rosenpass-broker.service User rosenpass-broker
expect rosenpass-broker.service AmbientCapabilities CAP_NET_ADMIN
expect rosenpass-broker.service CapabilityBoundingSet CAP_NET_ADMIN
expect rosenpass-broker.service NoNewPrivileges yes
expect rosenpass-broker.service RestrictAddressFamilies "AF_UNIX AF_NETLINK"
expect rosenpass-broker.service IPAddressDeny any
value ExecStart rosenpass-broker.service | grep -q -- "--max-key-age [0-9]" || fail "the broker does not fail closed (--max-key-age)"
value ExecStart rosenpass-broker.service | grep -q -- "--policy /etc/rosenpass/broker.policy" || fail "the broker has no allow-list"
value ExecStart rosenpass-broker.service | grep -q -- "--mode 660 --group rosenpass-broker-clients" || fail "the broker socket is not group-restricted"
# The daemon: a dynamic user without any capability; its secret key as a credential.
expect rosenpass-exchange.service DynamicUser yes
expect rosenpass-exchange.service CapabilityBoundingSet ""
expect rosenpass-exchange.service AmbientCapabilities ""
expect rosenpass-exchange.service SupplementaryGroups rosenpass-link
expect rosenpass-exchange.service LoadCredential "rosenpass-secret-key:/etc/rosenpass/device.rosenpass-secret"
value ExecStart rosenpass-exchange.service | grep -q -- "--psk-broker /srv/rosenpass-link/sock/broker.sock" \
    || fail "the daemon does not use the forwarded broker socket"
# The per-interface templates: the reference's command lines and credentials; CAP_NET_ADMIN only
# where a child or rp itself needs it, none in broker mode.
expect rosenpass@.service ExecStart "/usr/bin/rosenpass exchange-config /etc/rosenpass/%i.toml"
expect rosenpass@.service LoadCredential "pqsk:/etc/rosenpass/%i/pqsk"
expect rosenpass@.service DynamicUser yes
expect rosenpass@.service CapabilityBoundingSet CAP_NET_ADMIN
expect rosenpass@.service SupplementaryGroups rosenpass-broker
expect rosenpass-brokered@.service ExecStart "/usr/bin/rosenpass --psk-broker /run/rosenpass-broker/broker.sock exchange-config /etc/rosenpass/%i.toml"
expect rosenpass-brokered@.service CapabilityBoundingSet ""
expect rosenpass-brokered@.service SupplementaryGroups rosenpass-broker-clients
expect rp@.service ExecStart "/usr/bin/rp exchange-config /etc/rosenpass/%i.toml"
expect rp@.service LoadCredential "pqpk:/etc/rosenpass/%i/pqpk|pqsk:/etc/rosenpass/%i/pqsk|wgsk:/etc/rosenpass/%i/wgsk"
expect rp@.service CapabilityBoundingSet CAP_NET_ADMIN
# The links: no capability, restarted forever; the SSH link pinned to the post-quantum key exchange.
for unit in rosenpass-link.service rosenpass-link-tls.service rosenpass-link-tls-device.service; do
    expect "$unit" User rosenpass-link
    expect "$unit" CapabilityBoundingSet ""
    expect "$unit" Restart always
    expect "$unit" StartLimitIntervalSec 0
done
value ExecStart rosenpass-link.service | grep -q -- "-o KexAlgorithms=sntrup761x25519-sha512@openssh.com " \
    || fail "the SSH link does not insist on the post-quantum key exchange"
value ExecStart rosenpass-link.service | grep -q -- "-o ExitOnForwardFailure=yes" || fail "ssh would stay up without its forward"
value ExecStart rosenpass-link.service | grep -q -- "-o ServerAliveInterval=" || fail "ssh would not notice a dead link"
for unit in rosenpass-link-tls.service rosenpass-link-tls-device.service; do
    value ExecStart "$unit" | grep -q "cafile=/etc/rosenpass/link/ca.crt,verify=1" || fail "$unit does not verify its peer's certificate"
    value ExecStart "$unit" | grep -q "min-version=TLS1.3" || fail "$unit accepts TLS below 1.3"
done

# sshd: the configuration loads, and the link account's effective settings are the guide's.
if [ "$(id -u)" -eq 0 ]; then
    mkdir -p /run/sshd  # sshd -t wants its privilege separation folder, as the sshd unit makes it
    ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
    sed "s#/etc/ssh/rosenpass-link/ssh_host_ed25519_key#$work/host_key#" "$units/rosenpass-link-sshd_config" > "$work/sshd_config"
    /usr/sbin/sshd -t -f "$work/sshd_config" || fail "sshd refuses systemd/rosenpass-link-sshd_config"
    effective=$(/usr/sbin/sshd -T -f "$work/sshd_config" -C user=rosenpass-link,host=local-peer,addr=192.0.2.1)
    for setting in "kexalgorithms sntrup761x25519-sha512@openssh.com" "usepam no" "authenticationmethods publickey" \
        "passwordauthentication no" "permitrootlogin no" "allowusers rosenpass-link" "maxsessions 0" \
        "forcecommand /usr/sbin/nologin" "permittty no" "permituserrc no" "x11forwarding no" "allowagentforwarding no" \
        "permittunnel no" "allowstreamlocalforwarding remote" "allowtcpforwarding remote" "permitlisten none" \
        "permitopen none" "chrootdirectory /srv/rosenpass-link" "streamlocalbindmask 0117" "streamlocalbindunlink yes"; do
        grep -qx "$setting" <<< "$effective" || fail "sshd's effective setting for the link account is not '$setting'"
    done
    echo "rosenpass-link-sshd_config: accepted by sshd; the link account's effective settings are the guide's"
else
    echo "note: not root, sshd -t/-T of rosenpass-link-sshd_config not run"
fi
echo "systemd units: passed"
