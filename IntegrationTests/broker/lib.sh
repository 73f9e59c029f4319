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
