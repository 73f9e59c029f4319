# The OpenSSH broker link (sourced by scenario.sh): the local peer's rosenpass-link user runs
# systemd/rosenpass-link.service's ssh command against a real sshd on the rosenpass device that uses
# systemd/rosenpass-link-sshd_config, both with only this test's paths, names and addresses put in.
#
# Provides: link_description, link_firewall_rules, link_setup, link_start, link_cut, link_restore,
# link_checks. Uses the scenario's variables (L, D, net, v, users, logs, admin, repo paths).

link_description="OpenSSH remote unix-socket forward"
link_port=2222
# The device's side of the link, where its daemon connects (inside the account's chroot: /sock).
link_socket="$D/link-root/sock/broker.sock"
# Nothing from the device may open a connection to the local peer: the local peer dials out.
link_firewall_rules=""

link_setup() {
    log "link: sshd on the device (post-quantum key exchange only, one account, forward-only)"
    install -d -m 0755 "$D/sshd" "$D/sshd/authorized_keys"
    ssh-keygen -q -t ed25519 -N '' -C "rosenpass-device host key" -f "$D/sshd/ssh_host_ed25519_key"
    render_file "$iso_repo/systemd/rosenpass-link-sshd_config" "$D/sshd/sshd_config" \
        "Port 2222|ListenAddress $net.3.2:$link_port" \
        "/etc/ssh/rosenpass-link/|$D/sshd/" \
        "AllowUsers rosenpass-link|AllowUsers $d_link" \
        "Match User rosenpass-link|Match User $d_link" \
        "ChrootDirectory /srv/rosenpass-link|ChrootDirectory $D/link-root"
    /usr/sbin/sshd -t -f "$D/sshd/sshd_config" || fail "sshd refuses $D/sshd/sshd_config"

    log "link: the local peer's key (made on the local peer by its link user) and the device's host key"
    as_user L "$l_link" ssh-keygen -q -t ed25519 -N '' -C "local peer broker link" -f "$L/link/id_ed25519"
    # The operator copies the public key to the device, with the options the guide gives.
    printf 'restrict,port-forwarding,command="/usr/sbin/nologin" %s\n' "$(cat "$L/link/id_ed25519.pub")" \
        > "$D/sshd/authorized_keys/$d_link"
    chmod 0644 "$D/sshd/authorized_keys/$d_link"
    # ...and the device's host key to the local peer (checked out of band in real life).
    printf '[%s]:%s %s\n' "$net.3.2" "$link_port" "$(cut -d' ' -f1,2 "$D/sshd/ssh_host_ed25519_key.pub")" > "$L/link/known_hosts"
    chown "$l_link:" "$L/link/known_hosts"

    start_logged "$logs/D-sshd.log" on_host D /usr/sbin/sshd -D -e -f "$D/sshd/sshd_config"
    sshd_pid=$last_pid
    wait_for "on_host D ss -Hltn 'sport = :$link_port' | grep -q LISTEN" 10 || fail "sshd does not listen on the device"

    # The unit's command, with this test's key, host and socket paths.
    unit_command "$iso_repo/systemd/rosenpass-link.service" link_command \
        "/etc/rosenpass/link/|$L/link/" \
        "/run/rosenpass-broker/broker.sock|$L/run/broker.sock" \
        "rosenpass-link@rosenpass-device.example|$d_link@$net.3.2"
    # Everything but the forward, for the refusal checks: the same identity and host key.
    ssh_options=(-F none -p "$link_port" -i "$L/link/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
        -o "UserKnownHostsFile=$L/link/known_hosts" -o StrictHostKeyChecking=yes -o ConnectTimeout=5)
}

# Like systemd's Restart=always: run the unit's ssh again a second after it ends (-v logs the
# negotiated key exchange).
link_start() {
    local quoted
    quoted=$(printf '%q ' "${link_command[0]}" -v "${link_command[@]:1}")
    start_logged "$logs/L-link.log" as_user L "$l_link" bash -c "while :; do $quoted; echo \"ssh exited with \$?\"; sleep 1; done"
    link_pid=$last_pid
}

# The link drops: the local peer's interface to the device goes down (nothing is killed; both ends
# notice through their keepalives).
link_cut() { ip -n "$iso_prefix-L" link set "ld$v" down; }
link_restore() { ip -n "$iso_prefix-L" link set "ld$v" up; }

link_checks() {
    local out status
    log "link: the key exchange was $(grep -o 'kex: algorithm: [^ ]*' "$logs/L-link.log" | head -1)"
    grep -q 'kex: algorithm: sntrup761x25519-sha512@openssh.com' "$logs/L-link.log" \
        || fail "the link did not use sntrup761x25519-sha512@openssh.com"
    grep -q 'remote forward success for: listen /sock/broker.sock' "$logs/L-link.log" || fail "the forward was not set up"
    [ "$(stat -c '%a %U %G' "$link_socket")" = "660 $d_link $d_link" ] \
        || fail "forwarded socket is $(stat -c '%a %U %G' "$link_socket"), expected 660 $d_link $d_link"

    log "link: a client without the post-quantum key exchange is refused"
    out=$(as_user L "$l_link" timeout 20 ssh -T "${ssh_options[@]}" -N -o KexAlgorithms=curve25519-sha256,ecdh-sha2-nistp256 \
        "$d_link@$net.3.2" 2>&1) && fail "a classical key exchange was accepted"
    grep -q "no matching key exchange method" <<< "$out" || fail "classical key exchange: unexpected answer: $out"

    log "link: another key is refused"
    as_user L "$l_link" ssh-keygen -q -t ed25519 -N '' -f "$L/link/other_ed25519"
    out=$(as_user L "$l_link" timeout 20 ssh -F none -T -p "$link_port" -i "$L/link/other_ed25519" -o IdentitiesOnly=yes \
        -o BatchMode=yes -o "UserKnownHostsFile=$L/link/known_hosts" -o StrictHostKeyChecking=yes -N "$d_link@$net.3.2" 2>&1) \
        && fail "an unknown key logged in"
    grep -q "Permission denied (publickey)" <<< "$out" || fail "unknown key: unexpected answer: $out"
    rm -f "$L/link/other_ed25519" "$L/link/other_ed25519.pub"

    # Each attempt would leave a file where the account may write (its socket directory) or would
    # carry data to a listener on the device; neither may happen.
    log "link: the key cannot run a command, get a pty or a subsystem"
    # sshd refuses to open the session channel at all (MaxSessions 0): "open failed". Behind it,
    # ForceCommand, the key's restrict/command= options and the empty chroot would stop a session too.
    out=$(as_user L "$l_link" timeout 20 ssh -T "${ssh_options[@]}" "$d_link@$net.3.2" "touch /sock/ran-a-command" 2>&1) \
        && fail "a command session was accepted"
    grep -q "open failed" <<< "$out" || fail "command: the session was not refused: $out"
    out=$(printf 'touch /sock/got-a-pty\nexit\n' | as_user L "$l_link" timeout 20 ssh -tt "${ssh_options[@]}" "$d_link@$net.3.2" 2>&1) \
        && fail "an interactive session with a pty was accepted"
    grep -q "open failed" <<< "$out" || fail "pty: the session was not refused: $out"
    out=$(printf 'put /etc/hostname /sock/used-sftp\n' | as_user L "$l_link" timeout 20 sftp -F none -P "$link_port" -b - \
        -i "$L/link/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o "UserKnownHostsFile=$L/link/known_hosts" \
        "$d_link@$net.3.2" 2>&1) && fail "an sftp session was accepted"
    grep -q "open failed" <<< "$out" || fail "sftp: the session was not refused: $out"
    for file in ran-a-command got-a-pty used-sftp; do
        [ ! -e "$D/link-root/sock/$file" ] && [ ! -e "/sock/$file" ] || fail "the account could create $file"
    done

    log "link: the key cannot open any other forward (data sent through each attempt must not arrive)"
    : > "$logs/D-tcp-listener.data"; : > "$logs/D-unix-listener.data"
    start_logged "$logs/D-listeners.log" on_host D socat -u TCP-LISTEN:7777,bind=127.0.0.1,reuseaddr,fork \
        "OPEN:$logs/D-tcp-listener.data,append"
    start_logged "$logs/D-listeners.log" on_host D socat -u "UNIX-LISTEN:$D/probe.sock,fork,mode=666" \
        "OPEN:$logs/D-unix-listener.data,append"
    wait_for "on_host D ss -Hltn 'sport = :7777' | grep -q LISTEN && [ -S '$D/probe.sock' ]" 10 || fail "probe listeners did not start"
    # Control: the listeners do record what reaches them.
    echo control | on_host D socat -u - TCP:127.0.0.1:7777
    echo control | on_host D socat -u - "UNIX-CONNECT:$D/probe.sock"
    wait_for "[ -s '$logs/D-tcp-listener.data' ] && [ -s '$logs/D-unix-listener.data' ]" 5 || fail "probe listeners record nothing"
    : > "$logs/D-tcp-listener.data"; : > "$logs/D-unix-listener.data"

    # -W (a direct-tcpip channel, as -D uses too)
    echo "via -W" | as_user L "$l_link" timeout 20 ssh -T "${ssh_options[@]}" -W 127.0.0.1:7777 "$d_link@$net.3.2" >/dev/null 2>&1 || true
    # -L to a TCP port, to a unix socket on the device, and to the broker socket itself
    try_local_forward "127.0.0.1:17777:127.0.0.1:7777" "TCP:127.0.0.1:17777"
    try_local_forward "$L/link/probe-l.sock:$D/probe.sock" "UNIX-CONNECT:$L/link/probe-l.sock"
    try_local_forward "$L/link/probe-b.sock:/sock/broker.sock" "UNIX-CONNECT:$L/link/probe-b.sock"
    pause 1
    [ ! -s "$logs/D-tcp-listener.data" ] || fail "data reached a TCP port on the device through a forward"
    [ ! -s "$logs/D-unix-listener.data" ] || fail "data reached a unix socket on the device through a forward"
    grep -q "refused local port forward" "$logs/D-sshd.log" || fail "sshd did not log the refused TCP forwards"
    grep -q "refused streamlocal port forward" "$logs/D-sshd.log" || fail "sshd did not log the refused unix forwards"

    # -R: a TCP listener, and unix sockets outside the account's socket directory
    for spec in "17778:127.0.0.1:9" "/tmp/rpiso-elsewhere.sock:$L/run/broker.sock" "$D/rosenpass/planted.sock:$L/run/broker.sock"; do
        out=$(as_user L "$l_link" timeout 20 ssh -T "${ssh_options[@]}" -N -o ExitOnForwardFailure=yes -R "$spec" "$d_link@$net.3.2" 2>&1) \
            && fail "remote forward $spec was accepted"
        grep -q "remote port forwarding failed" <<< "$out" || fail "remote forward $spec: unexpected answer: $out"
    done
    on_host D ss -Hltn 'sport = :17778' | grep -q . && fail "a TCP listener appeared on the device"
    [ ! -e /tmp/rpiso-elsewhere.sock ] && [ ! -e "$D/rosenpass/planted.sock" ] && [ ! -e "$D/link-root/tmp" ] \
        || fail "a socket was created outside the account's directory"
    log "link: refused: command, pty, sftp, -W, -L (tcp, unix, broker socket), -R (tcp, unix elsewhere)"
}

# try_local_forward SPEC SOCAT_TARGET: start ssh -L SPEC, send data into its listener, stop it.
try_local_forward() {
    local spec=$1 target=$2 pid
    as_user L "$l_link" ssh -T "${ssh_options[@]}" -N -L "$spec" "$d_link@$net.3.2" >> "$logs/L-forward-attempts.log" 2>&1 &
    pid=$!
    # The listener on the local peer opens even though the server will refuse the channel.
    local listening=1
    case $target in
        TCP:*) wait_for "on_host L ss -Hltn 'sport = :${target##*:}' | grep -q LISTEN" 10 || listening=0 ;;
        UNIX-CONNECT:*) wait_for "[ -S '${target#UNIX-CONNECT:}' ]" 10 || listening=0 ;;
    esac
    if [ "$listening" = 1 ]; then
        echo "via -L $spec" | on_host L timeout 5 socat -u - "$target" >/dev/null 2>&1 || true
    fi
    kill_tree "$pid"
    [ "$listening" = 1 ] || fail "ssh -L $spec did not open its local listener (see $logs/L-forward-attempts.log)"
}
