#!/usr/bin/env python3
"""Reference timings for the AEAD benchmarks of `rosenpass-crypto bench`.

ChaCha20-Poly1305 is pyca/cryptography's (OpenSSL's assembly); XChaCha20-Poly1305 is PyCryptodome's
(portable C), timed only when PyCryptodome is installed. Same names, inputs and method as
reference_hashlib.py; one JSON object per line.

Usage: reference_aead.py [--filter TEXT] [--rounds N] [--seconds S] [--list]
"""
import argparse
import json
import sys

from reference_hashlib import generated, measure


def benchmarks():
    found = []
    key = generated(32)
    associated_data = generated(64)[32:]
    try:
        import cryptography
        from cryptography.hazmat.backends.openssl import backend
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    except ImportError:
        print("reference_aead: pyca/cryptography is not installed; skipping ChaCha20-Poly1305", file=sys.stderr)
    else:
        openssl = " ".join(backend.openssl_version_text().split()[:2])
        impl = f"pyca/cryptography {cryptography.__version__} ({openssl})"
        cipher = ChaCha20Poly1305(key)
        nonce12 = bytes(reversed(generated(12)))
        for label, count in (("1KiB", 1024), ("32B", 32)):
            plaintext = generated(count)
            sealed = cipher.encrypt(nonce12, plaintext, associated_data)
            found.append((f"chacha20poly1305 seal {label}",
                          lambda p=plaintext: cipher.encrypt(nonce12, p, associated_data), impl))
            if label == "1KiB":
                found.append((f"chacha20poly1305 open {label}",
                              lambda s=sealed: cipher.decrypt(nonce12, s, associated_data), impl))
    try:
        import Crypto
        from Crypto.Cipher import ChaCha20_Poly1305
    except ImportError:
        print("reference_aead: PyCryptodome is not installed; skipping XChaCha20-Poly1305", file=sys.stderr)
    else:
        impl = f"PyCryptodome {Crypto.__version__} (C; a cipher object is made per call)"
        nonce24 = bytes(reversed(generated(24)))
        plaintext76 = generated(76)

        def seal():
            cipher = ChaCha20_Poly1305.new(key=key, nonce=nonce24)
            cipher.update(associated_data)
            ciphertext, tag = cipher.encrypt_and_digest(plaintext76)
            return nonce24 + ciphertext + tag

        sealed = seal()

        def open_():
            cipher = ChaCha20_Poly1305.new(key=key, nonce=sealed[:24])
            cipher.update(associated_data)
            return cipher.decrypt_and_verify(sealed[24:-16], sealed[-16:])

        found.append(("xchacha20poly1305 seal 76B", seal, impl))
        found.append(("xchacha20poly1305 open 76B", open_, impl))
    return found


def main():
    parser = argparse.ArgumentParser(description="AEAD reference timings for compare.py")
    parser.add_argument("--filter", default="", help="only names containing this text")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    args = parser.parse_args()
    for name, operation, impl in benchmarks():
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
