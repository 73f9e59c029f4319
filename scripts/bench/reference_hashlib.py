#!/usr/bin/env python3
"""Reference timings for the hash benchmarks of `rosenpass-crypto bench`, in CPython's hashlib.

Prints one JSON object per line, with the same names as `rosenpass-crypto bench --json`:
    {"name": "shake256 524160B", "ns_per_op": 812345.6, "impl": "CPython 3.11.7 hashlib, OpenSSL 3.0.19 ..."}

hashlib's SHA-3 and SHAKE come from OpenSSL (libcrypto's assembly Keccak on x86-64); its BLAKE2b is
CPython's own C module. Each operation is timed with time.perf_counter_ns in a loop long enough to
last --seconds, and the best of --rounds loops is printed, as `rosenpass-crypto bench` does. Python's
per-call overhead (about 0.1 to 0.3 microseconds) is part of every figure, which matters only for the
short inputs.

Usage: reference_hashlib.py [--filter TEXT] [--rounds N] [--seconds S] [--list]
"""
import argparse
import hashlib
import json
import platform
import ssl
import sys
import time

MCELIECE_PUBLIC_KEY = 524160


def generated(count):
    """The same deterministic bytes as the Swift benchmarks (content does not affect speed)."""
    state = 0x9E3779B9
    out = bytearray(count)
    for i in range(count):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = state >> 24
    return bytes(out)


def v02(key, data):
    inner = hashlib.blake2b(data, key=bytes(k ^ 0x36 for k in key), digest_size=32).digest()
    return hashlib.blake2b(inner, key=bytes(k ^ 0x5C for k in key), digest_size=32).digest()


def v03(key, data):
    shake = hashlib.shake_256(key)
    shake.update(data)
    return shake.digest(32)


def benchmarks():
    size = MCELIECE_PUBLIC_KEY
    key = generated(32)
    long_input = generated(size)
    sha3_256, sha3_512 = hashlib.sha3_256, hashlib.sha3_512
    shake_128, shake_256, blake2b = hashlib.shake_128, hashlib.shake_256, hashlib.blake2b
    short = {n: generated(n) for n in (32, 33, 34, 64)}
    return [
        (f"shake256 {size}B", lambda: shake_256(long_input).digest(32)),
        (f"blake2b {size}B", lambda: blake2b(long_input).digest()),
        (f"v02 keyed-hash {size}B", lambda: v02(key, long_input)),
        (f"v03 keyed-hash {size}B", lambda: v03(key, long_input)),
        (f"shake128 {size}B", lambda: shake_128(long_input).digest(32)),
        (f"sha3-256 {size}B", lambda: sha3_256(long_input).digest()),
        (f"sha3-512 {size}B", lambda: sha3_512(long_input).digest()),
        ("sha3-256 32B", lambda: sha3_256(short[32]).digest()),
        ("sha3-512 64B", lambda: sha3_512(short[64]).digest()),
        ("shake256 32B", lambda: shake_256(short[32]).digest(32)),
        ("shake128 34B squeeze 504B", lambda: shake_128(short[34]).digest(504)),
        ("shake256 33B squeeze 128B", lambda: shake_256(short[33]).digest(128)),
        ("blake2b 32B", lambda: blake2b(short[32], digest_size=32).digest()),
        ("v02 keyed-hash 32B", lambda: v02(key, short[32])),
        ("v03 keyed-hash 32B", lambda: v03(key, short[32])),
    ]


def measure(operation, seconds, rounds):
    """Best nanoseconds per call over `rounds` loops of about `seconds` each."""
    operation()  # warm-up
    iterations = 1
    while True:
        start = time.perf_counter_ns()
        for _ in range(iterations):
            operation()
        elapsed = (time.perf_counter_ns() - start) / 1e9
        if elapsed >= seconds / 4 or iterations >= 1 << 30:
            iterations = max(1, int(iterations * seconds / max(elapsed, 1e-9)))
            break
        iterations *= 4
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            operation()
        best = min(best, (time.perf_counter_ns() - start) / iterations)
    return best


def main():
    parser = argparse.ArgumentParser(description="hashlib reference timings for compare.py")
    parser.add_argument("--filter", default="", help="only names containing this text")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    args = parser.parse_args()
    openssl = " ".join(ssl.OPENSSL_VERSION.split()[:2])
    python = f"CPython {platform.python_version()} hashlib"
    for name, operation in benchmarks():
        if name.startswith(("blake2b", "v02")):
            impl = f"{python} (CPython's BLAKE2b C module)"
        else:
            impl = f"{python} ({openssl})"
        if args.filter not in name:
            continue
        if args.list:
            print(name)
            continue
        ns = measure(operation, args.seconds, args.rounds)
        print(json.dumps({"name": name, "ns_per_op": round(ns, 1), "impl": impl}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
