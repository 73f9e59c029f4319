#!/usr/bin/env bash
# The Debian package (make deb; docs/packaging.md), installed on this machine and removed again:
#
# - packaging/deb/build-deb.sh builds it, and lintian reports no error and no warning;
# - dpkg -i installs it: the programs, man pages and completions are where Debian looks for them,
#   the accounts exist, the privileged broker has CAP_NET_ADMIN as a file capability and only root
#   and the group rosenpass-broker may run it; the installed units pass systemd-analyze verify;
# - the installed programs run the reference's package test (its tests/prepare-test.sh): a server
#   and a client configuration derived from /etc/rosenpass/example.toml, keys made with `rp genkey`
#   and `rp pubkey`, and both run with the command line of the installed rp@.service (%i
#   substituted), their keys handed over as systemd's LoadCredential= would (a tmpfs at
#   /run/credentials in a mount namespace of their own), in a network namespace of their own.
#   Both interfaces' preshared keys become equal and not "(none)";
# - the same for the daemon's units: rosenpass@rpdeb-a (its default broker, the privileged broker from
#   /usr/bin) against rosenpass-brokered@rpdeb-b, an unprivileged user with no capability whose keys go
#   through rosenpass-broker.service's socket handler and allow-list;
# - dpkg -r leaves nothing but the configuration in /etc/rosenpass; dpkg --purge leaves nothing
#   (the system accounts stay, as Debian keeps them).
#
# This machine's service manager is not systemd, so the units' command lines are run by hand, as
# root (the units run them as a dynamic user with CAP_NET_ADMIN); test-units-systemd-qemu.sh and the
# network-manager suites have systemd start them in a guest. Needs root: skips (77) without.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root_dir=$(cd "$here/.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root to install the package (dpkg -i) and to run rp"
for tool in dpkg-deb lintian getcap wg ip systemd-analyze wireguard-go unshare setpriv; do
    command -v "$tool" > /dev/null || skip "needs $tool (scripts/install-test-dependencies.sh installs it)"
done
package=swift-rosenpass
netns=rp-deb-test
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
    # wireguard-go outlives a deleted namespace; deleting its interface ends it.
    for interface in rpdeb-a rpdeb-b; do ip -n "$netns" link del "$interface" 2> /dev/null || true; done
    pkill -x -f "wireguard-go rpdeb-[ab]" 2> /dev/null || true
    ip netns del "$netns" 2> /dev/null || true
    if dpkg-query -W -f='${Status}' "$package" 2> /dev/null | grep -q installed; then
        dpkg --purge "$package" > /dev/null 2>&1 || true
    fi
    rm -rf "$work" /etc/rosenpass/server /etc/rosenpass/client /etc/rosenpass/server.toml /etc/rosenpass/client.toml \
        /etc/rosenpass/rpdeb-a /etc/rosenpass/rpdeb-b /etc/rosenpass/rpdeb-a.toml /etc/rosenpass/rpdeb-b.toml /run/rosenpass-broker
}
trap cleanup EXIT

# A package left by an earlier, interrupted run would hide what this one installs.
dpkg --purge "$package" > /dev/null 2>&1 || true
[ ! -e /etc/rosenpass ] || [ -z "$(ls -A /etc/rosenpass)" ] || fail "/etc/rosenpass exists and is not empty; not testing on top of it"

echo "building the package (make deb)"
deb=$(DEB_OUT="$work" "$root_dir/packaging/deb/build-deb.sh" 2> "$work/build.log" | tail -1) \
    || { tail -30 "$work/build.log" >&2; fail "packaging/deb/build-deb.sh failed"; }
[ -f "$deb" ] || fail "no package at '$deb'"
echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"

echo "lintian"
lintian --tag-display-limit 0 --display-level '>=warning' "$deb" > "$work/lintian.txt" 2>&1 || true
if grep -E '^[EW]: ' "$work/lintian.txt" > /dev/null; then
    cat "$work/lintian.txt" >&2
    fail "lintian reports errors or warnings"
fi
echo "lintian: no errors, no warnings"

echo "installing"
dpkg -i "$deb" > "$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "dpkg -i failed"; }
for program in rosenpass rp rosenpass-wireguard-broker-socket-handler rosenpass-wireguard-broker-privileged; do
    [ -x "/usr/bin/$program" ] || fail "/usr/bin/$program is missing"
    [ -f "/usr/share/man/man1/$program.1.gz" ] || fail "no man page for $program"
    man_text=$(zcat "/usr/share/man/man1/$program.1.gz")
    grep -q '^\.SH NAME' <<< "$man_text" || fail "$program.1 has no NAME section"
done
for file in /usr/share/bash-completion/completions/rosenpass /usr/share/zsh/vendor-completions/_rosenpass \
        /usr/share/fish/vendor_completions.d/rosenpass.fish /lib/systemd/system/rosenpass@.service \
        /lib/systemd/system/rp@.service /lib/systemd/system/rosenpass-broker.service \
        /lib/systemd/system/rosenpass-brokered@.service /usr/lib/sysusers.d/$package.conf \
        /etc/rosenpass/example.toml /etc/rosenpass/broker.policy /usr/share/doc/$package/copyright; do
    [ -f "$file" ] || fail "$file is missing"
done
# The programs run from /usr/bin without the toolchain's libraries: the Swift runtime is inside.
ldd /usr/bin/rosenpass | grep -q /opt/swift && fail "/usr/bin/rosenpass loads libraries from the Swift toolchain"
version=$(/usr/bin/rosenpass --version)
[ "$(dpkg-query -W -f='${Version}' $package)" = "$(cut -d' ' -f1 <<< "$version" | tr - '~')-1" ] \
    || fail "package version $(dpkg-query -W -f='${Version}' $package) does not follow '$version'"
getent passwd rosenpass-broker > /dev/null || fail "no account rosenpass-broker"
getent group rosenpass-broker-clients > /dev/null || fail "no group rosenpass-broker-clients"
privileged=/usr/bin/rosenpass-wireguard-broker-privileged
caps=$(getcap "$privileged")
grep -qi 'cap_net_admin[=+]eip' <<< "$caps" || fail "$privileged has no CAP_NET_ADMIN file capability: '$caps'"
[ "$(stat -c '%a %U %G' "$privileged")" = "754 root rosenpass-broker" ] \
    || fail "$privileged is $(stat -c '%a %U %G' "$privileged"), expected 754 root rosenpass-broker"
# Who may run it: a member of rosenpass-broker (as rosenpass@.service's dynamic user is), no one
# else. Asked with access(2) (`test -x`): this test machine's sandboxed kernel lets execve(2) run
# files whose execute bits say no (seen here with a 0700 root file run by uid 1000), so running it
# would prove nothing; on a normal kernel execve(2) applies the same bits.
nobody_gid=$(getent group nogroup | cut -d: -f3)
broker_gid=$(getent group rosenpass-broker | cut -d: -f3)
setpriv --reuid=65534 --regid="$nobody_gid" --groups="$broker_gid" --inh-caps=-all sh -c "test -x '$privileged'" \
    || fail "a member of rosenpass-broker may not run $privileged"
if setpriv --reuid=65534 --regid="$nobody_gid" --clear-groups --inh-caps=-all sh -c "test -x '$privileged'"; then
    fail "$privileged may be run by a user outside rosenpass-broker"
fi
setpriv --reuid=65534 --regid="$nobody_gid" --groups="$broker_gid" --inh-caps=-all "$privileged" --version > /dev/null \
    || fail "$privileged does not start as a member of rosenpass-broker"
grep -q '^SupplementaryGroups=rosenpass-broker$' /lib/systemd/system/rosenpass@.service \
    || fail "rosenpass@.service's user could not run the privileged broker (no SupplementaryGroups=rosenpass-broker)"
echo "installed: programs, man pages, completions, units, accounts; $privileged: $caps, mode 754 root:rosenpass-broker, runnable by its group only"

for unit in rosenpass@.service rosenpass-brokered@.service rp@.service rosenpass-broker.service; do
    instance=${unit/@./@example.}
    cp "/lib/systemd/system/$unit" "$work/$instance"
    out=$(cd "$work" && systemd-analyze verify --man=no "./$instance" 2>&1) || fail "systemd-analyze verify $unit: $out"
    [ -z "$out" ] || fail "systemd-analyze verify $unit complains: $out"
done
echo "installed units: systemd-analyze verify passes"

# The reference's package test: server and client from the example, on one host.
# An installed unit's command line (ExecStart=, continuation lines joined), %i as $2.
unit_command() {
    awk '/^ExecStart=/ { on = 1; sub(/^ExecStart=/, "") } on { more = sub(/\\$/, ""); printf "%s", $0; if (!more) exit }' \
        "/lib/systemd/system/$1" | sed "s/%i/${2:-%i}/g"
}
exec_start=$(unit_command rp@.service)
[ "$exec_start" = "/usr/bin/rp exchange-config /etc/rosenpass/%i.toml" ] || fail "rp@.service runs '$exec_start'"
PATH=/usr/bin:$PATH "$here/units/package-test-setup.sh" || fail "the package test's setup failed"

ip netns add "$netns"
ip -n "$netns" link set lo up
for side in server client; do
    command_line=${exec_start//%i/$side}
    # LoadCredential=pqpk, pqsk, wgsk: copies in a tmpfs only this process sees.
    ip netns exec "$netns" unshare --mount --propagation private sh -c '
        side=$1; shift
        mkdir -p /run/credentials
        mount -t tmpfs -o mode=0700 credentials /run/credentials
        mkdir -m 0700 "/run/credentials/rp@$side.service"
        for key in pqpk pqsk wgsk; do
            install -m 0400 "/etc/rosenpass/$side/$key" "/run/credentials/rp@$side.service/$key"
        done
        exec "$@"' rp-"$side" "$side" $command_line > "$work/rp-$side.log" 2>&1 &
    pids+=($!)
done

agreed=""
for _ in $(seq 1 120); do
    server_psk=$(ip netns exec "$netns" wg show rp-server preshared-keys 2> /dev/null | awk '{ print $2 }' || true)
    client_psk=$(ip netns exec "$netns" wg show rp-client preshared-keys 2> /dev/null | awk '{ print $2 }' || true)
    if [ -n "$server_psk" ] && [ "$server_psk" != "(none)" ] && [ "$server_psk" = "$client_psk" ]; then
        agreed=yes
        break
    fi
    for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null || { cat "$work"/rp-*.log >&2; fail "an rp process ended"; }; done
    sleep 0.5
done
[ -n "$agreed" ] || { cat "$work"/rp-*.log >&2; fail "the PSKs of rp-server and rp-client did not agree within 60 s"; }
echo "rp@server and rp@client (installed unit command lines): both interfaces hold the same PSK"
for pid in "${pids[@]}"; do kill "$pid"; done
for pid in "${pids[@]}"; do wait "$pid" || true; done
pids=()
! ip netns exec "$netns" ip link show rp-server > /dev/null 2>&1 || fail "rp left rp-server behind"
rm -rf /etc/rosenpass/server /etc/rosenpass/client /etc/rosenpass/server.toml /etc/rosenpass/client.toml

# The daemon's units: rosenpass@rpdeb-a (default broker: the privileged broker spawned from /usr/bin)
# against rosenpass-brokered@rpdeb-b, whose keys go through rosenpass-broker.service's socket handler;
# both on wireguard-go interfaces. Each is run with its installed unit's command line.
broker_command=$(unit_command rosenpass-broker.service)
for side in a b; do
    (umask 077; wg genkey > "$work/rpdeb-$side.key"; wg genpsk > "$work/initial-$side.psk")
    wg pubkey < "$work/rpdeb-$side.key" > "$work/rpdeb-$side.pub"
    ip netns exec "$netns" wireguard-go "rpdeb-$side" > /dev/null 2>&1 || fail "wireguard-go rpdeb-$side did not start"
    mkdir -p "/etc/rosenpass/rpdeb-$side"
    /usr/bin/rosenpass gen-keys --secret-key "/etc/rosenpass/rpdeb-$side/pqsk" --public-key "/etc/rosenpass/rpdeb-$side/pqpk" \
        > /dev/null 2>&1 || fail "rosenpass gen-keys for rpdeb-$side"
done
port_a=51901 port_b=51902
ip netns exec "$netns" wg set rpdeb-a listen-port 51911 private-key "$work/rpdeb-a.key" \
    peer "$(cat "$work/rpdeb-b.pub")" preshared-key "$work/initial-a.psk" allowed-ips 10.99.0.2/32 endpoint 127.0.0.1:51912
ip netns exec "$netns" wg set rpdeb-b listen-port 51912 private-key "$work/rpdeb-b.key" \
    peer "$(cat "$work/rpdeb-a.pub")" preshared-key "$work/initial-b.psk" allowed-ips 10.99.0.1/32 endpoint 127.0.0.1:51911
for side in a b; do
    other=$([ $side = a ] && echo b || echo a)
    own_port=$([ $side = a ] && echo $port_a || echo $port_b)
    other_port=$([ $side = a ] && echo $port_b || echo $port_a)
    unit=$([ $side = a ] && echo rosenpass || echo rosenpass-brokered)
    cat > "/etc/rosenpass/rpdeb-$side.toml" <<TOML
public_key = "/etc/rosenpass/rpdeb-$side/pqpk"
secret_key = "/run/credentials/$unit@rpdeb-$side.service/pqsk"
listen = ["127.0.0.1:$own_port"]
verbosity = "Verbose"

[[peers]]
public_key = "/etc/rosenpass/rpdeb-$other/pqpk"
endpoint = "127.0.0.1:$other_port"
device = "rpdeb-$side"
peer = "$(cat "$work/rpdeb-$other.pub")"
TOML
done
# The broker's allow-list names the one peer the brokered daemon may key.
printf 'peer rpdeb-b %s\n' "$(cat "$work/rpdeb-a.pub")" > /etc/rosenpass/broker.policy
clients_gid=$(getent group rosenpass-broker-clients | cut -d: -f3)

# rosenpass-broker.service: RuntimeDirectory=rosenpass-broker; as root here, because wireguard-go's
# UAPI socket is root's (the unit's comment says so: a drop-in with User=root for wireguard-go).
mkdir -p /run/rosenpass-broker
ip netns exec "$netns" $broker_command > "$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [ -S /run/rosenpass-broker/broker.sock ] && break; sleep 0.1; done
[ -S /run/rosenpass-broker/broker.sock ] || { cat "$work/broker.log" >&2; fail "rosenpass-broker.service's command made no socket"; }
[ "$(stat -c '%a %G' /run/rosenpass-broker/broker.sock)" = "660 rosenpass-broker-clients" ] || fail "the broker socket is $(stat -c '%a %G' /run/rosenpass-broker/broker.sock)"

# rosenpass@rpdeb-a as root (the unit: a dynamic user with CAP_NET_ADMIN); rosenpass-brokered@rpdeb-b as
# an unprivileged user in rosenpass-broker-clients with no capability, as its unit. Each gets its
# secret key as the credential pqsk, readable by it alone.
start_daemon() {
    local unit=$1 instance=$2 owner=$3; shift 3
    local command_line
    command_line=$(unit_command "$unit@.service" "$instance")
    ip netns exec "$netns" unshare --mount --propagation private sh -c '
        dir=$1 key=$2 owner=$3; shift 3
        mkdir -p /run/credentials
        mount -t tmpfs -o mode=0755 credentials /run/credentials
        mkdir -m 0700 "$dir"
        install -m 0400 "$key" "$dir/pqsk"
        chown -R "$owner" "$dir"
        exec "$@"' "$unit@$instance" "/run/credentials/$unit@$instance.service" "/etc/rosenpass/$instance/pqsk" "$owner" \
        "$@" $command_line > "$work/$unit@$instance.log" 2>&1 &
    pids+=($!)
}
start_daemon rosenpass rpdeb-a 0:0
start_daemon rosenpass-brokered rpdeb-b 65534:"$nobody_gid" \
    setpriv --reuid=65534 --regid="$nobody_gid" --groups="$clients_gid" --inh-caps=-all --bounding-set=-all --no-new-privs

agreed=""
for _ in $(seq 1 120); do
    psk_a=$(ip netns exec "$netns" wg show rpdeb-a preshared-keys 2> /dev/null | awk '{ print $2 }' || true)
    psk_b=$(ip netns exec "$netns" wg show rpdeb-b preshared-keys 2> /dev/null | awk '{ print $2 }' || true)
    if [ -n "$psk_a" ] && [ "$psk_a" = "$psk_b" ] && [ "$psk_a" != "$(cat "$work/initial-a.psk")" ]; then
        agreed=yes
        break
    fi
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2> /dev/null || { tail -n 20 "$work"/*.log >&2; fail "a daemon or the broker ended"; }
    done
    sleep 0.5
done
[ -n "$agreed" ] || { tail -n 20 "$work"/*.log >&2; fail "rpdeb-a and rpdeb-b did not get the same PSK within 60 s"; }
grep -q "SetPsk for peer $(cat "$work/rpdeb-a.pub") on interface rpdeb-b: Success" "$work/broker.log" \
    || { cat "$work/broker.log" >&2; fail "the broker did not log the brokered daemon's SetPsk"; }
echo "rosenpass@rpdeb-a (default broker) and rosenpass-brokered@rpdeb-b (through rosenpass-broker.service, no capability): same PSK on both"
for pid in "${pids[@]}"; do kill "$pid"; done
for pid in "${pids[@]}"; do wait "$pid" || true; done
pids=()
rm -rf /etc/rosenpass/rpdeb-a /etc/rosenpass/rpdeb-b /etc/rosenpass/rpdeb-a.toml /etc/rosenpass/rpdeb-b.toml /run/rosenpass-broker

echo "removing"
dpkg -r "$package" > "$work/remove.log" 2>&1 || { cat "$work/remove.log" >&2; fail "dpkg -r failed"; }
left=$(dpkg -L "$package" 2> /dev/null | while read -r path; do [ -f "$path" ] && echo "$path"; done | sort | tr '\n' ' ')
[ "$left" = "/etc/rosenpass/broker.policy /etc/rosenpass/example.toml " ] || fail "after dpkg -r, left: '$left'"
[ ! -e "$privileged" ] && [ ! -e /lib/systemd/system/rp@.service ] || fail "dpkg -r left programs or units"
dpkg --purge "$package" > "$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge failed"; }
[ ! -e /etc/rosenpass ] || fail "after dpkg --purge, /etc/rosenpass is still there: $(ls -A /etc/rosenpass)"
dpkg-query -W -f='${Status}' "$package" 2> /dev/null | grep -q "installed" && fail "still installed after purge"
echo "removed: dpkg -r kept only the configuration, dpkg --purge removed it"
