#!/usr/bin/env python3
"""Compares `rosenpass-crypto bench --json` with reference implementations measured in the same run.

Runs the (already built) rosenpass-crypto benchmarks and every scripts/bench/reference_*.py, pairs
their JSON lines by "name", and prints a Markdown table

    name | ours ns/op | reference ns/op | ratio (ours/reference) | reference impl

Ratios below 1 mean we are faster. A throughput target "at least 0.7 of the reference's" is a ratio of
at most 1/0.7 = 1.43.

The machine is usually shared with other work, so ours and the reference are interleaved benchmark by
benchmark: for each name, ours runs, then the reference, and the whole sequence is repeated --passes
times; each side keeps its best time over all passes (each run itself reports the best of --rounds).
The report starts with the machine, the load average before and after, the date and the command, so it
can be pasted into BENCHMARKS.md as it is.

A reference script prints one JSON object per line: {"name": ..., "ns_per_op": ..., "impl": ...}. It
is run as `python3 reference_X.py`. If its --help mentions --list and --filter, it is asked for its
names once and then run one benchmark at a time (interleaved); otherwise it is run whole once per
pass. --rounds and --seconds are passed when its --help mentions them. By default only benchmarks of
ours that some reference also measures are run (the McEliece key generation alone takes seconds);
--all runs the others too and lists them without a reference.

This script builds nothing: run `make bench`, or build first (`swift build -c release -Xswiftc
-enable-testing --product rosenpass-crypto`) and pass --bin.

Usage: compare.py [--bin PATH] [--filter TEXT] [--passes N] [--rounds N] [--seconds S]
                  [--reference NAME ...] [--all] [--cpu N] [--nice N] [--output FILE]
"""
import argparse
import datetime
import glob
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def find_binary(explicit):
    candidates = [explicit] if explicit else []
    if os.environ.get("ROSENPASS_BIN_DIR"):
        candidates.append(os.path.join(os.environ["ROSENPASS_BIN_DIR"], "rosenpass-crypto"))
    candidates.append(os.path.join(ROOT, ".build", "release", "rosenpass-crypto"))
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    sys.exit(
        "compare.py: rosenpass-crypto not found (looked at: " + ", ".join(c for c in candidates if c) + "). "
        "Build it first: make bench, or swift build -c release -Xswiftc -enable-testing --product rosenpass-crypto"
    )


def parse_lines(text, source):
    results = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            print(f"compare.py: {source}: ignoring a malformed line: {line}", file=sys.stderr)
            continue
        if isinstance(record.get("name"), str) and isinstance(record.get("ns_per_op"), (int, float)):
            results.append(record)
    return results


_reported = set()


def report_once(message):
    """Prints a diagnostic once, however often the same script says it."""
    if message not in _reported:
        _reported.add(message)
        print(message, file=sys.stderr)


def run(command, source):
    """Runs `command`; returns its stdout ("" after reporting a failure)."""
    try:
        completed = subprocess.run(command, capture_output=True, text=True)
    except OSError as error:
        print(f"compare.py: {source}: {error}", file=sys.stderr)
        return ""
    if completed.returncode != 0:
        report_once(f"compare.py: {source} exited with {completed.returncode}: {completed.stderr.strip()}")
        return ""
    if completed.stderr.strip():
        report_once(f"compare.py: {source}: {completed.stderr.strip()}")
    return completed.stdout


class Reference:
    """One reference_*.py script and what it supports."""

    def __init__(self, path, pin, rounds, seconds):
        self.path = path
        self.label = os.path.basename(path)
        completed = subprocess.run([sys.executable, path, "--help"], capture_output=True, text=True)
        options = {o for o in ("--filter", "--rounds", "--seconds", "--list") if o in completed.stdout}
        self.base = pin + [sys.executable, path]
        if "--rounds" in options:
            self.base += ["--rounds", str(rounds)]
        if "--seconds" in options:
            self.base += ["--seconds", str(seconds)]
        self.interleavable = {"--filter", "--list"} <= options
        self.names = set()
        if self.interleavable:
            listing = run(pin + [sys.executable, path, "--list"], self.label)
            self.names = {line.strip() for line in listing.splitlines() if line.strip()}
            if not self.names:
                self.interleavable = False

    def measure(self, name=None):
        command = self.base + (["--filter", name] if name is not None else [])
        records = parse_lines(run(command, self.label), self.label)
        return [r for r in records if name is None or r["name"] == name]


def machine_description():
    model, cores = platform.processor() or platform.machine(), os.cpu_count()
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in output.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                model = value.strip()
    except OSError:
        pass
    return f"{model}, {cores} cores, {platform.system()} {platform.release()}"


def load_average():
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def format_ns(value):
    return f"{value:,.1f}" if value < 1e6 else f"{value:,.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", help="path to rosenpass-crypto (default: $ROSENPASS_BIN_DIR or .build/release)")
    parser.add_argument("--filter", default="", help="only benchmarks whose name contains this text")
    parser.add_argument("--passes", type=int, default=3, help="interleaved passes of ours and the references")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per benchmark and run (the best is kept)")
    parser.add_argument("--seconds", type=float, default=0.3, help="minimum time per round")
    parser.add_argument("--reference", action="append", default=[],
                        help="only this reference script (e.g. hashlib for reference_hashlib.py); repeatable")
    parser.add_argument("--all", action="store_true", help="also run our benchmarks that have no reference")
    parser.add_argument("--cpu", type=int, help="pin every process to this CPU with taskset")
    parser.add_argument("--nice", type=int,
                        help="run every measured process with this niceness (e.g. -10 as root, so that other work "
                             "on a shared machine interferes less; ours and the references alike)")
    parser.add_argument("--output", help="also write the report to this file")
    args = parser.parse_args()
    if args.passes < 1 or args.rounds < 1 or args.seconds <= 0:
        sys.exit("compare.py: --passes and --rounds must be at least 1, --seconds positive")

    binary = find_binary(args.bin)
    paths = sorted(glob.glob(os.path.join(HERE, "reference_*.py")))
    if args.reference:
        wanted = {f"reference_{name}.py" for name in args.reference}
        missing = wanted - {os.path.basename(p) for p in paths}
        if missing:
            sys.exit(f"compare.py: no such reference script: {', '.join(sorted(missing))}")
        paths = [p for p in paths if os.path.basename(p) in wanted]
    if not paths:
        sys.exit("compare.py: no reference_*.py script found")
    pin = []
    if args.cpu is not None:
        if shutil.which("taskset") is None:
            sys.exit("compare.py: --cpu needs taskset (util-linux)")
        pin = ["taskset", "-c", str(args.cpu)]
    if args.nice is not None:
        pin = ["nice", "-n", str(args.nice)] + pin

    listing = run(pin + [binary, "bench", "--list"] + (["--filter", args.filter] if args.filter else []), "rosenpass-crypto")
    our_names = [line.strip() for line in listing.splitlines() if line.strip()]
    if not our_names:
        sys.exit("compare.py: rosenpass-crypto lists no benchmark" + (f" matching '{args.filter}'" if args.filter else ""))
    load_before = load_average()
    references = [Reference(path, pin, args.rounds, args.seconds) for path in paths]
    whole = [r for r in references if not r.interleavable]
    ours, best = {}, {}

    def keep(record, impl):
        name = record["name"]
        if name not in best or record["ns_per_op"] < best[name]["ns_per_op"]:
            best[name] = {"ns_per_op": record["ns_per_op"], "impl": record.get("impl", impl)}

    # A script that cannot list its names is run whole once first to learn them (the run counts as a sample).
    for reference in whole:
        print(f"compare.py: running {reference.label} whole (it has no --list/--filter)", file=sys.stderr)
        for record in reference.measure():
            keep(record, reference.label)
            reference.names.add(record["name"])
    listed = set().union(*(r.names for r in references))
    selected = [n for n in our_names if args.all or n in listed]
    if not selected:
        sys.exit("compare.py: no benchmark of ours has a reference (use --all to run them anyway)")

    ours_base = pin + [binary, "bench", "--json", "--rounds", str(args.rounds), "--seconds", str(args.seconds)]
    for number in range(1, args.passes + 1):
        print(f"compare.py: pass {number} of {args.passes}", file=sys.stderr)
        for name in selected:
            for record in parse_lines(run(ours_base + ["--name", name], "rosenpass-crypto"), "rosenpass-crypto"):
                ours[record["name"]] = min(ours.get(record["name"], float("inf")), record["ns_per_op"])
            for reference in references:
                if reference.interleavable and name in reference.names:
                    for record in reference.measure(name):
                        keep(record, reference.label)
        if number > 1:
            for reference in whole:
                for record in reference.measure():
                    keep(record, reference.label)
    load_after = load_average()

    lines = [
        f"- machine: {machine_description()}",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- load average (1, 5, 15 min) before: {load_before}; after: {load_after}",
        f"- command: `{' '.join(shlex.quote(a) for a in ['scripts/bench/compare.py'] + sys.argv[1:])}` "
        f"({args.passes} interleaved passes, each run the best of {args.rounds} rounds of at least {args.seconds} s)",
        f"- references: {', '.join(r.label for r in references)}; Python {platform.python_version()}",
        "",
        "| name | ours ns/op | reference ns/op | ratio (ours/reference) | reference impl |",
        "|---|---:|---:|---:|---|",
    ]
    unpaired = []
    for name in our_names:
        if name not in ours:
            continue
        reference = best.get(name)
        if reference is None:
            unpaired.append(name)
            continue
        ratio = ours[name] / reference["ns_per_op"]
        lines.append(
            f"| {name} | {format_ns(ours[name])} | {format_ns(reference['ns_per_op'])} | {ratio:.2f} | {reference['impl']} |"
        )
    if unpaired:
        lines += ["", "Without a reference: " + ", ".join(f"{n} ({format_ns(ours[n])} ns/op)" for n in unpaired) + "."]
    orphans = sorted(n for n in best if n not in ours and (not args.filter or args.filter in n))
    if orphans:
        lines += ["", "Reference names with no benchmark of ours (check the spelling): " + ", ".join(orphans) + "."]
    report = "\n".join(lines)
    print(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(report + "\n")
    if not ours:
        sys.exit("compare.py: rosenpass-crypto printed no benchmark")


if __name__ == "__main__":
    main()
