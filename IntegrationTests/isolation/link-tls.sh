# The socat-over-TLS broker link (sourced by scenario.sh): the local peer runs
# systemd/rosenpass-link-tls.service's socat (a TLS server that wants a client certificate), the
# rosenpass device runs systemd/rosenpass-link-tls-device.service's socat (the broker socket, carried
# over TLS), both with only this test's paths and addresses put in. One private CA signs both.
#
# Provides: link_description, link_firewall_rules, link_setup, link_start, link_cut, link_restore,
# link_checks. Uses the scenario's variables (L, D, net, v, users, logs, admin, repo paths).

link_description="socat over TLS with client certificates"
link_port=4433
link_socket="$D/link-root/sock/broker.sock"
# Here the device connects to the local peer, on this one port only.
link_firewall_rules="iifname \"ld$v\" tcp dport $link_port accept"

# make_cert HOST USER DIR NAME EXTENSIONS CA_PREFIX: a key made on HOST by USER, its certificate
# signed by the CA (the operator signs the request on the admin machine).
make_cert() {
    local host=$1 user=$2 dir=$3 name=$4 extensions=$5 ca=$6
    as_user "$host" "$user" openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$dir/tls.key" -subj "/CN=$name" -out "$dir/tls.csr" 2>/dev/null || fail "cannot make the key of $name"
    printf '%s\n' "$extensions" > "$admin/$name.ext"
    openssl x509 -req -in "$dir/tls.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 30 \
        -extfile "$admin/$name.ext" -out "$admin/$name.crt" 2>/dev/null || fail "cannot sign the certificate of $name"
    install -m 0644 -o "$user" -g "$user" "$admin/$name.crt" "$dir/tls.crt"
    install -m 0644 -o "$user" -g "$user" "$ca.crt" "$dir/ca.crt"
}

make_ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$2" \
        -keyout "$1.key" -out "$1.crt" 2>/dev/null || fail "cannot make the CA $2"
}

link_setup() {
    log "link: a private CA, the local peer's server certificate and the device's client certificate"
    make_ca "$admin/link-ca" "rosenpass link CA"
    make_cert L "$l_link" "$L/link" local-peer \
        $'subjectAltName=DNS:local-peer\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature' "$admin/link-ca"
    make_cert D "$d_link" "$D/link" rosenpass-device \
        $'subjectAltName=DNS:rosenpass-device\nextendedKeyUsage=clientAuth\nkeyUsage=digitalSignature' "$admin/link-ca"
    # For the refusal checks: a certificate from another CA, and none at all.
    install -d -m 0700 "$admin/rogue"
    make_ca "$admin/rogue-ca" "some other CA"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$admin/rogue/tls.key" \
        -subj "/CN=rosenpass-device" -out "$admin/rogue/tls.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > "$admin/rogue.ext"
    openssl x509 -req -in "$admin/rogue/tls.csr" -CA "$admin/rogue-ca.crt" -CAkey "$admin/rogue-ca.key" -CAcreateserial \
        -days 30 -extfile "$admin/rogue.ext" -out "$admin/rogue/tls.crt" 2>/dev/null || fail "cannot make the rogue certificate"

    unit_command "$iso_repo/systemd/rosenpass-link-tls.service" link_local_command \
        "/etc/rosenpass/link/|$L/link/" \
        "/run/rosenpass-broker/broker.sock|$L/run/broker.sock"
    unit_command "$iso_repo/systemd/rosenpass-link-tls-device.service" link_device_command \
        "/etc/rosenpass/link/|$D/link/" \
        "/srv/rosenpass-link/sock/broker.sock|$link_socket" \
        "local-peer.example|$net.3.1"
}

# Both ends, each restarted a second after it ends (systemd's Restart=always).
link_start() {
    local quoted
    quoted=$(printf '%q ' "${link_local_command[@]}")
    start_logged "$logs/L-link.log" as_user L "$l_link" bash -c "while :; do $quoted; echo \"socat exited with \$?\"; sleep 1; done"
    link_local_pid=$last_pid
    wait_for "on_host L ss -Hltn 'sport = :$link_port' | grep -q LISTEN" 10 || fail "the local peer's TLS listener did not start"
    quoted=$(printf '%q ' "${link_device_command[@]}")
    start_logged "$logs/D-link.log" as_user D "$d_link" bash -c "umask 0117; while :; do $quoted; echo \"socat exited with \$?\"; sleep 1; done"
    link_device_pid=$last_pid
}

# The local peer's end stops (its service, or the host): the device's socket stays, but every
# connection to it is dropped at once, since the TLS connection behind it fails.
link_cut_local() { kill_tree "$link_local_pid"; }
# The device's end stops as well: its broker socket disappears.
link_cut_device() { kill_tree "$link_device_pid"; }
link_cut() { link_cut_local; link_cut_device; }
link_restore() { link_start; }

# Talks the broker protocol to the local peer over TLS from the device, as root, with the given
# socat OPENSSL options: a unix socket on the device bridged to the local peer's TLS port. Prints
# the broker's answers (one per request); fails quietly when nothing comes back.
tls_bridge_request() {
    local options=$1; shift
    local bridge="$admin/bridge-$RANDOM.sock" pid status=0
    on_host D socat "UNIX-LISTEN:$bridge" "OPENSSL:$net.3.1:$link_port,$options" >> "$logs/D-bridge.log" 2>&1 &
    pid=$!
    wait_for "[ -S '$bridge' ]" 5 || { kill_tree "$pid"; fail "the TLS bridge did not start"; }
    on_host D /usr/bin/python3 "$iso_tools/broker-request.py" --timeout 10 --socket "$bridge" "$@" 2>> "$logs/D-bridge.log" || status=$?
    kill_tree "$pid"
    rm -f "$bridge"
    return $status
}

link_checks() {
    local out before
    [ "$(stat -c '%a %U %G' "$link_socket")" = "660 $d_link $d_link" ] \
        || fail "the device's broker socket is $(stat -c '%a %U %G' "$link_socket"), expected 660 $d_link $d_link"

    out=$(as_user D "$d_link" timeout 10 openssl s_client -brief -connect "$net.3.1:$link_port" -cert "$D/link/tls.crt" \
        -key "$D/link/tls.key" -CAfile "$D/link/ca.crt" -verify_return_error < /dev/null 2>&1) || true
    grep -q "Protocol version: TLSv1.3" <<< "$out" || fail "the TLS link did not use TLS 1.3: $out"
    tls_group=$(sed -n 's/^\(Server\|Peer\) Temp Key: //p' <<< "$out")
    log "link: TLS 1.3, key exchange: ${tls_group:-unknown} (see the guide on what this means for the PSKs)"

    local good="cert=$D/link/tls.crt,key=$D/link/tls.key,cafile=$D/link/ca.crt,commonname=local-peer,verify=1"
    local allowed="wgl:$r_pub:random"
    before=$(wg_psk L wgl "$r_pub")
    log "link: a client without a certificate, or with one from another CA, reaches nothing"
    tls_bridge_request "cafile=$D/link/ca.crt,commonname=local-peer,verify=1" "$allowed" > /dev/null \
        && fail "a TLS client without a certificate got an answer from the broker"
    tls_bridge_request "cert=$admin/rogue/tls.crt,key=$admin/rogue/tls.key,cafile=$D/link/ca.crt,commonname=local-peer,verify=1" \
        "$allowed" > /dev/null && fail "a TLS client with another CA's certificate got an answer from the broker"
    [ "$(wg_psk L wgl "$r_pub")" = "$before" ] || fail "the local peer's PSK changed through a refused TLS client"
    grep -q -i "certificate" "$logs/L-link.log" || fail "the local peer's socat did not log the certificate failures"
    # Control: the same bridge with the device's certificate does reach the broker (which refuses a
    # peer outside its allow-list).
    out=$(tls_bridge_request "$good" "wgl:$x_pub:random") || fail "the TLS bridge with the device's certificate failed"
    [ "$out" = 0x01 ] || fail "the broker answered $out for a peer outside its allow-list"

    log "link: the device only accepts the local peer's certificate"
    # An impostor on the device's other network offers a certificate from another CA.
    on_host R socat -u "OPENSSL-LISTEN:14433,reuseaddr,cert=$admin/rogue/tls.crt,key=$admin/rogue/tls.key,verify=0" \
        OPEN:/dev/null >> "$logs/R-impostor.log" 2>&1 &
    local impostor=$!
    wait_for "on_host R ss -Hltn 'sport = :14433' | grep -q LISTEN" 10 || fail "the impostor listener did not start"
    out=$(as_user D "$d_link" timeout 10 socat -u \
        "OPENSSL:$net.2.2:14433,cert=$D/link/tls.crt,key=$D/link/tls.key,cafile=$D/link/ca.crt,commonname=local-peer,verify=1" \
        - < /dev/null 2>&1) && fail "the device accepted a server certificate from another CA"
    kill_tree "$impostor"
    grep -q -i "certificate verify failed" <<< "$out" || fail "impostor server: unexpected answer: $out"
}
