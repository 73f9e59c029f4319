# Shared helpers for the broker end-to-end suites (sourced, not run).
#
# Conventions: exit 0 = passed, 77 = skipped (not root, or a tool is missing), anything else = failed.
# Binaries come from $ROSENPASS_BIN_DIR. Every process a suite starts is recorded and ended by pid.

broker_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
broker_repo=$(cd "$broker_here/../.." && pwd)
started_pids=()
cleanup_steps=()

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fail() {
    echo "FAIL: $*" >&2
    [ -n "${show_on_failure:-}" ] && [ -f "$show_on_failure" ] && { echo "--- $show_on_failure" >&2; tail -30 "$show_on_failure" >&2; }
    exit 1
}
skip() { echo "SKIP: $*" >&2; exit 77; }

require_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, setcap, wireguard-go)"; }

require_tools() {
    local missing=()
    for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
    [ ${#missing[@]} -eq 0 ] || skip "missing tools: ${missing[*]} (scripts/install-test-dependencies.sh installs them)"
}

require_binaries() {
    : "${ROSENPASS_BIN_DIR:?set ROSENPASS_BIN_DIR to the folder with the built binaries}"
    for name in "$@"; do
        [ -x "$ROSENPASS_BIN_DIR/$name" ] || fail "$ROSENPASS_BIN_DIR/$name is missing: build first (make build)"
    done
}

on_exit() { cleanup_steps+=("$*"); }

run_cleanup() {
    local status=$?
    set +e
    for pid in "${started_pids[@]}"; do kill "$pid" 2>/dev/null; done
    for (( i=${#cleanup_steps[@]}-1; i>=0; i-- )); do eval "${cleanup_steps[$i]}" >/dev/null 2>&1 || true; done
    exit $status
}
trap run_cleanup EXIT

# An unprivileged system user for the broker processes; created once, kept (harmless, no login).
ensure_user() {
    local name=$1
    id -u "$name" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$name" \
        || fail "cannot create user $name"
}

# Runs a command as $1 (user), with no capabilities of its own: privileges only come from file caps.
as_user() {
    local user=$1; shift
    setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all -- "$@"
}

# `COMMAND | holds PATTERN...`: whether COMMAND's output matches (grep's arguments). Unlike
# `| grep -q`, it reads all of the output first: grep -q leaves at the first match, and a command
# that writes again after that (ip prints a line per route) dies of SIGPIPE, which `pipefail` turns
# into a failed check although the line was there.
holds() {
    local output
    output=$(cat)
    grep -q "$@" <<< "$output"
}

# Waits up to $2 seconds (default 10) for the command in $1 to succeed.
wait_for() {
    local condition=$1 limit=${2:-10} waited=0
    until eval "$condition"; do
        sleep 0.2
        waited=$((waited + 1))
        [ $waited -ge $((limit * 5)) ] && return 1
    done
    return 0
}

# The base64 PSK `wg show IF preshared-keys` reports for peer $3 in namespace $1.
wg_psk() { ip netns exec "$1" wg show "$2" preshared-keys | awk -v p="$3" '$1 == p { print $2 }'; }

# Copies the broker binaries into $1 (readable by everyone) and gives the privileged one CAP_NET_ADMIN.
install_brokers() {
    local dir=$1
    mkdir -p "$dir"
    for name in rosenpass-wireguard-broker-privileged rosenpass-wireguard-broker-socket-handler; do
        install -m 0755 "$ROSENPASS_BIN_DIR/$name" "$dir/$name"
    done
    setcap CAP_NET_ADMIN=+eip "$dir/rosenpass-wireguard-broker-privileged" || fail "setcap failed on $dir"
}

# The Debian kernel for the QEMU suites: vmlinuz and the wireguard module with its dependencies,
# unpacked from the package behind linux-image-amd64 into $1/kernel (downloaded once, then reused):
# vmlinuz, modules/*.ko, modules.order (load order), version.
fetch_debian_kernel() {
    local cache=$1 package moddir path name
    [ -f "$cache/kernel/ready" ] && return 0
    package=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    if [ -z "$package" ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        package=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    fi
    [ -n "$package" ] || fail "cannot find the Debian kernel package behind linux-image-amd64"
    log "downloading $package into $cache"
    rm -rf "$cache/download" "$cache/kernel"
    mkdir -p "$cache/download" "$cache/kernel/modules"
    # As root into a folder _apt cannot read: download unsandboxed on purpose (no warning about it).
    (cd "$cache/download" && apt-get -o APT::Sandbox::User=root download "$package" >/dev/null) || fail "apt-get download $package failed"
    dpkg-deb -x "$cache"/download/*.deb "$cache/download/root"
    cp "$cache"/download/root/boot/vmlinuz-* "$cache/kernel/vmlinuz"
    moddir=$(echo "$cache"/download/root/lib/modules/*)
    : > "$cache/kernel/modules.order"
    for path in $(/usr/bin/python3 "$broker_here/module-order.py" "$moddir" wireguard); do
        name=$(basename "$path")
        case $name in
            *.xz) xz -dc "$path" > "$cache/kernel/modules/${name%.xz}"; name=${name%.xz} ;;
            *) cp "$path" "$cache/kernel/modules/$name" ;;
        esac
        echo "$name" >> "$cache/kernel/modules.order"
    done
    basename "$moddir" > "$cache/kernel/version"
    rm -rf "$cache/download"
    touch "$cache/kernel/ready"
}

# Copies the shared libraries executable $1 needs into the guest's root folder $2.
copy_libraries() {
    local lib
    for lib in $(ldd "$1" | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }'); do
        [ -e "$2$lib" ] && continue
        mkdir -p "$2$(dirname "$lib")"
        cp -L "$lib" "$2$lib"
    done
}

# Packs the guest's root folder $1 into an initramfs, boots it with the Debian kernel in $2 (the
# cache of fetch_debian_kernel) and writes what the guest printed, without carriage returns, to
# $3/results.log; fails unless the guest said "RP-RESULT done" and every module loaded. Further
# arguments: the time limit in seconds, the memory in MiB, the CPUs. Software emulation boots these
# guests in well under a minute; KVM is opt-in (ROSENPASS_QEMU_KVM=1) because nested KVM is often
# present but broken (MSR errors) in CI machines.
boot_qemu_guest() {
    local root=$1 cache=$2 work=$3 limit=$4 memory=$5 cpus=$6
    (cd "$root" && find . | cpio -o -H newc --quiet) > "$work/initramfs.cpio"
    log "initramfs: $(du -h "$work/initramfs.cpio" | cut -f1)"
    local accel=(-machine q35 -cpu max)
    [ "${ROSENPASS_QEMU_KVM:-}" = 1 ] && accel=(-machine q35,accel=kvm -cpu host)
    log "booting the guest (${accel[*]})"
    timeout "$limit" qemu-system-x86_64 "${accel[@]}" -m "$memory" -smp "$cpus" -nodefaults -display none -no-reboot \
        -serial file:"$work/console.log" \
        -kernel "$cache/kernel/vmlinuz" -initrd "$work/initramfs.cpio" \
        -append "console=ttyS0 panic=-1 rdinit=/init quiet loglevel=3" || fail "qemu failed or timed out"
    show_on_failure="$work/results.log"
    tr -d '\r' < "$work/console.log" > "$work/results.log"
    grep -q "^RP-RESULT done\$" "$work/results.log" || fail "the guest did not finish"
    ! grep -q "^RP-RESULT insmod-failed" "$work/results.log" || fail "a module did not load: $(grep insmod-failed "$work/results.log")"
}

# What the guest booted by boot_qemu_guest reported as "RP-RESULT $1 ...": the rest of that line.
guest_result() { grep -m 1 "^RP-RESULT $1\( \|\$\)" "$work/results.log" | cut -d' ' -f3-; }

# The suites whose QEMU guest boots Debian with systemd as PID 1 and this project's package installed
# with dpkg, for what needs a real service manager (units started by systemd, D-Bus, network
# managers). `systemd_guest_suite NAME GUEST_TEST` checks what they need (root, tools, binaries),
# fetches the kernel (fetch_debian_kernel), makes the work folder $work (removed at exit) and the
# guest's root folder $guest_root: the guest's system, debootstrapped once into the kernel's cache
# ($cache) from $ROSENPASS_DEBIAN_MIRROR (default deb.debian.org) in this machine's Debian release,
# with the package from packaging/deb/build-deb.sh installed (built at once when test-deb.sh has
# built it before; the guest keeps it as /test/package.deb). GUEST_TEST becomes
# /test/guest-test.sh, which runs as rp-guest-test.service once the system is up, with the helpers
# of systemd-guest-lib.sh in /test/lib.sh. The suite adds its files, then run_systemd_guest boots it
# and guest_result reads what it reported.
# The package's file capability does not survive the initramfs (cpio carries no xattrs); the units
# grant CAP_NET_ADMIN themselves.
systemd_guest_suite() {
    local name=$1 guest_test=$2 release system mirror deb unit
    local packages=systemd,systemd-sysv,libpam-systemd,dbus,udev,kmod,iproute2,network-manager,wireguard-tools
    require_root
    require_tools qemu-system-x86_64 cpio debootstrap dpkg-deb apt-get apt-cache wg chroot systemctl
    [ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
    require_binaries rosenpass

    cache=${ROSENPASS_TEST_CACHE:-$broker_repo/.cache}/broker-qemu
    mkdir -p "$cache"
    fetch_debian_kernel "$cache"
    log "kernel $(cat "$cache/kernel/version")"
    work=$(mktemp -d "/tmp/rp-$name.XXXXXX")
    on_exit "rm -rf '$work'"

    log "building the package (make deb)"
    deb=$(DEB_OUT="$work" "$broker_repo/packaging/deb/build-deb.sh" 2> "$work/build.log" | tail -1) \
        || { tail -30 "$work/build.log" >&2; fail "packaging/deb/build-deb.sh failed"; }
    [ -f "$deb" ] || fail "no package at '$deb'"

    # The guest's system: what the suites need, and what `apt install ./PACKAGE.deb` would bring
    # (the package's Depends and Recommends), so that dpkg -i finds every dependency in place.
    packages="$packages,$(dpkg-deb --field "$deb" Depends Recommends | sed 's/^[A-Za-z]*: //' | tr ',' '\n' \
        | sed 's/([^)]*)//; s/[[:space:]]//g' | grep . | sort -u | paste -sd,)"
    release=$(. /etc/os-release && echo "$VERSION_CODENAME")
    system="$cache/system-$release"
    if [ "$(cat "$system.ready" 2> /dev/null)" != "$packages" ]; then
        mirror=${ROSENPASS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
        log "debootstrap $release from $mirror into $system (once)"
        rm -rf "$system" "$system.ready"
        debootstrap --variant=minbase --include="$packages" "$release" "$system" "$mirror" > "$cache/debootstrap.log" 2>&1 \
            || { tail -20 "$cache/debootstrap.log" >&2; fail "debootstrap failed (log: $cache/debootstrap.log)"; }
        rm -rf "$system"/var/cache/apt/* "$system"/var/lib/apt/lists/* "$system"/usr/share/{doc,man,locale,info}/*
        echo "$packages" > "$system.ready"
    fi

    guest_root="$work/root"
    cp -a "$system" "$guest_root"
    mkdir -p "$guest_root/test"
    cp "$deb" "$guest_root/test/package.deb"
    chroot "$guest_root" dpkg -i /test/package.deb > "$work/dpkg.log" 2>&1 \
        || { cat "$work/dpkg.log" >&2; fail "dpkg -i in the guest system failed"; }
    # Not wanted in a test guest: logins on the consoles (the serial console carries the results),
    # periodic jobs. The suite enables what it needs (NetworkManager is enabled by its package).
    for unit in getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer \
            dpkg-db-backup.timer e2scrub_all.timer fstrim.timer e2scrub_reap.service; do
        ln -sf /dev/null "$guest_root/etc/systemd/system/$unit"
    done

    mkdir -p "$guest_root/test/modules"
    cp "$cache"/kernel/modules/*.ko "$guest_root/test/modules/"
    cp "$cache/kernel/modules.order" "$guest_root/test/modules.order"
    install -m 0755 "$broker_here/systemd-guest-init.sh" "$guest_root/init"
    install -m 0644 "$broker_here/systemd-guest-lib.sh" "$guest_root/test/lib.sh"
    install -m 0755 "$guest_test" "$guest_root/test/guest-test.sh"
    cat > "$guest_root/etc/systemd/system/rp-guest-test.service" <<'EOF'
[Unit]
Description=the end-to-end suite's checks
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/test/guest-test.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
[Install]
WantedBy=multi-user.target
EOF
    ln -s /etc/systemd/system/rp-guest-test.service "$guest_root/etc/systemd/system/multi-user.target.wants/rp-guest-test.service"
}

# Boots the guest of systemd_guest_suite (up to 15 minutes, 3 GiB: the initramfs holds the whole system).
run_systemd_guest() {
    boot_qemu_guest "$guest_root" "$cache" "$work" 900 3072 2
    log "guest kernel: $(guest_result kernel)"
}

# The Rosenpass side of the two-interface guests (networkd, NetworkManager): wg0 and wg1 are peers of
# each other over loopback, their WireGuard public keys in $work/wg0.pub and $work/wg1.pub. Makes the
# Rosenpass keys as the example wg0.toml says and that example's configuration for both ways the
# package runs a daemon: rosenpass@wg0 (its default broker) and rosenpass-brokered@wg1 (through
# rosenpass-broker.service, whose allow-list gets wg1's peer).
write_daemon_configs() {
    local side other unit
    for side in 0 1; do
        install -d -m 0755 "$guest_root/etc/rosenpass/wg$side"
        "$ROSENPASS_BIN_DIR/rosenpass" gen-keys --secret-key "$guest_root/etc/rosenpass/wg$side/pqsk" \
            --public-key "$guest_root/etc/rosenpass/wg$side/pqpk" > /dev/null 2>&1 || fail "rosenpass gen-keys"
    done
    for side in 0 1; do
        other=$((1 - side))
        cp "$guest_root/etc/rosenpass/wg$other/pqpk" "$guest_root/etc/rosenpass/wg$side/peer.pqpk"
        unit=rosenpass@wg$side.service
        [ $side = 1 ] && unit=rosenpass-brokered@wg$side.service
        sed -e "s#/etc/rosenpass/wg0/#/etc/rosenpass/wg$side/#" -e "s#rosenpass@wg0.service#$unit#" \
            -e "s#^listen = .*#listen = [\"127.0.0.1:910$side\"]#" -e "s#^endpoint = .*#endpoint = \"127.0.0.1:910$other\"#" \
            -e "s/^device = .*/device = \"wg$side\"/" -e "s#^peer = .*#peer = \"$(cat "$work/wg$other.pub")\"#" \
            -e 's/^verbosity = .*/verbosity = "Verbose"/' "$broker_repo/packaging/examples/networkd/wg0.toml" \
            > "$guest_root/etc/rosenpass/wg$side.toml"
    done
    echo "peer wg1 $(cat "$work/wg0.pub")" >> "$guest_root/etc/rosenpass/broker.policy"
}

# Fails if one of the files still holds a placeholder of the package's examples.
check_examples_filled() {
    local file
    for file in "$@"; do
        ! grep -v "^#" "$file" | grep -q "PEER_WIREGUARD_PUBLIC_KEY\|WIREGUARD_PRIVATE_KEY\|INITIAL_PRESHARED_KEY\|192\.0\.2\.\|10\.0\.0\." \
            || fail "$(basename "$file"): an example value was not replaced: $(cat "$file")"
    done
}
