#!/usr/bin/env python3
"""Honest handshakes during an InitHello flood (issue 12; the table in BENCHMARKS.md).

A responder daemon listens on 127.0.0.1. A load generator (`rosenpass-crypto flood`) floods it from
127.0.0.2 with InitHellos that pass its envelope checks, as fast as one thread sends them; with
`--cookies` it first solves the responder's cookie, so that every InitHello carries a valid one (the
strongest single-source attacker). Meanwhile an honest initiator daemon is started again and again
from 127.0.0.1; each run is timed from its start to its first key (its first InitHello leaves at once).

Reports, per flood kind: datagrams per second sent and handled by the responder, the honest
handshake times (median, max), how many finished within 2 s of their first try, handshakes per
minute, and the responder's RSS before and after.

    python3 scripts/bench/flood.py --bin .build/release [--seconds 30] [--runs 10]
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(path, own, peer, listen, endpoint, key_out):
    lines = [
        f'public_key = "{own}.pk"', f'secret_key = "{own}.sk"', f'listen = ["{listen}"]', "",
        "[[peers]]", f'public_key = "{peer}.pk"', f'key_out = "{key_out}"',
    ]
    if endpoint:
        lines.append(f'endpoint = "{endpoint}"')
    with open(path, "w") as config:
        config.write("\n".join(lines) + "\n")


def honest_run(binary, folder, config, timeout):
    """Starts the honest initiator; returns seconds from its start to its first key, or None."""
    out = open(os.path.join(folder, "honest.out"), "w+")
    start = time.monotonic()
    process = subprocess.Popen([binary, "exchange-config", config], cwd=folder, stdout=out, stderr=subprocess.DEVNULL)
    took = None
    while time.monotonic() - start < timeout:
        out.seek(0)
        if "exchanged" in out.read():
            took = time.monotonic() - start
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    process.wait(10)
    out.close()
    return took


def start_flood(tool, folder, port, source, seconds, flood_args):
    return subprocess.Popen(
        [tool, "flood", "--host", "127.0.0.1", "--port", str(port), "--public-key", os.path.join(folder, "responder.pk"),
         "--source", source, "--duration", str(seconds)] + flood_args,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def measure(binary, tool, folder, name, senders, seconds, runs):
    """`senders`: (source address, extra flood arguments, head start in seconds, duration or None for
    the whole run) per flood process, started in that order."""
    port = free_port()
    write_config(os.path.join(folder, "responder.toml"), "responder", "honest", f"127.0.0.1:{port}", None, "responder.key")
    write_config(os.path.join(folder, "honest.toml"), "honest", "responder", "127.0.0.1:0", f"127.0.0.1:{port}", "honest.key")
    err = open(os.path.join(folder, "responder.err"), "w")
    responder = subprocess.Popen([binary, "exchange-config", "responder.toml"], cwd=folder, stdout=subprocess.DEVNULL, stderr=err)
    time.sleep(0.5)
    rss_before = rss_kib(responder.pid)
    floods = []
    elapsed = 0
    for source, flood_args, head_start, duration in senders:
        floods.append(start_flood(tool, folder, port, source, duration or seconds - elapsed, flood_args))
        time.sleep(head_start)
        elapsed += head_start
    time.sleep(2)  # the flood is under way, and the responder under load
    times = []
    began = time.monotonic()
    while len(times) < runs and time.monotonic() - began < seconds - 4:
        took = honest_run(binary, folder, "honest.toml", 10)
        times.append(took)
    window = time.monotonic() - began
    reports = []
    for flood in floods:
        sent, error = flood.communicate(timeout=seconds + 30)
        reports.append(json.loads(sent.strip().splitlines()[-1]) if sent.strip() else {"sent": 0, "per_second": 0, "error": error.strip()})
    rss_after = rss_kib(responder.pid)
    responder.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    responder.send_signal(signal.SIGTERM)
    responder.wait(10)
    err.close()
    status = open(os.path.join(folder, "responder.err")).read()
    dropped = re.search(r"status: up .*?; (\d+) datagrams? dropped( \((.*?)\))?;", status)
    finished = [t for t in times if t is not None]
    return {
        "flood": name,
        "sent_per_second": int(sum(report.get("sent", 0) for report in reports) / max(max(report.get("seconds", 0) for report in reports), 1e-9)),
        "handled_per_second": int(int(dropped.group(1)) / seconds) if dropped else None,
        "responder_dropped": int(dropped.group(1)) if dropped else None,
        "drop_reasons": dropped.group(3) if dropped and dropped.group(3) else "",
        "honest_runs": len(times),
        "finished": len(finished),
        "within_2s": sum(1 for t in finished if t <= 2),
        "median_s": sorted(finished)[len(finished) // 2] if finished else None,
        "max_s": max(finished) if finished else None,
        "per_minute": round(len(finished) / window * 60, 1) if window > 0 else 0,
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "flood_error": "; ".join(report.get("error", "") for report in reports if report.get("error")),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="folder with the built rosenpass and rosenpass-crypto")
    parser.add_argument("--seconds", type=float, default=30, help="length of each flood")
    parser.add_argument("--runs", type=int, default=10, help="honest handshakes to time per flood")
    args = parser.parse_args()
    binary = os.path.join(os.path.abspath(args.bin), "rosenpass")
    tool = os.path.join(os.path.abspath(args.bin), "rosenpass-crypto")
    folder = tempfile.mkdtemp(prefix="rp-flood-")
    try:
        for name in ["responder", "honest"]:
            subprocess.run([binary, "gen-keys", "-p", f"{name}.pk", "-s", f"{name}.sk"], cwd=folder, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results = []
        scenarios = [
            ("one sender, no cookies", [("127.0.0.2", [], 0, None)]),
            # The cookie solver asks for its cookie once a short burst from another address has put
            # the responder under load; then every InitHello it sends carries a valid cookie.
            ("one sender solving cookies", [("127.0.0.3", [], 1, 1.5), ("127.0.0.2", ["--cookies"], 0, None)]),
            ("two senders (both cores), one solving cookies", [("127.0.0.3", [], 1, None), ("127.0.0.2", ["--cookies"], 0, None)]),
        ]
        for name, senders in scenarios:
            result = measure(binary, tool, folder, name, senders, args.seconds, args.runs)
            results.append(result)
            print(json.dumps(result), flush=True)
        print()
        print("| flood | sent/s | dropped by the responder /s | honest handshakes | within 2 s | median | max | RSS before → after |")
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            median = f"{r['median_s']:.2f} s" if r["median_s"] is not None else "–"
            longest = f"{r['max_s']:.2f} s" if r["max_s"] is not None else "–"
            print(f"| {r['flood']} | {r['sent_per_second']:,} | {r['handled_per_second']:,} | {r['finished']}/{r['honest_runs']} | "
                  f"{r['within_2s']} | {median} | {longest} | {r['rss_before_mib']} → {r['rss_after_mib']} MiB |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
