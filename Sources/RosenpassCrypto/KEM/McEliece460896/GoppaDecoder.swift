// Decoding a syndrome C0 to the error vector e: the core of decapsulation.

/// The constant-time Goppa decoder (Classic McEliece specification, §8.5 "Decoding subroutine";
/// the method of McBits, Bernstein–Chou–Schwabe 2013, and Chou 2017).
///
/// 1. Put C0 in the first mt positions of an n-bit word v and move position i to the support point
///    α_i through the inverse Beneš network.
/// 2. Evaluate g at all 8192 points with the additive FFT and compute 1/g(α)² by batch inversion.
/// 3. Syndromes s_j = Σ v_i·α_i^j / g(α_i)², j < 2t, with the transposed FFT.
/// 4. Berlekamp–Massey gives the locator σ; the FFT evaluates it everywhere; its roots are the errors.
/// 5. Re-encode: the syndrome of the found errors must equal that of v, and there must be exactly t of
///    them, all inside the support. Then map the errors back to positions through the Beneš network.
///
/// Every step runs the same instructions on the same addresses whatever the key and the ciphertext.
enum GoppaDecoder {
    private static let words = BitslicedGF.words

    // Workspace layout, in words.
    private static let receivedOffset = 0                               // 128 words
    private static let inverseOffset = 128                              // 128 vectors
    private static let workOffset = inverseOffset + 128 * 13            // 128 vectors
    private static let syndromeOffset = workOffset + 128 * 13           // 4 vectors
    private static let checkOffset = syndromeOffset + 4 * 13            // 4 vectors
    private static let polynomialOffset = checkOffset + 4 * 13          // 2 vectors
    private static let errorOffset = polynomialOffset + 2 * 13          // 128 words
    private static let scratchOffset = errorOffset + 128
    /// Words of the workspace ``decode(syndrome:goppa:controlBits:error:workspace:)`` needs.
    static let workspaceWords = scratchOffset + max(AdditiveFFT.scratchWords, BerlekampMassey.scratchWords)

    /// Decodes `syndrome` (C0, 156 bytes) with the Goppa polynomial and control bits of a secret key.
    ///
    /// - Parameters:
    ///   - syndrome: C0.
    ///   - goppa: the 192 bytes of g_0 … g_95 (little-endian, 13 bits used; g_96 = 1).
    ///   - controlBits: the 12800 bytes of Beneš control bits.
    ///   - error: receives the 576 bytes of the decoded error vector (meaningless on failure).
    ///   - workspace: ``workspaceWords`` words; left zeroed.
    /// - Returns: 1 when e has weight t and reproduces C0, else 0 (computed without branches).
    static func decode(
        syndrome: UnsafeRawPointer,
        goppa: UnsafeRawPointer,
        controlBits: UnsafeRawPointer,
        error: UnsafeMutableRawPointer,
        workspace: UnsafeMutablePointer<UInt64>
    ) -> UInt8 {
        let received = workspace + receivedOffset
        let inverse = workspace + inverseOffset
        let work = workspace + workOffset
        let syndromes = workspace + syndromeOffset
        let check = workspace + checkOffset
        let polynomial = workspace + polynomialOffset
        let errors = workspace + errorOffset
        let scratch = workspace + scratchOffset

        // v = (C0, 0, …, 0), then position i → index π(i), which stands for the point α_i.
        for w in 0..<128 { received[w] = 0 }
        UnsafeMutableRawPointer(received).copyMemory(from: syndrome, byteCount: McEliece460896.syndromeBytes)
        for w in 0..<128 { received[w] = UInt64(littleEndian: received[w]) }
        BenesNetwork.apply(received, controlBits: controlBits, inverse: true)

        // g at every point, then 1/g² by batch inversion (Montgomery's trick, lane by lane).
        loadGoppaPolynomial(goppa, into: polynomial)
        AdditiveFFT.evaluate(polynomial, into: work, scratch: scratch)
        for v in 0..<128 {
            BitslicedGF.square(work + v * words, work + v * words)
        }
        for b in 0..<words { inverse[b] = work[b] }
        for v in 1..<128 {
            BitslicedGF.multiply(inverse + v * words, inverse + (v - 1) * words, work + v * words)
        }
        let running = scratch
        BitslicedGF.invert(running, inverse + 127 * words)
        for v in stride(from: 127, through: 1, by: -1) {
            BitslicedGF.multiply(inverse + v * words, running, inverse + (v - 1) * words)
            BitslicedGF.multiply(running, running, work + v * words)
        }
        for b in 0..<words { inverse[b] = running[b] }

        // Syndromes of v.
        mask(inverse, by: received, into: work)
        AdditiveFFT.transposedEvaluate(work, into: syndromes, scratch: scratch)

        // Locator, and its roots everywhere.
        BerlekampMassey.locator(syndromes: syndromes, into: polynomial, scratch: scratch)
        AdditiveFFT.evaluate(polynomial, into: work, scratch: scratch)
        for v in 0..<128 {
            var any: UInt64 = 0
            for b in 0..<words { any |= work[v * words + b] }
            errors[v] = ~any
        }

        // Re-encode: the syndrome of the errors must be that of v (the first 2t sums).
        mask(inverse, by: errors, into: work)
        AdditiveFFT.transposedEvaluate(work, into: check, scratch: scratch)
        var difference: UInt64 = 0
        for i in 0..<(3 * words) { difference |= syndromes[i] ^ check[i] }

        // Weight t over all points, and still t once mapped back to the n support positions.
        var weightAll = 0
        for w in 0..<128 { weightAll &+= errors[w].nonzeroBitCount }
        BenesNetwork.apply(errors, controlBits: controlBits, inverse: false)
        var weightSupport = 0
        for w in 0..<(McEliece460896.codeLength / 64) { weightSupport &+= errors[w].nonzeroBitCount }

        for w in 0..<(McEliece460896.codeLength / 64) { errors[w] = errors[w].littleEndian }
        error.copyMemory(from: UnsafeRawPointer(errors), byteCount: McEliece460896.errorBytes)

        let t = McEliece460896.errorCount
        let bad = UInt64(truncatingIfNeeded: weightAll ^ t) | UInt64(truncatingIfNeeded: weightSupport ^ t)
            | ((difference | (0 &- difference)) >> 63)
        // bad == 0 exactly on success.
        let success = ((bad | (0 &- bad)) >> 63) ^ 1

        for i in 0..<workspaceWords { workspace[i] = 0 }
        return UInt8(truncatingIfNeeded: success)
    }

    /// Loads g_0 … g_95 from the key (13 bits of each little-endian word) and g_96 = 1 into two vectors.
    private static func loadGoppaPolynomial(_ goppa: UnsafeRawPointer, into polynomial: UnsafeMutablePointer<UInt64>) {
        for i in 0..<(2 * words) { polynomial[i] = 0 }
        for i in 0..<McEliece460896.errorCount {
            let coefficient = UInt16(littleEndian: goppa.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & GF13.mask
            let vector = polynomial + (i >> 6) * words
            for b in 0..<words {
                vector[b] |= UInt64((coefficient >> UInt16(b)) & 1) << UInt64(i & 63)
            }
        }
        polynomial[words] |= 1 << UInt64(McEliece460896.errorCount - 64)
    }

    /// out[v] = values[v] with the lanes whose bit in `selection[v]` is 0 cleared.
    @inline(__always)
    private static func mask(
        _ values: UnsafePointer<UInt64>, by selection: UnsafePointer<UInt64>, into out: UnsafeMutablePointer<UInt64>
    ) {
        for v in 0..<128 {
            let m = selection[v]
            for b in 0..<words { out[v * words + b] = values[v * words + b] & m }
        }
    }
}
