#!/usr/bin/env python3
"""Prints the fully unrolled round bodies used by Keccak.swift and BLAKE2b.swift.

The permutation and compression functions are written out lane by lane so that the
optimizer keeps every lane in a local (no array, no bounds check, no loop over a table).
Run it and paste the output when the round structure needs to change; the Swift files
say which part came from here.
"""
import sys

def keccak_round():
    rot = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39,
           41, 45, 15, 21, 8, 18, 2, 61, 56, 14]
    out = []
    for x in range(5):
        out.append(f"let c{x} = a{x} ^ a{x+5} ^ a{x+10} ^ a{x+15} ^ a{x+20}")
    for x in range(5):
        out.append(f"let d{x} = c{(x+4)%5} ^ rotl(c{(x+1)%5}, 1)")
    b = {}
    for y in range(5):
        for x in range(5):
            src = x + 5 * y
            dst = y + 5 * ((2 * x + 3 * y) % 5)
            r = rot[src]
            e = f"a{src} ^ d{x}"
            b[dst] = f"let b{dst} = " + (f"{e}" if r == 0 else f"rotl({e}, {r})")
    out += [b[i] for i in range(25)]
    for y in range(5):
        for x in range(5):
            i = x + 5 * y
            out.append(f"a{i} = b{i} ^ (~b{(x+1)%5 + 5*y} & b{(x+2)%5 + 5*y})")
    out.append("a0 ^= roundConstant")
    return out

SIGMA = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
]

def blake2b_rounds():
    out = []
    def g(a, b, c, d, x, y):
        return [
            f"v{a} = v{a} &+ v{b} &+ m{x}; v{d} = rotr(v{d} ^ v{a}, 32)",
            f"v{c} = v{c} &+ v{d}; v{b} = rotr(v{b} ^ v{c}, 24)",
            f"v{a} = v{a} &+ v{b} &+ m{y}; v{d} = rotr(v{d} ^ v{a}, 16)",
            f"v{c} = v{c} &+ v{d}; v{b} = rotr(v{b} ^ v{c}, 63)",
        ]
    for r in range(12):
        s = SIGMA[r % 10]
        out.append(f"// round {r}")
        out += g(0, 4, 8, 12, s[0], s[1])
        out += g(1, 5, 9, 13, s[2], s[3])
        out += g(2, 6, 10, 14, s[4], s[5])
        out += g(3, 7, 11, 15, s[6], s[7])
        out += g(0, 5, 10, 15, s[8], s[9])
        out += g(1, 6, 11, 12, s[10], s[11])
        out += g(2, 7, 8, 13, s[12], s[13])
        out += g(3, 4, 9, 14, s[14], s[15])
    return out

if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "keccak"
    lines = keccak_round() if which == "keccak" else blake2b_rounds()
    print("\n".join(lines))
