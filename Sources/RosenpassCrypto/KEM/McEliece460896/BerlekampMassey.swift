// Berlekamp–Massey on bitsliced vectors: the error-locator polynomial from 2t syndromes.

/// The inversion-free Berlekamp–Massey algorithm in constant time (McBits revisited, Chou 2017, §4;
/// the inversion-free form follows Xu, "Inversionless Berlekamp–Massey", IEEE 1991).
///
/// Polynomials of degree below 128 are stored in two vectors (128 lanes) **reversed**: coefficient i
/// sits in lane 127 − i. Then the discrepancy d_N = Σ_i C_i·s_(N−i) is a lane-wise product with a
/// window that holds s_(N−127+l) in lane l, summed over the lanes; and multiplying by x is a shift by
/// one lane. Each of the 2t steps does the same work whatever the data; the length L and the choice
/// of update are carried in masks.
enum BerlekampMassey {
    /// Words of the scratch buffer ``locator(syndromes:into:scratch:)`` needs.
    static let scratchWords = 12 * 13

    /// Computes σ(x) = x^t · C(1/x) for the connection polynomial C of the syndromes s_0 … s_(2t−1).
    ///
    /// For a syndrome of t errors at field points a_1 … a_t, σ is a non-zero multiple of Π (x − a_k),
    /// so its roots are the error points (an error at the point 0 shows as the root 0, because C then
    /// has degree t − 1). For other inputs σ is meaningless and the decoder's checks reject it.
    ///
    /// - Parameters:
    ///   - syndromes: vectors whose lanes hold s_0 … s_191 (lane i of vector q is s_(64q+i)).
    ///   - locator: two vectors; lane k (0 … 96) receives the coefficient of x^k of σ, other lanes 0.
    ///   - scratch: ``scratchWords`` words.
    static func locator(
        syndromes: UnsafePointer<UInt64>,
        into locator: UnsafeMutablePointer<UInt64>,
        scratch: UnsafeMutablePointer<UInt64>
    ) {
        let words = BitslicedGF.words
        let t = McEliece460896.errorCount
        // Each polynomial is two vectors: [low lanes 0–63, high lanes 64–127].
        let c = scratch                 // C, reversed
        let b = scratch + 2 * words     // x^m · B, reversed
        let window = scratch + 4 * words
        let product = scratch + 6 * words
        let bScaled = scratch + 8 * words
        let dScaled = scratch + 10 * words  // also the broadcast scalars, two vectors
        for i in 0..<(8 * words) { scratch[i] = 0 }
        c[words] = 1 << 63          // C = 1: coefficient 0 in lane 127
        b[words] = 1 << 62          // x · B with B = 1: coefficient 1 in lane 126
        var length: UInt64 = 0      // L
        var previous: UInt16 = 1    // b: the discrepancy when B was last replaced

        for n in 0..<(2 * t) {
            // Shift s_n into lane 127 of the window.
            let syndromeWord = syndromes + (n >> 6) * words
            for bit in 0..<words {
                let incoming = (syndromeWord[bit] >> UInt64(n & 63)) & 1
                window[bit] = (window[bit] >> 1) | (window[words + bit] << 63)
                window[words + bit] = (window[words + bit] >> 1) | (incoming << 63)
            }

            // d = Σ_lanes C ⊙ window.
            BitslicedGF.multiply(product, c, window)
            BitslicedGF.multiply(product + words, c + words, window + words)
            var d: UInt16 = 0
            for bit in 0..<words {
                d |= UInt16(truncatingIfNeeded: parity(product[bit] ^ product[words + bit])) << UInt16(bit)
            }

            // Replace B by C (and L by n + 1 − L) when d ≠ 0 and 2L ≤ n.
            let dNonZero = 0 &- ((UInt64(d) &+ 0xFFFF) >> 16)
            let lengthSmall = 0 &- (((UInt64(n) &- 2 &* length) >> 63) ^ 1)
            let replace = opaqueMask(dNonZero & lengthSmall)

            // C ← b·C + d·(x^m B).
            BitslicedGF.broadcast(dScaled, previous)
            BitslicedGF.multiply(bScaled, c, dScaled)
            BitslicedGF.multiply(bScaled + words, c + words, dScaled)
            BitslicedGF.broadcast(dScaled, d)
            BitslicedGF.multiply(product, b, dScaled)
            BitslicedGF.multiply(product + words, b + words, dScaled)
            for i in 0..<(2 * words) {
                let oldC = c[i]
                c[i] = bScaled[i] ^ product[i]
                // x^m B ← (replace ? C_old : x^m B), multiplied by x below.
                b[i] ^= (b[i] ^ oldC) & replace
            }
            // Multiply by x: coefficient i moves from lane 127 − i to lane 126 − i.
            for bit in 0..<words {
                b[bit] = (b[bit] >> 1) | (b[words + bit] << 63)
                b[words + bit] >>= 1
            }
            length = (length & ~replace) | ((UInt64(n) &+ 1 &- length) & replace)
            previous = (previous & ~UInt16(truncatingIfNeeded: replace)) | (d & UInt16(truncatingIfNeeded: replace))
        }

        // σ_k = C_(96−k), which sits in lane 127 − (96 − k) = 31 + k.
        for bit in 0..<words {
            locator[bit] = (c[bit] >> 31) | (c[words + bit] << 33)
            locator[words + bit] = c[words + bit] >> 31
        }
        for i in 0..<(12 * words) { scratch[i] = 0 }
    }

    /// The XOR of the 64 bits of `x`.
    @inline(__always)
    static func parity(_ x: UInt64) -> UInt64 {
        var v = x
        v ^= v >> 32
        v ^= v >> 16
        v ^= v >> 8
        v ^= v >> 4
        v ^= v >> 2
        v ^= v >> 1
        return v & 1
    }
}
