// Benchmarks of the mceliece family for `rosenpass-crypto bench`, and the McEliece KEMs of
// `rosenpass-crypto kem`.

import RosenpassCrypto

/// The seeds of the key-generation benchmarks. Key generation retries until the parity-check matrix has
/// a systematic form (about 3.5 attempts on average), so a random seed makes the figure jump by whole
/// attempts; these fixed seeds take 3 attempts each, and `scripts/bench/reference_mceliece.py` makes
/// the C and Rust references start from the same seeds, so both sides do the same work.
enum McElieceBenchmarkSeeds {
    /// Round 3 (format A): σ, which pqcrypto 0.1.3 receives through its randombytes.
    static let round3: [UInt8] = Array("swift-rosenpass mceliece bench!4".utf8)
    /// Round 4: δ = the first 32 bytes of the NIST CTR_DRBG seeded with
    /// SHAKE256("swift-rosenpass mceliece460896-r4 bench 6", 48 bytes), which is the δ pqcrypto 1.0.0
    /// derives from those 48 bytes of entropy.
    static let round4: [UInt8] = hexBytes("555a9e5e3a24651aeaf7674e1179307ed9e3ee05e12d1250784b57faaaefa279")

    private static func hexBytes(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8).map { $0 <= 57 ? $0 - 48 : $0 - 87 }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}

/// The mceliece benchmarks: key generation from ``McElieceBenchmarkSeeds``, encapsulation with system
/// randomness, and decapsulation of a valid ciphertext, for both formats.
var mcelieceBenchmarks: [Benchmark] {
    func family<KEM: KeyEncapsulationMechanism>(
        _ kem: KEM.Type,
        seed: [UInt8],
        keygen: @escaping (SecretBytes) throws -> (publicKey: [UInt8], secretKey: SecretBytes)
    ) -> [Benchmark] {
        [
            Benchmark(name: "\(kem.name) keygen", bytesPerOperation: 0) {
                let seed = SecretBytes(seed)
                return { n in
                    for _ in 0..<n { blackHole(try! keygen(seed)) }
                }
            },
            Benchmark(name: "\(kem.name) encaps", bytesPerOperation: 0) {
                let (publicKey, _) = try! keygen(SecretBytes(seed))
                return { n in
                    for _ in 0..<n { blackHole(try! kem.encapsulate(publicKey: publicKey)) }
                }
            },
            Benchmark(name: "\(kem.name) decaps", bytesPerOperation: 0) {
                let (publicKey, secretKey) = try! keygen(SecretBytes(seed))
                let (ciphertext, _) = try! kem.encapsulate(publicKey: publicKey)
                return { n in
                    for _ in 0..<n { blackHole(try! kem.decapsulate(secretKey: secretKey, ciphertext: ciphertext)) }
                }
            },
        ]
    }
    return family(ClassicMcEliece460896.self, seed: McElieceBenchmarkSeeds.round3) {
        try ClassicMcEliece460896.generateKeyPair(seed: $0)
    } + family(ClassicMcEliece460896Round4.self, seed: McElieceBenchmarkSeeds.round4) {
        try ClassicMcEliece460896Round4.generateKeyPair(seed: $0)
    }
}

/// The McEliece KEMs known to `rosenpass-crypto kem`; round 3 (the deployed format) comes first and is
/// the default.
let mcelieceAlgorithms: [(name: String, kem: any KeyEncapsulationMechanism.Type)] = [
    (ClassicMcEliece460896.name, ClassicMcEliece460896.self),
    (ClassicMcEliece460896Round4.name, ClassicMcEliece460896Round4.self),
]
