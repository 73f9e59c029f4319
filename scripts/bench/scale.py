#!/usr/bin/env python3
"""The scale benchmark (`make bench-scale`): one rosenpass daemon with 100, 1,000 and 10,000 peers.

For each size N the daemon gets:
- a sample of real peers (--clients, at most N): each has its own key pair and is played by
  `rosenpass-crypto scale-client` from its own 127.1.x.y address; the daemon only responds to them
  (no endpoint), as a gateway responds to its clients;
- N minus the sample "bulk" peers with random 524160-byte public keys whose endpoint is a sink
  socket of this script: the daemon starts handshakes with them that no one answers, so their
  timers, retransmissions and start-up spread run as they would for unreachable peers. The sink
  counts the first InitHello of each handshake per second.

Measured: start time (exec to the "listening on" line, which follows loading every key), RSS after
start and at the end (VmRSS, VmHWM), handshakes per second with every sample client in a closed
loop, and the latency of handshakes started at N/120 a second (at least 10), the load of N peers
that rekey every two minutes: p50 and p99 from the first InitHello to the confirming EmptyData.

Keys are cached in --cache (default .build/bench-scale): the daemon's pair, the clients' pairs and
the bulk keys (5.2 GB for 10,000 peers). Prints a Markdown table and writes JSON to --json.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

PUBLIC_KEY_BYTES = 524_160
INIT_HELLO = 0x81


def generate_pair(rosenpass, public, secret):
    if not (os.path.exists(public) and os.path.exists(secret)):
        subprocess.run([rosenpass, "gen-keys", "--public-key", public, "--secret-key", secret, "--force"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def prepare_keys(args, largest):
    os.makedirs(f"{args.cache}/clients", exist_ok=True)
    os.makedirs(f"{args.cache}/bulk", exist_ok=True)
    rosenpass = f"{args.bin}/rosenpass"
    generate_pair(rosenpass, f"{args.cache}/server.pk", f"{args.cache}/server.sk")
    clients = min(args.clients, largest)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda i: generate_pair(rosenpass, f"{args.cache}/clients/client-{i}.pk",
                                              f"{args.cache}/clients/client-{i}.sk"), range(clients)))
    for i in range(largest - clients):
        path = f"{args.cache}/bulk/bulk-{i}.pk"
        if not os.path.exists(path) or os.path.getsize(path) != PUBLIC_KEY_BYTES:
            with open(path + ".tmp", "wb") as out:
                out.write(os.urandom(PUBLIC_KEY_BYTES))
            os.replace(path + ".tmp", path)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sink(threading.Thread):
    """Receives the InitHellos to the bulk peers; counts the first of each handshake per second."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.start_time = None
        self.seen = set()
        self.per_second = {}
        self.datagrams = 0
        self.running = True

    def run(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.datagrams += 1
            if not data or data[0] != INIT_HELLO or self.start_time is None:
                continue
            sidi = data[4:8]
            if sidi in self.seen:
                continue
            self.seen.add(sidi)
            second = int(time.monotonic() - self.start_time)
            self.per_second[second] = self.per_second.get(second, 0) + 1


def proc_status(pid):
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024  # MiB
    return values


def run_size(args, peers, work):
    clients = min(args.clients, peers)
    port = free_port()
    sink = Sink()
    sink.start()
    out = f"{work}/out"
    os.makedirs(out, exist_ok=True)
    lines = [f'public_key = "{args.cache}/server.pk"', f'secret_key = "{args.cache}/server.sk"',
             f'listen = ["127.0.0.1:{port}"]', 'verbosity = "Quiet"', ""]
    for i in range(clients):
        lines += ["[[peers]]", f'public_key = "{args.cache}/clients/client-{i}.pk"',
                  f'key_out = "{out}/client-{i}"', f'protocol_version = "{args.protocol_version}"', ""]
    for i in range(peers - clients):
        lines += ["[[peers]]", f'public_key = "{args.cache}/bulk/bulk-{i}.pk"', f'endpoint = "127.0.0.1:{sink.port}"',
                  f'key_out = "{out}/bulk-{i}"', f'protocol_version = "{args.protocol_version}"', ""]
    config = f"{work}/config-{peers}.toml"
    with open(config, "w") as file:
        file.write("\n".join(lines))
    log_path = f"{work}/daemon-{peers}.log"
    log = open(log_path, "w")
    begin = time.monotonic()
    daemon = subprocess.Popen([f"{args.bin}/rosenpass", "exchange-config", config],
                              stdout=subprocess.DEVNULL, stderr=log)
    try:
        while True:
            with open(log_path) as text:
                if "listening on" in text.read():
                    break
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon with {peers} peers exited: {open(log_path).read()[-2000:]}")
            time.sleep(0.01)
        start_seconds = time.monotonic() - begin
        sink.start_time = time.monotonic()
        after_start = proc_status(daemon.pid)

        def client(rate, duration):
            command = [f"{args.bin}/rosenpass-crypto", "scale-client", "--port", str(port),
                       "--server-public-key", f"{args.cache}/server.pk", "--client-keys", f"{args.cache}/clients",
                       "--clients", str(clients), "--duration", str(duration), "--rate", str(rate),
                       "--protocol-version", args.protocol_version]
            return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)

        closed = client(0, args.duration)
        rate = max(peers / 120, 10)
        opened = client(rate, args.duration * 1.5)
        remaining = args.observe - (time.monotonic() - sink.start_time)
        if remaining > 0:
            time.sleep(remaining)
        at_end = proc_status(daemon.pid)
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
        sink.running = False
        sink.join()
        log.close()
    seconds = sorted(sink.per_second)
    counts = [sink.per_second.get(s, 0) for s in range(0, (seconds[-1] + 1) if seconds else 0)]
    active = [c for c in counts if c > 0]
    return {
        "peers": peers, "clients": clients, "start_seconds": round(start_seconds, 2),
        "rss_after_start_mib": round(after_start["VmRSS"], 1), "rss_end_mib": round(at_end["VmRSS"], 1),
        "rss_peak_mib": round(at_end["VmHWM"], 1),
        "closed_loop": closed, "open_loop_rate": round(rate, 1), "open_loop": opened,
        "bulk_first_inithellos": sum(counts), "bulk_start_seconds": len(active),
        "bulk_max_per_second": max(counts) if counts else 0,
        "bulk_mean_per_second": round(sum(counts) / len(active), 1) if active else 0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/release")
    parser.add_argument("--peers", default="100,1000,10000")
    parser.add_argument("--clients", type=int, default=200, help="real peers played by scale-client")
    parser.add_argument("--cache", default=".build/bench-scale")
    parser.add_argument("--duration", type=float, default=20, help="seconds of the closed loop (the open loop runs 1.5 times as long)")
    parser.add_argument("--observe", type=float, default=70, help="seconds after start before the final RSS is read")
    parser.add_argument("--protocol-version", default="V02")
    parser.add_argument("--json")
    args = parser.parse_args()
    args.cache = os.path.abspath(args.cache)
    sizes = [int(n) for n in args.peers.split(",")]
    print(f"preparing keys in {args.cache} ...", file=sys.stderr)
    prepare_keys(args, max(sizes))
    results = []
    with tempfile.TemporaryDirectory(prefix="rosenpass-scale-") as work:
        for peers in sizes:
            print(f"{peers} peers ...", file=sys.stderr)
            results.append(run_size(args, peers, work))
            print(json.dumps(results[-1]), file=sys.stderr)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    print("| peers | start | RSS after start | RSS peak | handshakes/s (closed loop) | open loop: rate | p50 | p99 | failed | first InitHellos/s to bulk peers: mean, max |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        c, o = r["closed_loop"], r["open_loop"]
        print(f"| {r['peers']:,} | {r['start_seconds']:.2f} s | {r['rss_after_start_mib']:.0f} MiB | {r['rss_peak_mib']:.0f} MiB "
              f"| {c['per_second']:.0f} | {r['open_loop_rate']:.0f}/s | {o['p50_ms']:.1f} ms | {o['p99_ms']:.1f} ms "
              f"| {c['failed'] + o['failed']} | {r['bulk_mean_per_second']}, {r['bulk_max_per_second']} over {r['bulk_start_seconds']} s |")


if __name__ == "__main__":
    main()
