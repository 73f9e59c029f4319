// The additive FFT: a polynomial of degree below 128 evaluated at all 8192 elements of GF(2^13).

/// Multipoint evaluation over all of GF(2^13), bitsliced (see ``AdditiveFFTTables`` for the method).
///
/// Layout of a bitsliced array of 8192 elements: 128 vectors of 13 words; element j is lane j % 64 of
/// vector j / 64, and element j belongs to the field point bitrev13(j).
enum AdditiveFFT {
    /// Words of the scratch buffer ``evaluate(_:into:scratch:)`` and
    /// ``transposedEvaluate(_:into:scratch:)`` need.
    static let scratchWords = 128 + 7 * 13 + 2 * 6 * 13

    /// Evaluates f at every field element.
    ///
    /// - Parameters:
    ///   - coefficients: f_0 … f_127 as two vectors (lanes 0–63, then 64–127); overwritten.
    ///   - output: 128 vectors; element j receives f(bitrev13(j)).
    ///   - scratch: ``scratchWords`` words.
    static func evaluate(
        _ coefficients: UnsafeMutablePointer<UInt64>,
        into output: UnsafeMutablePointer<UInt64>,
        scratch: UnsafeMutablePointer<UInt64>
    ) {
        let tables = AdditiveFFTTables.shared
        let words = BitslicedGF.words
        let low = coefficients
        let high = coefficients + words

        // Depths 0…5: twist, then radix conversion. At depth d the 2^d polynomials are interleaved:
        // coefficient i of polynomial p is lane i·2^d + p.
        for depth in 0...5 {
            if depth > 0 {
                BitslicedGF.multiply(low, low, tables.twist128(depth: depth, half: 0))
                BitslicedGF.multiply(high, high, tables.twist128(depth: depth, half: 1))
            }
            for b in 0..<words {
                var w0 = low[b]
                var w1 = high[b]
                // One radix step on blocks [A | B | C | D] of s lanes each: C ^= D, then B ^= C.
                // s = 32 spans both words.
                w1 ^= w1 >> 32
                w0 ^= w1 << 32
                if depth <= 4 { radixStep(&w0, &w1, 16, 0xFFFF_0000_0000_0000, 0x0000_FFFF_0000_0000) }
                if depth <= 3 { radixStep(&w0, &w1, 8, 0xFF00_0000_FF00_0000, 0x00FF_0000_00FF_0000) }
                if depth <= 2 { radixStep(&w0, &w1, 4, 0xF000_F000_F000_F000, 0x0F00_0F00_0F00_0F00) }
                if depth <= 1 { radixStep(&w0, &w1, 2, 0xC0C0_C0C0_C0C0_C0C0, 0x3030_3030_3030_3030) }
                if depth == 0 { radixStep(&w0, &w1, 1, 0x8888_8888_8888_8888, 0x4444_4444_4444_4444) }
                low[b] = w0
                high[b] = w1
            }
        }

        // Depth 6: 64 linear polynomials a_p + b_p·x (a_p in lane p of `low`, b_p in lane p of
        // `high`), each evaluated at the 128 points u of the depth-6 span: a + Σ_k u_k·(b·β6_k).
        let products = scratch + 128
        for k in 0..<7 {
            BitslicedGF.multiply(products + k * words, high, tables.depth6(k))
        }
        let values = scratch
        for b in 0..<words {
            values[0] = low[b]
            for u in 1..<128 {
                // Gray-style: u differs from u & (u − 1) in its lowest set bit.
                values[u] = values[u & (u - 1)] ^ products[u.trailingZeroBitCount * words + b]
            }
            // values[u] holds point u of all 64 polynomials; make lanes index points instead.
            transpose64x64(values)
            transpose64x64(values + 64)
            // Polynomial p came out of the radix conversions in bit-reversed order: its 128 values
            // are elements 128·bitrev6(p) + u of the output.
            for p in 0..<64 {
                let block = 2 * bitReverse6(p)
                output[block * words + b] = values[p]
                output[(block + 1) * words + b] = values[64 + p]
            }
        }

        // Depths 5…0: combine the evaluations of g0 (first half of each block) and g1 (second half).
        for depth in stride(from: 5, through: 0, by: -1) {
            let half = 1 << (6 - depth)
            var start = 0
            while start < 128 {
                for k in 0..<half {
                    let e0 = output + (start + k) * words
                    let e1 = output + (start + half + k) * words
                    let product = scratch + 128
                    BitslicedGF.multiply(product, e1, tables.twiddle(depth: depth, k))
                    for b in 0..<words {
                        let sum = e0[b] ^ product[b]
                        e0[b] = sum
                        e1[b] ^= sum
                    }
                }
                start += 2 * half
            }
        }
    }

    /// Computes Σ_j c_j · P_j^i for i = 0 … 255, where P_j = bitrev13(j) is point j: the transpose of
    /// evaluating a polynomial with 256 coefficients at every point. With c_j = r_j / g(P_j)² this
    /// gives the 2t syndromes of a received word (McBits, §4).
    ///
    /// - Parameters:
    ///   - values: 128 vectors c_0 … c_8191; overwritten.
    ///   - output: four vectors; lane i of vector q receives the sum for exponent 64·q + i.
    ///   - scratch: ``scratchWords`` words.
    static func transposedEvaluate(
        _ values: UnsafeMutablePointer<UInt64>,
        into output: UnsafeMutablePointer<UInt64>,
        scratch: UnsafeMutablePointer<UInt64>
    ) {
        let tables = AdditiveFFTTables.shared
        let words = BitslicedGF.words

        // Transposed butterflies, depth 0 first. Forward: (e0, e1) ↦ (e0 + G·e1, e0 + (G + 1)·e1);
        // transposed: y0 ← y0 + y1, then y1 ← y1 + G·y0.
        for depth in 0...6 {
            let half = 1 << (6 - depth)
            var start = 0
            while start < 128 {
                for k in 0..<half {
                    let y0 = values + (start + k) * words
                    let y1 = values + (start + half + k) * words
                    for b in 0..<words { y0[b] ^= y1[b] }
                    let product = scratch + 128
                    BitslicedGF.multiply(product, y0, tables.twiddle(depth: depth, k))
                    for b in 0..<words { y1[b] ^= product[b] }
                }
                start += 2 * half
            }
        }

        // Depth 7, transposed: 128 linear polynomials, each over the 64 points of the depth-7 span.
        // Polynomial p owns block bitrev7(p) of 64 values; its constant coefficient collects the sum of
        // the block, its linear coefficient Σ_k β7_k · (sum over the points u with u_k = 1).
        let rows = scratch
        let sums = scratch + 64  // 2 halves × 6 basis elements × 13 words
        for b in 0..<words {
            for half in 0..<2 {
                for r in 0..<64 {
                    rows[r] = values[bitReverse7(64 * half + r) * words + b]
                }
                transpose64x64(rows)  // rows[u] lane r: point u of polynomial 64·half + r
                var total: UInt64 = 0
                for u in 0..<64 { total ^= rows[u] }
                output[half * words + b] = total
                for k in 0..<6 {
                    var sum: UInt64 = 0
                    for u in 0..<64 where (u >> k) & 1 == 1 { sum ^= rows[u] }
                    sums[(half * 6 + k) * words + b] = sum
                }
            }
        }
        let product = scratch + 64 + 12 * words
        for half in 0..<2 {
            let linear = output + (2 + half) * words
            for b in 0..<words { linear[b] = 0 }
            for k in 0..<6 {
                BitslicedGF.multiply(product, sums + (half * 6 + k) * words, tables.depth7(k))
                for b in 0..<words { linear[b] ^= product[b] }
            }
        }

        // Transposed radix conversions and twists, depth 6 down to 0. Each forward step C ^= D; B ^= C
        // becomes C ^= B; D ^= C, and the steps run from the smallest stride up.
        let v0 = output
        let v1 = output + words
        let v2 = output + 2 * words
        let v3 = output + 3 * words
        for depth in stride(from: 6, through: 0, by: -1) {
            for b in 0..<words {
                var w0 = v0[b], w1 = v1[b], w2 = v2[b], w3 = v3[b]
                if depth == 0 { transposedRadixStep(&w0, &w1, &w2, &w3, 1, 0x2222_2222_2222_2222, 0x4444_4444_4444_4444) }
                if depth <= 1 { transposedRadixStep(&w0, &w1, &w2, &w3, 2, 0x0C0C_0C0C_0C0C_0C0C, 0x3030_3030_3030_3030) }
                if depth <= 2 { transposedRadixStep(&w0, &w1, &w2, &w3, 4, 0x00F0_00F0_00F0_00F0, 0x0F00_0F00_0F00_0F00) }
                if depth <= 3 { transposedRadixStep(&w0, &w1, &w2, &w3, 8, 0x0000_FF00_0000_FF00, 0x00FF_0000_00FF_0000) }
                if depth <= 4 { transposedRadixStep(&w0, &w1, &w2, &w3, 16, 0x0000_0000_FFFF_0000, 0x0000_FFFF_0000_0000) }
                if depth <= 5 {
                    // s = 32: blocks of 128 lanes are the word pairs (w0, w1) and (w2, w3).
                    w1 ^= w0 >> 32
                    w1 ^= w1 << 32
                    w3 ^= w2 >> 32
                    w3 ^= w3 << 32
                }
                // s = 64: one block of 256 lanes, A = w0, B = w1, C = w2, D = w3.
                w2 ^= w1
                w3 ^= w2
                v0[b] = w0; v1[b] = w1; v2[b] = w2; v3[b] = w3
            }
            if depth > 0 {
                for quarter in 0..<4 {
                    let v = output + quarter * words
                    BitslicedGF.multiply(v, v, tables.twist256(depth: depth, quarter: quarter))
                }
            }
        }
    }

    /// One radix step inside both words: C ^= D, then B ^= C, for blocks of 4·s lanes.
    @inline(__always)
    private static func radixStep(_ w0: inout UInt64, _ w1: inout UInt64, _ s: UInt64, _ d: UInt64, _ c: UInt64) {
        w0 ^= (w0 & d) >> s
        w0 ^= (w0 & c) >> s
        w1 ^= (w1 & d) >> s
        w1 ^= (w1 & c) >> s
    }

    /// The transpose of ``radixStep``: C ^= B, then D ^= C, in all four words.
    @inline(__always)
    private static func transposedRadixStep(
        _ w0: inout UInt64, _ w1: inout UInt64, _ w2: inout UInt64, _ w3: inout UInt64,
        _ s: UInt64, _ b: UInt64, _ c: UInt64
    ) {
        w0 ^= (w0 & b) << s
        w0 ^= (w0 & c) << s
        w1 ^= (w1 & b) << s
        w1 ^= (w1 & c) << s
        w2 ^= (w2 & b) << s
        w2 ^= (w2 & c) << s
        w3 ^= (w3 & b) << s
        w3 ^= (w3 & c) << s
    }

    @inline(__always)
    private static func bitReverse6(_ x: Int) -> Int {
        var r = 0
        for i in 0..<6 { r |= ((x >> i) & 1) << (5 - i) }
        return r
    }

    @inline(__always)
    private static func bitReverse7(_ x: Int) -> Int {
        var r = 0
        for i in 0..<7 { r |= ((x >> i) & 1) << (6 - i) }
        return r
    }
}
