// Encapsulation: the syndrome C0 = H·e of a fixed-weight error vector, and the session key.

/// The Niederreiter encoding and the two key derivations (Classic McEliece specification, §8.6
/// "Encoding subroutine" and §9.1 "Encapsulation"; round 3 per `docs/mceliece-round3.md` §4).
enum McElieceEncapsulation {
    /// C0 = H·e with H = [I_mt | T]: bit i is e_i XOR the parity of row i of T AND e_mt…e_(n−1).
    ///
    /// - Parameters:
    ///   - publicKey: T, 1248 rows of 420 bytes.
    ///   - error: e as 72 little-endian-ordered words (position p in bit p % 64 of word p / 64).
    ///   - syndrome: receives the 156 bytes of C0.
    static func encode(publicKey: UnsafeRawPointer, error: UnsafePointer<UInt64>, syndrome: UnsafeMutableRawPointer) {
        let rows = McEliece460896.syndromeBits
        let rowBytes = McEliece460896.publicRowBytes
        // e_mt … e_(n−1): 1248 = 19.5 words in, so shift by 32 bits while loading 53 words.
        var tail = [UInt64](repeating: 0, count: 53)
        tail.withUnsafeMutableBufferPointer { tail in
            let first = McEliece460896.syndromeBits / 64  // 19
            for j in 0..<53 {
                let low = error[first + j] >> 32
                let high = first + j + 1 < McEliece460896.codeLength / 64 ? error[first + j + 1] << 32 : 0
                tail[j] = low | high
            }
            var outputByte: UInt8 = 0
            for i in 0..<rows {
                let row = publicKey + i * rowBytes
                var acc: UInt64 = 0
                for j in 0..<52 {
                    acc ^= UInt64(littleEndian: row.loadUnaligned(fromByteOffset: 8 * j, as: UInt64.self)) & tail[j]
                }
                acc ^= UInt64(UInt32(littleEndian: row.loadUnaligned(fromByteOffset: 416, as: UInt32.self))) & tail[52]
                let bit = BerlekampMassey.parity(acc) ^ ((error[i >> 6] >> UInt64(i & 63)) & 1)
                outputByte |= UInt8(truncatingIfNeeded: bit) << UInt8(i & 7)
                if i & 7 == 7 {
                    syndrome.storeBytes(of: outputByte, toByteOffset: i >> 3, as: UInt8.self)
                    outputByte = 0
                }
            }
            for j in 0..<53 { tail[j] = 0 }
        }
    }

    /// Encapsulates: samples e, computes C0 and, for round 3, C1 = H(2, e); derives the session key
    /// H(1, e, C) where C = C0 (round 4) or C0 ‖ C1 (round 3), H being SHAKE256 cut to 32 bytes.
    static func encapsulate(
        publicKey: [UInt8],
        withConfirmation: Bool,
        using generator: inout some RandomBytesGenerator
    ) -> (ciphertext: [UInt8], sharedKey: SecretBytes) {
        let syndromeBytes = McEliece460896.syndromeBytes
        let errorBytes = McEliece460896.errorBytes
        let ciphertextCount = syndromeBytes + (withConfirmation ? McEliece460896.hashBytes : 0)
        var ciphertext = [UInt8](repeating: 0, count: ciphertextCount)
        var sharedKey = SecretBytes(zeros: McEliece460896.hashBytes)

        let error = UnsafeMutablePointer<UInt64>.allocate(capacity: errorBytes / 8)
        defer {
            secureZero(UnsafeMutableRawBufferPointer(start: error, count: errorBytes))
            error.deallocate()
        }
        FixedWeight.sample(into: error, using: &generator)
        publicKey.withUnsafeBytes { key in
            ciphertext.withUnsafeMutableBytes { out in
                encode(publicKey: key.baseAddress!, error: error, syndrome: out.baseAddress!)
            }
        }
        for w in 0..<(errorBytes / 8) { error[w] = error[w].littleEndian }
        let errorBuffer = UnsafeRawBufferPointer(start: error, count: errorBytes)

        if withConfirmation {
            var confirmation = SHAKE256()
            confirmation.absorb([2])
            confirmation.absorb(errorBuffer)
            ciphertext.withUnsafeMutableBytes { out in
                confirmation.squeeze(into: UnsafeMutableRawBufferPointer(rebasing: out[syndromeBytes...]))
            }
            confirmation.wipe()
        }
        var keyHash = SHAKE256()
        keyHash.absorb([1])
        keyHash.absorb(errorBuffer)
        keyHash.absorb(ciphertext)
        sharedKey.withUnsafeMutableBytes { keyHash.squeeze(into: $0) }
        keyHash.wipe()
        return (ciphertext, sharedKey)
    }
}
