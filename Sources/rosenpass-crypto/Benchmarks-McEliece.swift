// Benchmarks of the mceliece family for `rosenpass-crypto bench`, and the McEliece KEMs of
// `rosenpass-crypto kem`.

import RosenpassCrypto

/// The seed of the key-generation benchmarks. Key generation retries until the parity-check matrix has
/// a systematic form (about 3.5 attempts on average), so a random seed makes the figure jump; this
/// fixed seed takes 3 attempts in both variants, and `scripts/bench/reference_mceliece.py` hands the
/// same seed to the C code.
let mcelieceBenchmarkSeed: [UInt8] = Array("swift-rosenpass mceliece bench!!".utf8)

/// The mceliece benchmarks: key generation from ``mcelieceBenchmarkSeed``, encapsulation with system
/// randomness, and decapsulation of a valid ciphertext, for both formats.
var mcelieceBenchmarks: [Benchmark] {
    func family<KEM: KeyEncapsulationMechanism>(
        _ kem: KEM.Type,
        keygen: @escaping (SecretBytes) throws -> (publicKey: [UInt8], secretKey: SecretBytes)
    ) -> [Benchmark] {
        [
            Benchmark(name: "\(kem.name) keygen", bytesPerOperation: 0) {
                let seed = SecretBytes(mcelieceBenchmarkSeed)
                return { n in
                    for _ in 0..<n { blackHole(try! keygen(seed)) }
                }
            },
            Benchmark(name: "\(kem.name) encaps", bytesPerOperation: 0) {
                let (publicKey, _) = try! keygen(SecretBytes(mcelieceBenchmarkSeed))
                return { n in
                    for _ in 0..<n { blackHole(try! kem.encapsulate(publicKey: publicKey)) }
                }
            },
            Benchmark(name: "\(kem.name) decaps", bytesPerOperation: 0) {
                let (publicKey, secretKey) = try! keygen(SecretBytes(mcelieceBenchmarkSeed))
                let (ciphertext, _) = try! kem.encapsulate(publicKey: publicKey)
                return { n in
                    for _ in 0..<n { blackHole(try! kem.decapsulate(secretKey: secretKey, ciphertext: ciphertext)) }
                }
            },
        ]
    }
    return family(ClassicMcEliece460896.self) { try ClassicMcEliece460896.generateKeyPair(seed: $0) }
        + family(ClassicMcEliece460896Round4.self) { try ClassicMcEliece460896Round4.generateKeyPair(seed: $0) }
}

/// The McEliece KEMs known to `rosenpass-crypto kem`; round 3 (the deployed format) comes first and is
/// the default.
let mcelieceAlgorithms: [(name: String, kem: any KeyEncapsulationMechanism.Type)] = [
    (ClassicMcEliece460896.name, ClassicMcEliece460896.self),
    (ClassicMcEliece460896Round4.name, ClassicMcEliece460896Round4.self),
]
