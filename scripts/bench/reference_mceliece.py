#!/usr/bin/env python3
"""Reference timings for the Classic McEliece 460896 benchmarks of `rosenpass-crypto bench`.

Prints one JSON object per line, named like our benchmarks so that scripts/bench/compare.py pairs them:

    {"name": "mceliece460896 decaps", "ns_per_op": 523000.0, "impl": "PQClean vec via pqcrypto 0.1.3"}

* `mceliece460896 keygen|encaps|decaps` (round 3, format A): PQClean's bitsliced "vec" code of 2019
  (McBits-style additive FFT, the code liboqs <= 0.8 ships), from PyPI pqcrypto 0.1.3, compiled by its
  setup.py with gcc -O3 for the baseline x86-64 (SSE2), as our Swift is.
* `mceliece460896-r4 keygen|encaps|decaps` (round 4): PyPI pqcrypto 1.0.0, whose McEliece is
  backbone-mceliece 0.2.0, a Rust port of the round-4 code.

Method as `rosenpass-crypto bench`: a warm-up, then rounds of at least --seconds; the fastest of
--rounds rounds is reported. The Python call (cffi or PyO3) is part of every figure, which favours our
side by a microsecond or so. Key generation starts from the same seeds as ours
(Sources/rosenpass-crypto/Benchmarks-McEliece.swift), handed to the code through the randomness shim
of scripts/fixtures/generate-mceliece460896-kat.py, so both sides do the same number of attempts (3);
encapsulation uses system randomness on both sides.

The two packages are both called `pqcrypto`, so each runs in its own interpreter: this script starts
itself once per variant with the interpreters below (environment variables, defaults as in the setup of
generate-mceliece460896-kat.py):

    MCELIECE_R3_PYTHON      /tmp/mce-r3/bin/python     (cffi; pqcrypto 0.1.3 built from its sdist)
    MCELIECE_R3_PYTHONPATH  /tmp/pqcrypto-0.1.3/build/lib.*
    MCELIECE_R4_PYTHON      /tmp/mce-r4/bin/python     (pqcrypto 1.0.0, cryptography)

Usage: reference_mceliece.py [--filter TEXT] [--rounds N] [--seconds S] [--list]
"""

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

ROUND3_SEED = b"swift-rosenpass mceliece bench!4"
ROUND4_ENTROPY = hashlib.shake_256(b"swift-rosenpass mceliece460896-r4 bench 6").digest(48)
ROUND4_SEED = bytes.fromhex("555a9e5e3a24651aeaf7674e1179307ed9e3ee05e12d1250784b57faaaefa279")

VARIANTS = {
    "round3": ("mceliece460896", "PQClean vec (2019, SSE2 build) via pqcrypto 0.1.3"),
    "round4": ("mceliece460896-r4", "backbone-mceliece 0.2.0 (Rust) via pqcrypto 1.0.0"),
}


def interpreter(variant):
    """The command and environment that run this script for `variant`, or None when not set up."""
    if variant == "round3":
        python = os.environ.get("MCELIECE_R3_PYTHON", "/tmp/mce-r3/bin/python")
        paths = glob.glob(os.environ.get("MCELIECE_R3_PYTHONPATH", "/tmp/pqcrypto-0.1.3/build/lib.*"))
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]))
    else:
        python = os.environ.get("MCELIECE_R4_PYTHON", "/tmp/mce-r4/bin/python")
        environment = dict(os.environ)
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return None
    return python, environment


def operations(variant):
    """Returns (name, callable) pairs, run inside the variant's interpreter."""
    spec = importlib.util.spec_from_file_location(
        "mceliece_kat", os.path.join(ROOT, "scripts", "fixtures", "generate-mceliece460896-kat.py"))
    kat = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kat)
    randomness = kat.Randomness(kat.ensure_preloaded())
    prefix = VARIANTS[variant][0]
    if variant == "round3":
        from pqcrypto.kem import mceliece460896 as kem

        def keygen():
            return randomness.run(ROUND3_SEED, kem.generate_keypair)[0]

        encaps, decaps = kem.encrypt, kem.decrypt
    else:
        from pqcrypto.kem import mceliece_460896 as kem

        assert kat.CounterDRBG(ROUND4_ENTROPY).generate(32) == ROUND4_SEED

        def keygen():
            return randomness.run(ROUND4_ENTROPY, kem.keygen)[0]

        encaps, decaps = kem.encaps, kem.decaps
    public_key, secret_key = keygen()
    ciphertext, shared_key = encaps(public_key)
    if decaps(secret_key, ciphertext) != shared_key:
        raise SystemExit(f"reference_mceliece.py: {prefix} round trip failed")
    return [
        (f"{prefix} keygen", keygen),
        (f"{prefix} encaps", lambda: encaps(public_key)),
        (f"{prefix} decaps", lambda: decaps(secret_key, ciphertext)),
    ]


def child(variant, arguments):
    from reference_hashlib import measure

    for name, operation in operations(variant):
        if arguments.filter in name:
            ns = measure(operation, arguments.seconds, arguments.rounds)
            print(json.dumps({"name": name, "ns_per_op": round(ns, 1), "impl": VARIANTS[variant][1]}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--filter", default="", help="only names containing this text")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds; the fastest is reported")
    parser.add_argument("--seconds", type=float, default=0.3, help="minimum time per measured round")
    parser.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    parser.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child, arguments)
        return

    ran = 0
    for variant, (prefix, _) in VARIANTS.items():
        names = [f"{prefix} {operation}" for operation in ("keygen", "encaps", "decaps")]
        # "mceliece460896 " must not select the -r4 names and vice versa.
        selected = [name for name in names if arguments.filter in name]
        if not selected:
            continue
        setup = interpreter(variant)
        if setup is None:
            print(f"reference_mceliece.py: skipping {prefix}: its interpreter is not set up (see --help)", file=sys.stderr)
            continue
        if arguments.list:
            print("\n".join(selected))
            continue
        python, environment = setup
        command = [python, os.path.abspath(__file__), "--child", variant, "--rounds", str(arguments.rounds),
                   "--seconds", str(arguments.seconds), "--filter", arguments.filter]
        completed = subprocess.run(command, env=environment, stdout=subprocess.PIPE, text=True)
        if completed.returncode != 0:
            raise SystemExit(f"reference_mceliece.py: the {prefix} run failed ({completed.returncode})")
        sys.stdout.write(completed.stdout)
        ran += 1
    if not ran and not arguments.list:
        raise SystemExit("reference_mceliece.py: nothing measured (no interpreter set up, or no name matched)")


if __name__ == "__main__":
    main()
