#!/usr/bin/env python3
"""Reference timings for `rosenpass-crypto bench`: Kyber-512 / ML-KEM-512 in C or Rust, called from Python.

Prints one JSON object per line, named like our own benchmarks so that scripts/bench/compare.py can
pair them:

    {"name": "kyber512 keygen", "ns_per_op": 39801.1, "impl": "..."}

Each operation is repeated until a round lasts at least --seconds (after a warm-up); the fastest of
--rounds rounds is reported, as `rosenpass-crypto bench` does. Nothing is subtracted: the Python call
and the allocation of the result bytes are part of every figure, which favours our side slightly.

Implementations (--impl; the default, auto, runs every one that is installed and needs at least one):

  pqcrypto  PyPI `pqcrypto` 1.0.0, `pqcrypto.kem.ml_kem_512`. Note: version 1.0.0 is not
            PQClean. Its extension module is built from the Rust crate backbone-ml-kem 0.2.0 (portable
            "soft" backend, SSE2 auto-vectorised), as its wheel's SBOM and symbols show.
  pypqc     PyPI `pypqc` 0.0.6.2, `pqc.kem.kyber512`: PQClean's portable "clean" C. Despite the module
            name its Fujisaki-Okamoto wrapper is already ML-KEM's (it does not decapsulate round-3
            ciphertexts); the arithmetic, and so the cost, is that of Kyber-512.
  all       both, one after the other; their lines share names, and compare.py keeps the faster
            reference for each name, so our ratio is against the faster of the two.

Both are ML-KEM-512, which does exactly the same lattice arithmetic and hashing as Kyber-512 round 3
(round 3 hashes a little more: m = H(coins) and K = SHAKE256(K' || H(c))).

Setup (outside the repository):

    python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install pqcrypto==1.0.0 pypqc==0.0.6.2
    /tmp/bench-venv/bin/python scripts/bench/reference_kyber.py [--impl pqcrypto|pypqc|all]
"""

import argparse
import contextlib
import json
import sys
import time
import warnings


def measure(operation, seconds: float, rounds: int) -> float:
    """Best nanoseconds per call over `rounds` rounds of at least `seconds` each."""
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
    for _ in range(max(1, rounds)):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            operation()
        best = min(best, (time.perf_counter_ns() - start) / iterations)
    return best


def pqcrypto_operations():
    from pqcrypto.kem import ml_kem_512 as kem

    public_key, secret_key = kem.keygen()
    ciphertext, shared_key = kem.encaps(public_key)
    if kem.decaps(secret_key, ciphertext) != shared_key:
        raise SystemExit("pqcrypto ml_kem_512 round trip failed")
    impl = "ML-KEM-512, Rust backbone-ml-kem 0.2.0 (portable) via PyPI pqcrypto 1.0.0"
    return impl, [
        ("kyber512 keygen", kem.keygen),
        ("kyber512 encaps", lambda: kem.encaps(public_key)),
        ("kyber512 decaps", lambda: kem.decaps(secret_key, ciphertext)),
    ]


def pypqc_operations():
    # The module warns about Kyber patents on import (see pypqc's documentation); keep the notice out
    # of the JSON lines and of compare.py's log.
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from pqc.kem import kyber512 as kem

    public_key, secret_key = kem.keypair()
    shared_key, ciphertext = kem.encap(public_key)
    if kem.decap(ciphertext, secret_key) != shared_key:
        raise SystemExit("pypqc kyber512 round trip failed")
    impl = "PQClean kyber512 clean C (ML-KEM FO) via PyPI pypqc 0.0.6.2"
    return impl, [
        ("kyber512 keygen", kem.keypair),
        ("kyber512 encaps", lambda: kem.encap(public_key)),
        ("kyber512 decaps", lambda: kem.decap(ciphertext, secret_key)),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--impl", choices=["auto", "pqcrypto", "pypqc", "all"], default="auto")
    parser.add_argument("--seconds", type=float, default=0.3, help="minimum time per measured round")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds; the fastest is reported")
    parser.add_argument("--filter", default="", help="only operations whose name contains this text")
    args = parser.parse_args()

    sources = {"pqcrypto": [pqcrypto_operations], "pypqc": [pypqc_operations]}.get(
        args.impl, [pqcrypto_operations, pypqc_operations])
    measured = 0
    for source in sources:
        try:
            impl, operations = source()
        except ImportError as error:
            if args.impl == "auto":
                print(f"reference_kyber.py: skipping {source.__name__[:-11]}: {error.name} is not installed",
                      file=sys.stderr)
                continue
            raise SystemExit(f"reference_kyber.py: {error.name} is not installed (see the setup in this file)")
        for name, operation in operations:
            if args.filter not in name:
                continue
            ns = measure(operation, args.seconds, args.rounds)
            print(json.dumps({"name": name, "ns_per_op": round(ns, 1), "impl": impl}), flush=True)
            measured += 1
    if measured == 0 and args.impl == "auto" and not args.filter:
        raise SystemExit("reference_kyber.py: neither pqcrypto nor pypqc is installed (see the setup in this file)")

if __name__ == "__main__":
    main()
