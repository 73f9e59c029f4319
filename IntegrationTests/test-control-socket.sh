#!/usr/bin/env bash
# `rosenpass status`, `rosenpass metrics` and `metrics_listen` against two real daemons on loopback
# (docs/control-socket.md):
#   1. both daemons serve status on their control_socket (mode 0600); after the first exchange the
#      table and the JSON agree with the key files: one handshake completed, a recent exchange, the
#      next rekey ahead, the peer's last-seen address; bob logs JSON lines (log_format = "json");
#   2. the metrics, over the control socket and over HTTP (metrics_listen), parse with the Prometheus
#      project's own text parser (python3-prometheus-client) and hold the same facts;
#   3. hostile clients: a request too large, a wrong protocol version and junk get an error answer
#      or a closed connection, and the daemon still answers status right after;
#   4. when the daemon stops, its socket file is gone; `status` then says no daemon answers.
# Needs no root. Exit 0 = passed, 77 = skipped (a tool is missing), anything else = failed.
set -euo pipefail
# shellcheck source=SCRIPTDIR/broker/lib.sh
source "$(dirname "$0")/broker/lib.sh"

require_binaries rosenpass
python=/usr/bin/python3
"$python" -c 'import prometheus_client' 2> /dev/null || python=python3
"$python" -c 'import prometheus_client' 2> /dev/null || skip "needs python3-prometheus-client (make deps installs it as root)"
command -v curl > /dev/null || skip "needs curl"
rosenpass=$ROSENPASS_BIN_DIR/rosenpass

work=$(mktemp -d /tmp/rp-control.XXXXXX)
on_exit "rm -rf '$work'"
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        if ! grep -qi ":$(printf '%04X' "$port") " /proc/net/udp /proc/net/udp6 /proc/net/tcp /proc/net/tcp6 2> /dev/null; then
            echo "$port"
            return
        fi
    done
}
udp=$(free_port)
http=$(free_port)
for name in alice bob; do "$rosenpass" gen-keys --secret-key "$work/$name.sk" --public-key "$work/$name.pk" 2> /dev/null; done
cat > "$work/alice.toml" << EOF
public_key = "$work/alice.pk"
secret_key = "$work/alice.sk"
listen = ["127.0.0.1:$udp"]
control_socket = "$work/alice.sock"
metrics_listen = "127.0.0.1:$http"

[[peers]]
name = "bob"
public_key = "$work/bob.pk"
key_out = "$work/alice.key"
EOF
cat > "$work/bob.toml" << EOF
public_key = "$work/bob.pk"
secret_key = "$work/bob.sk"
listen = []
control_socket = "$work/bob.sock"
log_format = "json"

[[peers]]
name = "alice"
public_key = "$work/alice.pk"
endpoint = "127.0.0.1:$udp"
key_out = "$work/bob.key"
EOF
declare -A pid
start() {
    "$rosenpass" exchange-config "$work/$1.toml" > "$work/$1.out" 2> "$work/$1.err" &
    pid[$1]=$!
    on_exit "kill ${pid[$1]} 2> /dev/null || true"
}
start alice
start bob
wait_for "[ -s '$work/alice.key' ] && [ -s '$work/bob.key' ]" 20 || fail "no key exchanged: $(cat "$work"/*.err)"
cmp -s "$work/alice.key" "$work/bob.key" || fail "the two keys differ"

log "1. status on both control sockets"
[ "$(stat -c %a "$work/alice.sock")" = 600 ] || fail "the control socket is mode $(stat -c %a "$work/alice.sock"), not 0600"
"$rosenpass" status -c "$work/alice.toml" > "$work/alice.status" || fail "status failed"
cat "$work/alice.status" >&2
grep -q "^peer: bob" "$work/alice.status" || fail "the table does not name peer bob"
grep -q "handshakes: 1 completed, 0 failed" "$work/alice.status" || fail "the table does not show one completed handshake"
grep -q "last seen at 127.0.0.1:" "$work/alice.status" || fail "the table does not show where bob was seen"
"$rosenpass" status --socket "$work/bob.sock" --json > "$work/bob.json" || fail "status --json failed"
"$python" - "$work/bob.json" << 'EOF' || fail "bob's JSON status is not what the exchange did"
import json, sys
status = json.load(open(sys.argv[1]))
assert status["schema"] == 1, status["schema"]
assert status["datagrams"]["received"] >= 2, status["datagrams"]
(peer,) = status["peers"]
assert peer["name"] == "alice" and peer["initiates"], peer
assert peer["handshakes_completed"] == 1 and peer["handshakes_started"] >= 1, peer
assert 0 <= peer["last_exchange_seconds_ago"] < 30, peer
assert 90 < peer["next_rekey_seconds"] <= 130, peer
assert peer["mceliece_variant"] == "round3" and peer["mceliece_variant_source"] == "learned", peer
assert status["broker"]["kind"] == "none", status["broker"]
EOF

log "1b. bob's log is JSON lines (log_format = json)"
"$python" - "$work/bob.err" << 'EOF' || fail "bob's log is not JSON lines: $(head -3 "$work/bob.err")"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert records and all(set(r) >= {"time", "level", "logger", "message"} for r in records), records
assert any(r["level"] == "notice" and r["message"].startswith("Exchanged key with peer alice") for r in records), records
EOF

log "2. metrics over the control socket and over HTTP, read by prometheus_client's parser"
"$rosenpass" metrics --socket "$work/alice.sock" > "$work/alice.prom" || fail "metrics failed"
curl -sf "http://127.0.0.1:$http/metrics" > "$work/alice-http.prom" || fail "no metrics at http://127.0.0.1:$http/metrics"
for file in alice.prom alice-http.prom; do
    "$python" - "$work/$file" << 'EOF' || fail "$file does not parse or does not hold the exchange"
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
def value(family, **labels):
    for sample in families[family].samples:
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    raise AssertionError(f"no sample {family} {labels}")
# The parser drops the _total suffix from counter family names.
assert value("rosenpass_handshakes", name="bob", result="completed") == 1
assert 0 <= value("rosenpass_peer_last_exchange_seconds", name="bob") < 60
assert value("rosenpass_datagrams_received") >= 2
assert value("rosenpass_peers") == 1
assert value("rosenpass_peer_overdue", name="bob") == 0
EOF
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/")" = 404 ] || fail "/ is not a 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$http/metrics")" = 405 ] || fail "POST is not a 405"

log "3. hostile clients"
"$python" - "$work/alice.sock" << 'EOF' || fail "a hostile request was not handled"
import socket, struct, sys
def ask(payload, raw=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    s.sendall(raw if raw is not None else struct.pack("<Q", len(payload)) + payload)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) >= 8 and len(data) >= 8 + struct.unpack("<Q", data[:8])[0]:
            break
    s.close()
    return data
# Wrong version: answered "unsupported version" (3), in version 1.
answer = ask(bytes([9, 1]))
assert answer[8:11] == bytes([1, 1, 3]), answer[:16]
# Unknown kind: "unknown request" (4).
assert ask(bytes([1, 200]))[8:11] == bytes([1, 200, 4])
# Too large (70,000 bytes): "bad request" (2), and the connection stays in step.
assert ask(bytes(70000))[8:11] == bytes([1, 0, 2])
# A header that cannot be a request: the connection is closed, nothing is answered.
assert ask(None, raw=b"\xff" * 16) == b""
# Status still works.
answer = ask(bytes([1, 1]))
assert answer[8:11] == bytes([1, 1, 0]) and b'"peers"' in answer, answer[:64]
EOF

log "4. after the daemon stops"
kill "${pid[alice]}"
wait "${pid[alice]}" 2> /dev/null || true
[ ! -e "$work/alice.sock" ] || fail "the control socket file is left behind"
if "$rosenpass" status --socket "$work/alice.sock" 2> "$work/status.err"; then fail "status succeeded without a daemon"; fi
grep -q "no rosenpass daemon answers at" "$work/status.err" || fail "unclear message: $(cat "$work/status.err")"
log "passed"
