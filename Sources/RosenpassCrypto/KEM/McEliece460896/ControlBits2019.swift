// Control bits of the Beneš network as the 2019 code (format A, liboqs ≤ 0.8) computes them.

/// The control bits of the 2019 Classic McEliece software (SUPERCOP 20191221, which liboqs 0.4–0.8
/// and PQClean until 2023 ship as "round 3"; `docs/mceliece-round3.md` §5).
///
/// They describe the same permutation as ``ControlBits`` but pick other, equally valid, switch
/// settings, so byte-exact format-A keys need this procedure. It is the Lev–Pippenger–Valiant
/// decomposition, computed by label propagation on a graph of 2n nodes:
/// - node i < n is output position i, node n + i is input position i; the involution I joins output
///   x with input π⁻¹(x), and X joins the two nodes of each switch (x, x ⊕ 1) on either side;
/// - every node carries a label (low w bits: initially its switch number, 2·⌊i/2⌋ on the output side
///   and 2·⌊i/2⌋ + 1 on the input side) and a flag (bit w: initially i mod 2);
/// - in each of w rounds a node takes the label of its I-partner if smaller (flipping the flag,
///   except in the first round), I is replaced by I ∘ X ∘ I (pointer doubling along the cycles), and
///   a node takes the label of its X-partner if smaller, flipping the flag;
/// - the flags of the even output nodes are the first layer, those of the even input nodes the last
///   layer; the input side's switches are applied to π, and the even and odd halves recurse.
///
/// As in ``ControlBits``, every permutation step is a pass through ``ObliviousSort`` and every choice
/// a mask.
enum ControlBits2019 {
    /// Returns the 12800 bytes of control bits for a permutation π of 0…8191.
    static func compute(permutation: [UInt32]) -> [UInt8] {
        precondition(permutation.count == McEliece460896.fieldSize)
        var out = [UInt8](repeating: 0, count: McEliece460896.controlBitsBytes)
        recurse(permutation, w: 13, offset: 0, step: 1, into: &out)
        return out
    }

    private static func setBit(_ out: inout [UInt8], _ position: Int, _ bit: UInt32) {
        out[position >> 3] |= UInt8(truncatingIfNeeded: bit & 1) << UInt8(position & 7)
    }

    /// Each node takes its candidate (same index in `candidates`) when the candidate's label (low w
    /// bits) is smaller, and then has its flag (bit w) flipped when `flip` is set. The masks are
    /// computed first and hidden from the optimiser (``opaqueMasks(_:count:)``), which otherwise
    /// branches on the comparison to set the flag.
    private static func adopt(_ nodes: inout [UInt32], _ candidates: [UInt32], w: Int, flip: Bool) {
        let labels = (UInt32(1) << UInt32(w)) - 1
        let flag: UInt32 = flip ? UInt32(1) << UInt32(w) : 0
        var masks = [UInt32](repeating: 0, count: nodes.count)
        masks.withUnsafeMutableBufferPointer { m in
            for i in 0..<nodes.count { m[i] = ObliviousSort.lessMask(candidates[i] & labels, nodes[i] & labels) }
            opaqueMasks(m.baseAddress!, count: m.count)
            for i in 0..<nodes.count {
                let x = nodes[i]
                nodes[i] = (x ^ ((x ^ candidates[i]) & m[i])) ^ (flag & m[i])
            }
        }
        wipe(&masks)
    }

    private static func recurse(_ pi: [UInt32], w: Int, offset: Int, step: Int, into out: inout [UInt8]) {
        let n = pi.count
        if w == 1 {
            setBit(&out, offset, pi[0])
            return
        }
        let nodes = 2 * n
        var piInverse = ObliviousSort.invert(pi)
        // I: output x ↔ input π⁻¹(x).
        var partner = [UInt32](repeating: 0, count: nodes)
        for i in 0..<n {
            partner[i] = UInt32(n) + piInverse[i]
            partner[n + i] = pi[i]
        }
        // Labels and flags.
        var node = (0..<nodes).map { i -> UInt32 in
            UInt32((i >> w) + (i & (n - 2)) + ((i & 1) << w))
        }
        for round in 0..<w {
            // Each node looks at its I-partner: viaPartner[I(i)] = node[i] (I is an involution).
            var viaPartner = ObliviousSort.composeInverse(values: node, by: partner)
            adopt(&node, viaPartner, w: w, flip: round > 0)
            wipe(&viaPartner)
            // I ← I ∘ X ∘ I: newPartner[I(i ⊕ 1)] = I(i).
            var shifted = (0..<nodes).map { partner[$0 ^ 1] }
            var doubled = ObliviousSort.composeInverse(values: partner, by: shifted)
            swap(&partner, &doubled)
            wipe(&doubled)
            wipe(&shifted)
            // Each node looks at its X-partner (the values from before this pass).
            var neighbours = (0..<nodes).map { node[$0 ^ 1] }
            adopt(&node, neighbours, w: w, flip: true)
            wipe(&neighbours)
        }

        let half = n / 2
        var flipped = pi
        for i in 0..<half {
            let first = (node[2 * i] >> UInt32(w)) & 1
            let last = (node[n + 2 * i] >> UInt32(w)) & 1
            setBit(&out, offset + i * step, first)
            setBit(&out, offset + ((w - 1) * n + i) * step, last)
            // Apply the last layer's switch to π's inputs 2i and 2i + 1.
            let mask = 0 &- last
            let difference = (flipped[2 * i] ^ flipped[2 * i + 1]) & mask
            flipped[2 * i] ^= difference
            flipped[2 * i + 1] ^= difference
        }
        wipe(&piInverse)
        wipe(&partner)
        wipe(&node)
        for k in 0..<2 {
            var sub = (0..<half).map { flipped[2 * $0 + k] >> 1 }
            recurse(sub, w: w - 1, offset: offset + step * (half + k), step: 2 * step, into: &out)
            wipe(&sub)
        }
        wipe(&flipped)
    }
}
