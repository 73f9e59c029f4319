#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests need, when they are missing and we are root.
# Without root nothing is installed; the end-to-end suites then say what they skip.
set -euo pipefail
packages=(valgrind wireguard-go wireguard-tools iproute2 iputils-ping procps openssh-server openssh-client socat openssl nftables systemd util-linux qemu-system-x86 libcap2-bin python3 python3-prometheus-client busybox-static cpio xz-utils gdb lintian binutils debootstrap)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "note: not root, so not installing: ${missing[*]}" >&2
    exit 0
fi
echo "installing test dependencies: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Installing must not start services on this machine (openssh-server would start sshd on port 22):
# unless a policy is already in place, refuse service starts while apt runs.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
