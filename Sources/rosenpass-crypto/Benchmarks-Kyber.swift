// Benchmarks of the kyber family for `rosenpass-crypto bench`, and the Kyber KEMs of `rosenpass-crypto kem`.

import RosenpassCrypto

/// The kyber benchmarks: key generation, encapsulation and decapsulation of Kyber-512 (round 3), each
/// with fresh system randomness where the operation takes any, as a caller would run them.
var kyberBenchmarks: [Benchmark] {
    [
        Benchmark(name: "kyber512 keygen", bytesPerOperation: 0) {
            { n in
                for _ in 0..<n { blackHole(Kyber512.generateKeyPair()) }
            }
        },
        Benchmark(name: "kyber512 encaps", bytesPerOperation: 0) {
            let (publicKey, _) = Kyber512.generateKeyPair()
            return { n in
                for _ in 0..<n { blackHole(try! Kyber512.encapsulate(publicKey: publicKey)) }
            }
        },
        Benchmark(name: "kyber512 decaps", bytesPerOperation: 0) {
            let (publicKey, secretKey) = Kyber512.generateKeyPair()
            let (ciphertext, _) = try! Kyber512.encapsulate(publicKey: publicKey)
            return { n in
                for _ in 0..<n { blackHole(try! Kyber512.decapsulate(secretKey: secretKey, ciphertext: ciphertext)) }
            }
        },
    ]
}

/// The Kyber KEMs known to `rosenpass-crypto kem`.
let kyberAlgorithms: [(name: String, kem: any KeyEncapsulationMechanism.Type)] = [
    (Kyber512.name, Kyber512.self)
]
