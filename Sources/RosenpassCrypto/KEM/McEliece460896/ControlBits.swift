// Control bits of the Beneš network for a permutation, as round-4 key generation computes them.

/// The control bits of round 4 (Classic McEliece specification, §10.1; the formulas of Bernstein,
/// "Verified fast formulas for control bits for permutation networks", 2020, §3–§5, after Nassimi
/// and Sahni).
///
/// For a permutation π of n = 2^w points, with X the involution x ↦ x ⊕ 1:
/// - π̄ = π ∘ X ∘ π⁻¹ ∘ X, and c(x) is the minimum of the cycle of π̄ through x;
/// - the first layer swaps pair j when f_j = c(2j) mod 2; F is that layer as a permutation;
/// - the last layer swaps pair k when l_k = F(π(2k)) mod 2; L is that layer;
/// - M = F ∘ π ∘ L maps evens to evens and odds to odds, and the two halves
///   j ↦ ⌊M(2j)/2⌋ and j ↦ ⌊M(2j + 1)/2⌋ are solved recursively as the two inner networks,
///   whose bits interleave in the middle layers.
///
/// Every permutation step (inverse, composition) is a pass through ``ObliviousSort``, and the cycle
/// minima come from w − 1 rounds of pointer doubling, so the work and the memory accesses depend only
/// on n. Different algorithms can give different valid bits for the same π; byte-exact keys need
/// exactly these formulas.
enum ControlBits {
    /// Returns the 12800 bytes of control bits for a permutation π of 0…8191.
    static func compute(permutation: [UInt32]) -> [UInt8] {
        let n = permutation.count
        precondition(n == McEliece460896.fieldSize)
        var out = [UInt8](repeating: 0, count: McEliece460896.controlBitsBytes)
        recurse(permutation, w: 13, position: 0, step: 1, into: &out)
        return out
    }

    private static func setBit(_ out: inout [UInt8], _ position: Int, _ bit: UInt32) {
        out[position >> 3] |= UInt8(truncatingIfNeeded: bit & 1) << UInt8(position & 7)
    }

    private static func recurse(_ pi: [UInt32], w: Int, position: Int, step: Int, into out: inout [UInt8]) {
        let n = pi.count
        if w == 1 {
            // A single switch: set exactly when π swaps 0 and 1.
            setBit(&out, position, pi[0])
            return
        }
        let half = n / 2

        // π̄ = π ∘ X ∘ π⁻¹ ∘ X: π̄(π(x) ⊕ 1) = π(x ⊕ 1).
        var piBar = ObliviousSort.composeInverse(
            values: (0..<n).map { pi[$0 ^ 1] }, by: pi.map { $0 ^ 1 })

        // c(x) = min over x, π̄(x), π̄²(x), … (cycles have length at most n/2 = 2^(w−1)).
        var c = (0..<n).map { UInt32($0) }
        ObliviousSort.formMinimum(&c, with: piBar)
        var p = piBar
        for round in 1..<(w - 1) {
            // With p = π̄^(2^round): c ← min(c, c ∘ p) widens the window to 2^(round+1) steps; p ← p².
            if round == 1 {
                var piBarInverse = ObliviousSort.invert(piBar)
                p = ObliviousSort.composeInverse(values: piBar, by: piBarInverse)  // π̄²
                wipe(&piBarInverse)
            }
            var pInverse = ObliviousSort.invert(p)
            var cOfP = ObliviousSort.composeInverse(values: c, by: pInverse)  // c ∘ p
            ObliviousSort.formMinimum(&c, with: cOfP)
            if round < w - 2 {
                var square = ObliviousSort.composeInverse(values: p, by: pInverse)  // p ∘ p
                swap(&p, &square)
                wipe(&square)
            }
            wipe(&pInverse)
            wipe(&cOfP)
        }

        // First layer.
        var f = [UInt32](repeating: 0, count: n)  // F as a permutation
        for j in 0..<half {
            let fj = c[2 * j] & 1
            setBit(&out, position + j * step, fj)
            f[2 * j] = UInt32(2 * j) ^ fj
            f[2 * j + 1] = UInt32(2 * j + 1) ^ fj
        }
        // F ∘ π.
        var piInverse = ObliviousSort.invert(pi)
        var fPi = ObliviousSort.composeInverse(values: f, by: piInverse)

        // Last layer.
        let lastLayer = position + (2 * w - 2) * half * step
        var l = [UInt32](repeating: 0, count: n)  // L as a permutation (an involution)
        for k in 0..<half {
            let lk = fPi[2 * k] & 1
            setBit(&out, lastLayer + k * step, lk)
            l[2 * k] = UInt32(2 * k) ^ lk
            l[2 * k + 1] = UInt32(2 * k + 1) ^ lk
        }
        // M = F ∘ π ∘ L (L⁻¹ = L).
        var m = ObliviousSort.composeInverse(values: fPi, by: l)
        wipe(&piBar); wipe(&c); wipe(&p); wipe(&f); wipe(&piInverse); wipe(&fPi); wipe(&l)

        let inner = position + half * step
        var even = (0..<half).map { m[2 * $0] >> 1 }
        var odd = (0..<half).map { m[2 * $0 + 1] >> 1 }
        wipe(&m)
        recurse(even, w: w - 1, position: inner, step: 2 * step, into: &out)
        recurse(odd, w: w - 1, position: inner + step, step: 2 * step, into: &out)
        wipe(&even)
        wipe(&odd)
    }
}
