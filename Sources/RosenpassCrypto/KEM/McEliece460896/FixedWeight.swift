// FixedWeight: a uniformly random error vector of weight t, by rejection sampling.

/// The error vector of encapsulation (Classic McEliece specification, §8.4 "FixedWeight", with
/// τ = 2t; byte consumption as in the liboqs/PQClean code, `docs/mceliece-round3.md` §2).
///
/// One attempt draws 384 bytes, reads them as 192 little-endian 16-bit words masked to 13 bits, and
/// takes the first t words below n as the error positions; it is rejected when fewer than t words are
/// below n or when two of the first t coincide. Both variants use this sampler.
///
/// Only whether an attempt is rejected is visible in the timing: the positions are set with masks over
/// every word of e, and a repeated position is detected by the weight of the result (t distinct
/// positions give weight t, a repeat gives less), so no comparison between positions is branched on.
enum FixedWeight {
    /// Draws e into `error` (72 words, position p in bit p % 64 of word p / 64).
    static func sample(into error: UnsafeMutablePointer<UInt64>, using generator: inout some RandomBytesGenerator) {
        let drawBytes = McEliece460896.fixedWeightDrawBytes
        let words = McEliece460896.codeLength / 64
        let draw = UnsafeMutableRawBufferPointer.allocate(byteCount: drawBytes, alignment: 8)
        defer {
            secureZero(draw)
            draw.deallocate()
        }
        var attempts = 0
        while true {
            // A working generator is rejected with probability about 0.63 per attempt; thousands of
            // rejections in a row mean it is broken (for example, it returns constant bytes).
            attempts += 1
            precondition(attempts <= 10_000, "FixedWeight: the random generator keeps producing unusable bytes")
            generator.fill(draw)
            for w in 0..<words { error[w] = 0 }
            var taken: Int = 0
            for i in 0..<(drawBytes / 2) {
                let position = Int(UInt16(littleEndian: draw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & GF13.mask)
                // Masks: the word is a position (below n), and fewer than t positions came before it.
                let inRange = UInt64(bitPattern: Int64(position - McEliece460896.codeLength) >> 63)
                let wanted = UInt64(bitPattern: Int64(taken - McEliece460896.errorCount) >> 63)
                let take = opaqueMask(inRange & wanted)
                taken &+= Int(take & 1)
                let bit = (UInt64(1) << UInt64(position & 63)) & take
                let wordIndex = position >> 6
                for w in 0..<words {
                    let sameWord = UInt64(bitPattern: Int64(((w ^ wordIndex) - 1)) >> 63)
                    error[w] |= bit & sameWord
                }
            }
            var weight = 0
            for w in 0..<words { weight &+= error[w].nonzeroBitCount }
            // Accept when t positions were taken and all were distinct.
            if weight == McEliece460896.errorCount { return }
        }
    }
}
