#!/usr/bin/env python3
"""Prints the fully unrolled round code of Keccak-f[1600] and of the BLAKE2b compression function.

    scripts/generate-unrolled-rounds.py keccak    > the body of keccakF1600 in KeccakF1600.swift
    scripts/generate-unrolled-rounds.py blake2b   > the twelve rounds in BLAKE2bCompress.swift

The rounds are written out lane by lane so that the optimizer keeps every lane in a local (no array,
no bounds check, no loop over an index table). Paste the output into the Swift file when the round
structure needs to change; the Swift files say which part came from here.

Keccak uses the "lane complementing" transform (Keccak team, "Keccak implementation overview",
section 2.2): six lanes of the state are kept complemented inside the permutation so that chi needs
one NOT per row instead of five. The chi expressions for each row are not copied from anywhere: this
script searches, for every output lane, the forms `X ^ (Y & Z)` / `X ^ (Y | Z)` (each operand
possibly complemented) that are equal to `b0 ^ (~b1 & b2)` on the stored (possibly complemented)
values, and picks per row the combination that needs the fewest NOTs. It then checks the whole
transformed round against the plain round on random states before printing anything.
"""
import itertools
import random
import sys

# Rotation offsets r[x + 5y] (FIPS 202, section 3.2.2).
ROTATIONS = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14]
# Lanes kept complemented: (x, y) = (1,0), (2,0), (3,1), (2,2), (2,3), (0,4).
COMPLEMENTED = {1, 2, 8, 12, 17, 20}
# Rounds per loop iteration: four gives the optimizer room to rename lanes without moves while the
# loop body stays small (about 4 KiB of code).
UNROLL = 4
MASK64 = (1 << 64) - 1


def pi_source(destination):
    """The lane (and its column x) that rho-pi moves to `destination`: B[y, 2x+3y] = rot(A[x, y])."""
    for y in range(5):
        for x in range(5):
            if y + 5 * ((2 * x + 3 * y) % 5) == destination:
                return x + 5 * y, x
    raise AssertionError(destination)


def complemented_after_rho_pi():
    """Which B lanes are complemented when the state enters theta with COMPLEMENTED lanes flipped."""
    parity = [sum((x + 5 * y) in COMPLEMENTED for y in range(5)) % 2 for x in range(5)]
    after_theta = {
        x + 5 * y
        for y in range(5)
        for x in range(5)
        if ((x + 5 * y) in COMPLEMENTED) ^ bool(parity[(x - 1) % 5] ^ parity[(x + 1) % 5])
    }
    return {y + 5 * ((2 * x + 3 * y) % 5) for y in range(5) for x in range(5) if (x + 5 * y) in after_theta}


def chi_row(y, flipped):
    """The chi expressions of row y, as (names of B lanes to negate first, [(lane, expression)])."""
    row = [5 * y + x for x in range(5)]
    options = []
    for x in range(5):
        i0, i1, i2 = row[x], row[(x + 1) % 5], row[(x + 2) % 5]
        c0, c1, c2 = i0 in flipped, i1 in flipped, i2 in flipped
        wanted_complement = row[x] in COMPLEMENTED
        found = []
        for n0, n1, n2, op in itertools.product((0, 1), (0, 1), (0, 1), ("&", "|")):
            def stored_form(b0, b1, b2):
                s0, s1, s2 = b0 ^ c0 ^ n0, b1 ^ c1 ^ n1, b2 ^ c2 ^ n2
                return s0 ^ ((s1 & s2) if op == "&" else (s1 | s2))
            if all(
                stored_form(b0, b1, b2) == (b0 ^ ((1 - b1) & b2)) ^ wanted_complement
                for b0, b1, b2 in itertools.product((0, 1), repeat=3)
            ):
                negated = frozenset(i for i, n in ((i0, n0), (i1, n1), (i2, n2)) if n)
                found.append((negated, (i0, i1, i2, n0, n1, n2, op)))
        assert found, f"no chi form for lane {row[x]}"
        options.append(found)
    best = min(itertools.product(*options), key=lambda combo: len(frozenset().union(*(c[0] for c in combo))))
    negated = sorted(frozenset().union(*(c[0] for c in best)))

    def name(i, n):
        return f"n{i}" if n else f"b{i}"

    expressions = [
        (row[x], f"{name(i0, n0)} ^ ({name(i1, n1)} {op} {name(i2, n2)})")
        for x, (_, (i0, i1, i2, n0, n1, n2, op)) in enumerate(best)
    ]
    return negated, expressions


def keccak_round_lines():
    """One round on locals a0...a24 (complemented representation), ending with iota.

    Theta's column parities come first; then each output row is finished before the next one starts
    (its five B lanes, then chi into e0...e24), which keeps fewer values alive at once than computing
    all 25 B lanes first: on x86-64 this measured a few percent faster.
    """
    flipped = complemented_after_rho_pi()
    lines = [f"let c{x} = a{x} ^ a{x + 5} ^ a{x + 10} ^ a{x + 15} ^ a{x + 20}" for x in range(5)]
    lines += [f"let d{x} = c{(x + 4) % 5} ^ rotl(c{(x + 1) % 5}, 1)" for x in range(5)]
    for y in range(5):
        for destination in range(5 * y, 5 * y + 5):
            source, x = pi_source(destination)
            term = f"a{source} ^ d{x}"
            rotation = ROTATIONS[source]
            lines.append(f"let b{destination} = " + (term if rotation == 0 else f"rotl({term}, {rotation})"))
        negated, expressions = chi_row(y, flipped)
        lines += [f"let n{i} = ~b{i}" for i in negated]
        lines += [f"let e{lane} = {expression}" for lane, expression in expressions]
    lines += [f"a{lane} = e{lane}" for lane in range(25)]
    lines.append("a0 ^= roundConstant")
    return lines


def evaluate(lines, lanes, round_constant):
    """Runs the generated round (Swift syntax is close enough to Python's) on a list of 25 lanes."""
    env = {f"a{i}": lanes[i] for i in range(25)}
    env["roundConstant"] = round_constant
    env["rotl"] = lambda v, n: ((v << n) | (v >> (64 - n))) & MASK64
    for line in lines:
        line = line.replace("let ", "")
        target, expression = line.split(" = ") if " = " in line else line.split(" ^= ")
        if " ^= " in line:
            expression = f"{target} ^ ({expression})"
        value = eval(expression.replace("~", "MASK64 ^ "), {"MASK64": MASK64}, env)  # noqa: S307
        env[target.strip()] = value & MASK64
    return [env[f"a{i}"] for i in range(25)]


def reference_round(lanes, round_constant):
    rot = lambda v, n: ((v << n) | (v >> (64 - n))) & MASK64 if n else v  # noqa: E731
    c = [lanes[x] ^ lanes[x + 5] ^ lanes[x + 10] ^ lanes[x + 15] ^ lanes[x + 20] for x in range(5)]
    d = [c[(x + 4) % 5] ^ rot(c[(x + 1) % 5], 1) for x in range(5)]
    b = [0] * 25
    for y in range(5):
        for x in range(5):
            b[y + 5 * ((2 * x + 3 * y) % 5)] = rot(lanes[x + 5 * y] ^ d[x], ROTATIONS[x + 5 * y])
    out = [b[i] ^ ((MASK64 ^ b[5 * (i // 5) + (i % 5 + 1) % 5]) & b[5 * (i // 5) + (i % 5 + 2) % 5]) for i in range(25)]
    out[0] ^= round_constant
    return out


def check_keccak(lines):
    rng = random.Random(1600)
    for _ in range(50):
        state = [rng.getrandbits(64) for _ in range(25)]
        constant = rng.getrandbits(64)
        stored = [v ^ MASK64 if i in COMPLEMENTED else v for i, v in enumerate(state)]
        got = evaluate(lines, stored, constant)
        got = [v ^ MASK64 if i in COMPLEMENTED else v for i, v in enumerate(got)]
        assert got == reference_round(state, constant), "the complemented round differs from FIPS 202"


def keccak():
    lines = keccak_round_lines()
    check_keccak(lines)
    out = []
    for i in range(25):
        out.append(f"var a{i} = " + (f"~lanes[{i}]" if i in COMPLEMENTED else f"lanes[{i}]"))
    out.append("keccakRoundConstants.withUnsafeBufferPointer { constants in")
    out.append("    var round = 0")
    out.append("    while round < 24 {")
    for k in range(UNROLL):
        out.append("        do {")
        out.append(f"            let roundConstant = constants[round &+ {k}]" if k else
                   "            let roundConstant = constants[round]")
        out += ["            " + line for line in lines]
        out.append("        }")
    out.append(f"        round &+= {UNROLL}")
    out.append("    }")
    out.append("}")
    for i in range(25):
        out.append(f"lanes[{i}] = " + (f"~a{i}" if i in COMPLEMENTED else f"a{i}"))
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


def blake2b():
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
    if which not in ("keccak", "blake2b"):
        sys.exit("usage: generate-unrolled-rounds.py keccak|blake2b")
    print("\n".join(keccak() if which == "keccak" else blake2b()))
