// Working memory for one Kyber operation, and the hash functions H, G and KDF of the specification.

/// The scratch memory of one Kyber-512 operation: polynomials and byte buffers carved out of one
/// temporary allocation (on the stack when it fits), wiped before it is released.
///
/// Every buffer may hold secrets (noise, messages, keys), so none is left behind: see
/// ``withKyberScratch(_:)``.
struct KyberScratch {
    /// Room for `polynomialCount` polynomials of 256 coefficients each.
    let polynomials: UnsafeMutablePointer<Int16>
    /// SHAKE256 output for one noise polynomial (192 bytes).
    let noise: UnsafeMutablePointer<UInt8>
    /// One SHAKE128 block for rejection sampling (168 bytes).
    let block: UnsafeMutablePointer<UInt8>
    /// G(d) = ρ ‖ σ in key generation (64 bytes).
    let seeds: UnsafeMutablePointer<UInt8>
    /// m ‖ H(pk), the input of G in encapsulation and decapsulation (64 bytes).
    let message: UnsafeMutablePointer<UInt8>
    /// K̄ ‖ r, the output of G; later K̄ ‖ H(c), the input of the KDF (64 bytes).
    let keyAndCoins: UnsafeMutablePointer<UInt8>
    /// The re-encrypted ciphertext in decapsulation (768 bytes).
    let ciphertext: UnsafeMutablePointer<UInt8>

    /// The number of polynomials the IND-CPA encryption needs at most (its 15, rounded up).
    static let polynomialCount = 16

    static let polynomialBytes = polynomialCount * KyberParameters.n * MemoryLayout<Int16>.stride
    static let noiseBytes = KyberParameters.noiseBytes(eta: 3)
    static let blockBytes = KyberParameters.shake128Rate
    static let totalBytes = polynomialBytes + noiseBytes + blockBytes + 3 * 64 + KyberParameters.ciphertextBytes

    /// Polynomial number `index` (0 ..< 16).
    @inline(__always)
    func poly(_ index: Int) -> KyberPoly {
        KyberPoly(polynomials + index * KyberParameters.n)
    }

    /// The vector of polynomials `index` and `index + 1`.
    @inline(__always)
    func vector(_ index: Int) -> KyberPolyVec {
        KyberPolyVec(polynomials + index * KyberParameters.n)
    }
}

/// Runs `body` with fresh scratch memory and overwrites all of it with zeros afterwards.
@inline(__always)
func withKyberScratch<R>(_ body: (KyberScratch) -> R) -> R {
    withUnsafeTemporaryAllocation(byteCount: KyberScratch.totalBytes, alignment: 16) { raw in
        defer { secureZero(raw) }
        let base = raw.baseAddress!
        var offset = 0
        func carve(_ count: Int) -> UnsafeMutablePointer<UInt8> {
            defer { offset += count }
            return (base + offset).bindMemory(to: UInt8.self, capacity: count)
        }
        let polynomials = base.bindMemory(to: Int16.self, capacity: KyberScratch.polynomialCount * KyberParameters.n)
        offset = KyberScratch.polynomialBytes
        let scratch = KyberScratch(
            polynomials: polynomials,
            noise: carve(KyberScratch.noiseBytes),
            block: carve(KyberScratch.blockBytes),
            seeds: carve(64),
            message: carve(64),
            keyAndCoins: carve(64),
            ciphertext: carve(KyberParameters.ciphertextBytes)
        )
        return body(scratch)
    }
}

/// The symmetric functions of Kyber round 3 (specification v3.02, section 1.4): H = SHA3-256,
/// G = SHA3-512, KDF = SHAKE256 with 32 bytes of output. Every state is wiped after use, since the
/// inputs are often secret (`finalize` wipes the SHA-3 states; the SHAKE state is wiped explicitly).
enum KyberHash {
    /// H(input) → 32 bytes at `output`.
    static func h(_ input: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<UInt8>) {
        var hasher = SHA3_256()
        hasher.update(UnsafeRawBufferPointer(start: input, count: count))
        hasher.finalize(into: UnsafeMutableRawBufferPointer(start: output, count: 32))  // also wipes the state
    }

    /// G(input) → 64 bytes at `output`.
    static func g(_ input: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<UInt8>) {
        var hasher = SHA3_512()
        hasher.update(UnsafeRawBufferPointer(start: input, count: count))
        hasher.finalize(into: UnsafeMutableRawBufferPointer(start: output, count: 64))  // also wipes the state
    }

    /// KDF(input) = SHAKE256(input), 32 bytes at `output`.
    static func kdf(_ input: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        var xof = SHAKE256()
        xof.absorb(UnsafeRawBufferPointer(start: input, count: count))
        xof.squeeze(into: UnsafeMutableRawBufferPointer(start: output, count: KyberParameters.sharedKeyBytes))
        xof.wipe()
    }
}
